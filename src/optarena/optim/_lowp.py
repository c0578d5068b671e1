"""Optimizer state in bf16: the dtype option and the stochastic rounding that makes it safe.

Every :class:`~optarena.optim.base.ArenaOptimizer` accepts ``state_dtype`` (per parameter group, so
a role override can set it for some parameters only): ``None`` keeps the default (fp32 state for
low-precision parameters, else the parameter's dtype) and ``"bfloat16"`` halves the state's memory.
The update itself still runs in the working precision (fp32, or fp64 for fp64 parameters): the shell
widens a chunk of bf16 state to working copies, runs the algorithm on them, and writes them back.

The write-back rounds **stochastically** (unbiased: E[round(x)] = x). Round-to-nearest would stall
the slow EMAs: with β2 = 0.999 an EMA moves by 0.001·(x − v) per step, which is less than half a
bf16 ulp (2^-8 of v's power of two) once v reaches a quarter of x: under a constant x = 1, v freezes
at 0.25 instead of approaching 1 (tests/optim/test_state_dtype.py). With stochastic
rounding every update survives in expectation, which is why Adam-type second moments tolerate bf16
state (Zamirai et al. 2020, "Revisiting BFloat16 Training"). fp16 state is refused: its range cannot
hold squared gradients (g² < 6e-8 underflows), and this rounding trick needs bf16's fp32-prefix layout.

Rounding: bf16 is the upper 16 bits of an fp32. Adding a uniform 16-bit integer to the fp32's bits
and truncating the lower 16 rounds the magnitude up with probability (fraction of an ulp), down
otherwise; the sign bit is untouched, so negative numbers round alike. ±inf and NaN stay so.
The random bits come from the optimizer's own generators (one per device, saved in its state_dict),
so a run is reproducible and resumes bitwise, and the global RNG (data order, init) is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# dtypes the update runs in directly; anything narrower is updated through an fp32 copy.
WORKING_DTYPES = (torch.float32, torch.float64)
STATE_DTYPES = {"bfloat16": torch.bfloat16}  # besides None, the default
_ALIASES = {"bf16": "bfloat16"}
ROUNDING_SEED = 0x5EED  # every optimizer's rounding generators start here (state_dict keeps them)


def parse_state_dtype(owner: str, value: Any) -> torch.dtype | None:
    """``None`` or bf16 (``torch.bfloat16``, ``"bfloat16"``, ``"bf16"``) as a torch dtype; else ``ValueError``.

    Wider state than the default would mix dtypes inside the updates' multi-tensor ops; fp16 is refused
    for its range (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, str):
        name = _ALIASES.get(value, value.removeprefix("torch."))
        if name in STATE_DTYPES:
            return STATE_DTYPES[name]
    elif value in STATE_DTYPES.values():
        return value
    raise ValueError(f"{owner}: state_dtype must be None (the default: fp32, or the parameters' dtype "
                     f"when wider) or 'bfloat16' (also 'bf16', torch.bfloat16), got {value!r}")


def default_state_dtype(p: torch.Tensor) -> torch.dtype:
    """Optimizer state is kept in fp32 for low-precision parameters, else in the parameter's dtype."""
    return p.dtype if p.dtype in WORKING_DTYPES else torch.float32


def stochastic_round_(dst: torch.Tensor, src: torch.Tensor, generator: torch.Generator) -> None:
    """``dst`` (bf16) ← ``src`` (fp32) rounded stochastically to bf16; ``src`` is overwritten."""
    bits = src.view(torch.int32)
    n = src.numel()
    # 64 random bits per draw, cut into four 16-bit lanes: torch's CPU generator costs about the same
    # per 64-bit word as per bounded int32, so this is ~3x cheaper than randint(0, 2**16) per element
    # (docs/results/perf_cpu.md). The lanes are signed; the mask makes each uniform on [0, 2**16).
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=src.device)
    words.random_(-(1 << 63), None, generator=generator)  # the whole int64 range: all 64 bits random
    noise = words.view(torch.int16)[:n].view(src.shape).to(torch.int32).bitwise_and_(0xFFFF)
    bits.add_(noise).bitwise_and_(-(1 << 16))  # the lower 16 bits cleared: exactly a bf16 value
    dst.copy_(src)


class Widened:
    """fp32 working copies of state dicts' low-precision buffers, written back by :meth:`narrow`.

    The update sees copies of the dicts: a buffer it creates lazily (Muon makes its momentum inside
    the update) is moved to the original dict by :meth:`narrow`, in ``dtype``."""

    def __init__(self, params: list[torch.Tensor], states: list[dict[str, Any]], dtype: torch.dtype) -> None:
        self.dtype = dtype
        self.originals = states
        self.pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.states = [self._widen(s, p.dtype) for p, s in zip(params, states)]

    def _widen(self, state: dict[str, Any], work: torch.dtype) -> dict[str, Any]:
        out = dict(state)
        for key, value in state.items():
            if torch.is_tensor(value) and value.is_floating_point() and value.dtype not in WORKING_DTYPES:
                out[key] = value.to(work)
                self.pairs.append((value, out[key]))
        return out

    def narrow(self, generator_for: Callable[[torch.device], torch.Generator]) -> None:
        for low, work in self.pairs:
            stochastic_round_(low, work.float(), generator_for(work.device))  # fp64: via fp32 (nearest)
        for original, widened in zip(self.originals, self.states):
            for key in sorted(widened.keys() - original.keys()):  # sorted: the same random bits each run
                value = widened[key]
                if torch.is_tensor(value) and value.dtype in WORKING_DTYPES:
                    low = torch.empty_like(value, dtype=self.dtype)
                    stochastic_round_(low, value.float(), generator_for(value.device))
                    value = low
                original[key] = value
