"""``optarena perf check``: on this device, every elementwise optimizer's fused step computes its eager step.

The fused step (``ArenaOptimizer.fuse()``, optim/base.py) is one compiled graph per parameter group:
inductor's C++ kernels on CPU, Triton's on a GPU. The test suite checks it on CPU; this runs the same
comparison on any device, so a new GPU, driver or torch build is checked before it trains:

* each optimizer steps the same parameters and gradients eagerly and fused, ``steps`` steps with a
  new LR each (as under a schedule), from one seed; shapes around kernel block sizes (odd lengths, a
  0-d tensor, a few hundred thousand elements);
* the parameters and every state tensor must agree to ``rtol``/``atol`` (float64 by default, where
  only reassociation separates the two; float32 with its own tolerances);
* the fused step must compile its graph at the first step and never again as the LR and step change.

Exit status 0 when every optimizer passes, 1 when one does not (each failure printed), 2 for a bad
argument.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from optarena import optim
from optarena._torch import resolve_device
from optarena.optim.base import ArenaOptimizer

# Odd lengths around Triton's and the CPU kernels' block sizes, repeated shapes, a 0-d and a one-element
# tensor, and one large enough for several blocks per program.
SHAPES: tuple[tuple[int, ...], ...] = ((37, 29), (29,), (4, 5, 7), (300,), (1,), (64, 16), (64, 16), (128,), (),
                                       (1024, 257), (129, 1000))
TOLERANCES = {torch.float64: (1e-10, 1e-12), torch.float32: (1e-4, 1e-6)}  # (rtol, atol)
TOTAL_STEPS = 50  # the run length handed to the log-time methods
# AdEMAMix with its warm-ups, whose β3 and α schedules read the step (a recompile would show)
EXTRA = {"ademamix": {"alpha_warmup": 3, "beta3_warmup": 3}}


@dataclass(frozen=True)
class CheckRow:
    name: str
    ok: bool
    max_abs: float  # the largest |fused - eager| over parameters and state
    max_rel: float  # the largest |fused - eager| / (|eager| + atol / rtol): <= rtol passes
    graphs: tuple[int, ...]  # dynamo's compiled-graph count after each fused step (this optimizer's)
    seconds: float  # both trajectories, compilation included
    note: str = ""


def fusable() -> list[str]:
    """The registry optimizers with a fused step (elementwise ArenaOptimizers: not Muon's scope "list")."""
    return [n for n in optim.names() if issubclass(optim.get_spec(n).resolve(), ArenaOptimizer) and n != "muon"]


def run_check(names: Sequence[str] = (), device: str = "auto", dtype: torch.dtype = torch.float64, steps: int = 5,
              say: Callable[[str], None] = lambda _: None) -> list[CheckRow]:
    every = fusable()
    unknown = [n for n in names if n not in every]
    if unknown:
        raise ValueError(f"no fused step for {', '.join(unknown)} (optimizers with one: {', '.join(every)})")
    if steps < 2:
        raise ValueError(f"--steps must be >= 2 (a recompile shows at the second step), got {steps}")
    dev = resolve_device(device, setting="--device")
    rows = []
    for i, name in enumerate(names or every, 1):
        say(f"[{i}/{len(names or every)}] {name} on {dev}, {str(dtype).removeprefix('torch.')}, {steps} steps")
        rows.append(check_one(name, dev, dtype, steps))
    return rows


def check_one(name: str, device: torch.device, dtype: torch.dtype, steps: int) -> CheckRow:
    from torch._dynamo.utils import counters

    rtol, atol = TOLERANCES[dtype]
    t0 = time.perf_counter()
    eager, _ = _trajectory(name, device, dtype, steps, fused=False)
    base = counters["stats"]["unique_graphs"]
    try:
        fused, after = _trajectory(name, device, dtype, steps, fused=True)
    except Exception as e:  # a backend that cannot compile it: a failed check, not a crash of the rest
        return CheckRow(name, False, float("nan"), float("nan"), (), time.perf_counter() - t0,
                        f"fused step failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    graphs = tuple(n - base for n in after)
    max_abs = max_rel = 0.0
    for x, y in zip(eager, fused):
        diff = (y.double() - x.double()).abs()
        if diff.numel():
            max_abs = max(max_abs, float(diff.max()))
            max_rel = max(max_rel, float((diff / (x.double().abs() + atol / rtol)).max()))
    notes = []
    if max_rel > rtol or not all(torch.isfinite(t).all() for t in fused):
        notes.append(f"differs: max |Δ| {max_abs:.3g}, relative {max_rel:.3g} > rtol {rtol:g}")
    if not graphs or graphs[0] < 1:
        notes.append("no graph compiled: the fused path did not run")
    elif any(g != graphs[0] for g in graphs[1:]):
        notes.append(f"recompiled: graphs after each step {list(graphs)}")
    return CheckRow(name, not notes, max_abs, max_rel, graphs, time.perf_counter() - t0, "; ".join(notes))


def _trajectory(name: str, device: torch.device, dtype: torch.dtype, steps: int, fused: bool
                ) -> tuple[list[torch.Tensor], list[int]]:
    """Parameters and state tensors after ``steps`` steps (the same numbers for both paths: drawn on the
    CPU from fixed seeds, then moved), and the compiled-graph count after each step."""
    from torch._dynamo.utils import counters

    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen, dtype=dtype).to(device).requires_grad_() for s in SHAPES]
    accepted = optim.accepted_hyperparameters(optim.get_spec(name).resolve())
    kw = dict(EXTRA.get(name, {}))
    if "total_steps" in accepted:
        kw["total_steps"] = TOTAL_STEPS
    if "weight_decay" in accepted and name != "ademamix-logtime":
        kw["weight_decay"] = 0.1
    opt = optim.create(name, params, lr=1e-2, **kw)
    if fused:
        opt.fuse()
    graphs = []
    for t in range(steps):
        g = torch.Generator().manual_seed(100 + t)
        for p in params:
            p.grad = torch.randn(p.shape, generator=g, dtype=dtype).to(device)
        for group in opt.param_groups:
            group["lr"] = 1e-2 * (1 + t) / steps
        opt.step()
        graphs.append(counters["stats"]["unique_graphs"])
    state = [v for p in params for v in opt.state[p].values() if torch.is_tensor(v) and v.is_floating_point()]
    return [p.detach().cpu() for p in params] + [v.detach().cpu() for v in state], graphs


def check_table(rows: Sequence[CheckRow]) -> str:
    from optarena._text import markdown_table

    body = [(f"`{r.name}`", "ok" if r.ok else "**FAIL**", f"{r.max_abs:.2g}", f"{r.max_rel:.2g}",
             ", ".join(map(str, r.graphs)) or "—", f"{r.seconds:.1f}", r.note) for r in rows]
    return markdown_table(("optimizer", "fused = eager", "max |Δ|", "max rel", "graphs after each step", "s",
                           "note"), body)
