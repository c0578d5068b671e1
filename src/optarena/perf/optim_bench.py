"""``optarena perf optim``: step time and state memory of every optimizer on one model's parameters.

For every registry optimizer (and, when installed, pytorch_optimizer's and heavyball's version of the
same algorithm), on the parameters of a preset model with fixed random gradients:

* it is stepped once and must change the parameters, else it is reported and not timed;
* its step is timed against the reference AdamW in interleaved rounds (best of N each), so that each
  ratio is taken under the same minutes of machine load; the LR changes every step, as under a schedule;
* its state memory is the bytes of its state tensors, beside the reference's (2 buffers per parameter);
* its floor is the bytes a step must move (read p, g and the state, write p and the state) over the
  measured copy bandwidth: "× floor" says how far the step is from memory-bound.

The reference is torch's fused AdamW, on CPU as on CUDA: the fastest thing torch ships, which the
speed targets are stated against (on a torch without a fused CPU AdamW, the faster of its foreach and
for-loop paths); torch's other AdamW paths are rows of the table. A fused optarena row also reports
its first step's time, which holds the compilation. Only one candidate's
state is alive at a time beside the reference's, so the 134M preset fits in a few GB.
"""

from __future__ import annotations

import gc
import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from optarena import optim
from optarena._torch import resolve_device, tensor_bytes
from optarena.model import Transformer, get_preset
from optarena.optim.base import ArenaOptimizer
from optarena.perf.timing import best_times, copy_bandwidth, sync

RUN_LENGTH = 10_000  # total_steps handed to the log-time methods, which need the run length

# registry name -> (package, class, settings) of the same algorithm elsewhere, timed when installed.
# Muon goes to pytorch_optimizer with our groups' use_muon routing; heavyball's MuonAdamW routes by
# shape (embeddings through Newton–Schulz), a different algorithm, so it is left out.
EXTERNAL: dict[str, tuple[tuple[str, str, dict], ...]] = {
    "lion": (("pytorch_optimizer", "Lion", {}),),
    "grams": (("pytorch_optimizer", "Grams", {}),),
    "ademamix": (("pytorch_optimizer", "AdEMAMix", {}), ("heavyball", "AdEMAMix", {})),
    "cautious-adamw": (("heavyball", "AdamW", {"caution": True}),),
    "muon": (("pytorch_optimizer", "Muon", {}),),
}


@dataclass(frozen=True)
class OptimBenchConfig:
    model: str = "134m"
    device: str = "auto"  # "auto": cuda when available, else cpu
    optimizers: tuple[str, ...] = ()  # registry names; empty: all of optim.names()
    rounds: int = 10  # interleaved timing rounds per candidate (best of)
    clock: str = "wall"  # or "cpu": the process's CPU time (see optarena.perf.timing)
    lr: float = 1e-3
    fused: bool = False  # also time each ArenaOptimizer with fuse() (its fused step)
    bf16_state: bool = False  # also time each ArenaOptimizer with state_dtype="bfloat16"
    external: bool = True  # pytorch_optimizer / heavyball versions, where installed
    seed: int = 0


@dataclass
class OptimRow:
    name: str  # registry name, or "adamw" for torch's own paths
    impl: str  # "optarena", "optarena fused", "torch for-loop", "pytorch_optimizer", ...
    step_ms: float | None = None
    ratio: float | None = None  # step time / the reference's, timed in the same rounds
    state_mb: float | None = None
    state_ratio: float | None = None  # state bytes / the reference's
    floor_ratio: float | None = None  # step time / (bytes moved / copy bandwidth)
    first_step_s: float | None = None  # the first step's wall time (compilation, lazy state)
    note: str = ""


@dataclass(frozen=True)
class Candidate:
    name: str
    impl: str
    build: Callable[[nn.Module], torch.optim.Optimizer]


@dataclass
class OptimBench:
    """What a run measured: the rows and the context needed to read them."""

    config: OptimBenchConfig
    device: str
    num_params: int
    reference: str
    copy_gbps: float
    rows: list[OptimRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_optim_bench(cfg: OptimBenchConfig, progress: Callable[[str], None] = lambda _: None) -> OptimBench:
    device = resolve_device(cfg.device, setting="--device")
    torch.manual_seed(cfg.seed)
    model = Transformer(get_preset(cfg.model)).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = [torch.randn_like(p) * 1e-3 for p in params]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    p_bytes = sum(p.numel() * p.element_size() for p in params)
    # a copy well beyond the caches, for DRAM (or HBM) bandwidth, yet not much beyond the model
    bandwidth = copy_bandwidth(device, min(1 << 28, max(1 << 26, 4 * p_bytes)), clock=cfg.clock)
    bench = OptimBench(cfg, str(device), sum(p.numel() for p in params), "", bandwidth / 1e9)
    stepper = Stepper(params, grads, device, cfg.rounds, cfg.clock)
    ref_candidate, others = _torch_adamw(cfg, model, stepper, bench)
    reference = ref_candidate.build(model)
    stepper.step(reference)
    ref_state = tensor_bytes(reference.state)
    bench.reference = f"torch AdamW {ref_candidate.impl.removeprefix('torch ')}"
    names = cfg.optimizers or tuple(optim.names())
    for candidate in others + _candidates(cfg, names, bench.notes):
        progress(f"{candidate.name} ({candidate.impl})")
        bench.rows.append(_measure(candidate, model, reference, ref_state, stepper, bench.copy_gbps))
    bench.rows.insert(0, OptimRow("adamw", ref_candidate.impl, stepper.ref_ms, 1.0, ref_state / 2**20, 1.0,
                                  _floor_ratio(stepper.ref_ms, params, ref_state, bench.copy_gbps),
                                  note="reference"))
    return bench


class Stepper:
    """Steps optimizers on shared parameters: gradients restored before each step (an outside optimizer
    may modify them), the LR changed every step; times candidates against the reference."""

    def __init__(self, params: list[torch.Tensor], grads: list[torch.Tensor], device: torch.device,
                 rounds: int, clock: str) -> None:
        self.params, self.grads, self.device, self.rounds, self.clock = params, grads, device, rounds, clock
        self.count = 0
        self.ref_ms = math.inf  # the reference's best over every round of the run

    def restore_grads(self) -> None:
        for p, g in zip(self.params, self.grads):
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.copy_(g)

    def step(self, opt: torch.optim.Optimizer) -> None:
        self.count += 1
        factor = 1.0 + 0.01 * (self.count % 7)  # a new LR each step: fused paths must not recompile
        for group in opt.param_groups:
            group.setdefault("_bench_lr", group["lr"])
            group["lr"] = group["_bench_lr"] * factor
        opt.step()

    def changes_params(self, opt: torch.optim.Optimizer) -> tuple[bool, float]:
        """(whether one step changes the parameters, that first step's wall time in s)."""
        before = [p.detach().clone() for p in self.params]
        self.restore_grads()
        sync(self.device)
        start = time.perf_counter()
        self.step(opt)
        sync(self.device)
        seconds = time.perf_counter() - start
        return any(not torch.equal(a, p) for a, p in zip(before, self.params)), seconds

    def time_against(self, reference: torch.optim.Optimizer, opt: torch.optim.Optimizer) -> tuple[float, float]:
        """(reference ms, candidate ms), best of interleaved rounds."""
        t = best_times({"ref": lambda: self.step(reference), "cand": lambda: self.step(opt)},
                       self.rounds, self.device, before=self.restore_grads, clock=self.clock)
        ref_ms, cand_ms = 1e3 * t["ref"], 1e3 * t["cand"]
        self.ref_ms = min(self.ref_ms, ref_ms)
        return ref_ms, cand_ms


def _torch_adamw(cfg: OptimBenchConfig, model: nn.Module, stepper: Stepper, bench: OptimBench
                 ) -> tuple[Candidate, list[Candidate]]:
    """(the reference, torch's other AdamW paths): fused, else the faster of foreach and for-loop."""
    def adamw(impl: str, **kw: bool) -> Candidate:
        return Candidate("adamw", f"torch {impl}",
                         lambda model: torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.1, **kw))

    loop, foreach = adamw("for-loop", foreach=False), adamw("foreach", foreach=True)
    fused = adamw("fused", fused=True)
    try:
        stepper.step(fused.build(model))
        return fused, [foreach, loop]
    except RuntimeError as e:  # a torch without fused AdamW on this device
        bench.notes.append(f"torch's fused AdamW does not run here ({str(e).splitlines()[0][:100]}): "
                           "the reference is its faster unfused path")
    opts = {c.impl: c.build(model) for c in (loop, foreach)}
    for opt in opts.values():
        stepper.step(opt)
    t = best_times({k: (lambda o=o: stepper.step(o)) for k, o in opts.items()}, max(3, cfg.rounds // 2),
                   stepper.device, before=stepper.restore_grads, clock=cfg.clock)
    del opts
    gc.collect()
    bench.notes.append("CPU reference: the faster of torch AdamW's paths in a first timing: "
                       + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in t.items()))
    faster, slower = (loop, foreach) if t[loop.impl] <= t[foreach.impl] else (foreach, loop)
    return faster, [slower]


def _candidates(cfg: OptimBenchConfig, names: tuple[str, ...], notes: list[str]) -> list[Candidate]:
    out: list[Candidate] = []
    missing: dict[str, list[str]] = {}  # package -> names whose version in it is not timed
    for name in names:
        cls = optim.get_spec(name).resolve()
        ours = issubclass(cls, ArenaOptimizer)
        out.append(Candidate(name, "optarena" if ours else f"{cls.__module__.split('.')[0]} (registry)",
                             _registry_builder(name, cfg.lr)))
        if cfg.fused and ours:
            out.append(Candidate(name, "optarena fused",
                                 lambda model, n=name: _registry_builder(n, cfg.lr)(model).fuse()))
        if cfg.bf16_state and ours:
            out.append(Candidate(name, "optarena bf16 state", _registry_builder(name, cfg.lr, state_dtype="bfloat16")))
        if cfg.bf16_state and cfg.fused and ours:
            out.append(Candidate(name, "optarena fused bf16 state", lambda model, n=name: _registry_builder(
                n, cfg.lr, state_dtype="bfloat16")(model).fuse()))
        if name == "muon" and ours:
            out += _muon_matrices_only(cfg, notes)
        for package, cls_name, settings in EXTERNAL.get(name, ()) if cfg.external else ():
            try:
                ext = getattr(importlib.import_module(package), cls_name)
            except ImportError:
                missing.setdefault(package, []).append(name)
                continue
            out.append(Candidate(name, package, lambda model, c=ext, n=name, s=settings:
                                 c(_external_params(n, model), lr=cfg.lr, **s)))
    notes += [f"{package} is not installed: its {', '.join(ns)} not timed" for package, ns in missing.items()]
    return out


def _muon_matrices_only(cfg: OptimBenchConfig, notes: list[str]) -> list[Candidate]:
    """Our Muon and torch.optim.Muon on the same matrices (the ones our Muon routes to Newton–Schulz),
    so that their two rows compare the Muon update alone."""
    def matrices(model: nn.Module) -> list[torch.Tensor]:
        return [p for g in optim.create("muon", model).param_groups if g["use_muon"] for p in g["params"]]

    ours = Candidate("muon", "optarena, Muon's matrices only", lambda model: optim.create(
        "muon", [{"params": matrices(model), "use_muon": True}], lr=cfg.lr))
    if not hasattr(torch.optim, "Muon"):
        notes.append(f"torch {torch.__version__} has no torch.optim.Muon: it is not timed")
        return [ours]
    return [ours, Candidate("muon", "torch.optim.Muon, the same matrices",
                            lambda model: torch.optim.Muon(matrices(model), lr=cfg.lr))]


def _registry_builder(name: str, lr: float, **kw: object) -> Callable[[nn.Module], torch.optim.Optimizer]:
    accepted = optim.accepted_hyperparameters(optim.get_spec(name).resolve())
    extra = {"total_steps": RUN_LENGTH} if "total_steps" in accepted else {}
    return lambda model: optim.create(name, model, lr=lr, **extra, **kw)


def _external_params(name: str, model: nn.Module) -> list:
    if name != "muon":
        return list(model.parameters())
    ours = optim.create("muon", model)  # the same use_muon routing as our Muon's groups
    return [{"params": g["params"], "use_muon": g["use_muon"]} for g in ours.param_groups]


def _measure(candidate: Candidate, model: nn.Module, reference: torch.optim.Optimizer, ref_state: int,
             stepper: Stepper, copy_gbps: float) -> OptimRow:
    row = OptimRow(candidate.name, candidate.impl)
    try:
        opt = candidate.build(model)
        changed, first_s = stepper.changes_params(opt)
        if not changed:
            row.note = "did not change the parameters: not timed"
            return row
        if isinstance(opt, ArenaOptimizer) and opt.fused:
            row.first_step_s = first_s
        stepper.step(opt)  # a second untimed step
        ref_ms, row.step_ms = stepper.time_against(reference, opt)
    except Exception as e:  # an outside optimizer may not run here (device, version): report, go on
        row.note = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
        return row
    state = tensor_bytes(opt.state)
    row.ratio = row.step_ms / ref_ms
    row.state_mb, row.state_ratio = state / 2**20, state / ref_state
    row.floor_ratio = _floor_ratio(row.step_ms, stepper.params, state, copy_gbps)
    del opt
    gc.collect()
    return row


def _floor_ratio(step_ms: float, params: list[torch.Tensor], state: int, copy_gbps: float) -> float:
    """Step time over the time to read p, g and the state and write p and the state at copy bandwidth."""
    p_bytes = sum(p.numel() * p.element_size() for p in params)
    moved = 3 * p_bytes + 2 * state  # gradients as wide as the parameters
    return step_ms / (1e3 * moved / (copy_gbps * 1e9))
