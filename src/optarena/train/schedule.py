"""Learning-rate schedules as factors s(t) of the peak LR, for `torch.optim.lr_scheduler.LambdaLR`.

t is the number of updates already made (LambdaLR's epoch), so update k (1-based) runs at s(k-1).
Over a run of T updates with W warmup steps and final fraction f:

    warmup    t < W:  s = s0 + (1 - s0) t / W            from s0 = warmup_start up to 1
    cosine    t >= W: s = f + (1 - f) (1 + cos(pi p)) / 2,   p = (t - W) / (T - W)
    linear    t >= W: s = 1 - (1 - f) p
    wsd       t >= W: s = 1 until D = T - floor(decay_frac T), then linear to f over [D, T]
    constant  t >= W: s = 1

With s0 = 0.01, W = floor(0.02 T) and f = 0.1 the cosine is the ADANA authors' `cos_inf` schedule
(div_factor 1e2, final_div_factor 1e-1; mlexpos/adana@3eef26f ``src/optim/schedule.py``). Because LambdaLR writes
group["lr"] = peak * s(t), log-time optimizers read s(t) back as group["lr"] / group["peak_lr"].
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .config import ScheduleSection


def warmup_steps(cfg: ScheduleSection, total_steps: int) -> int:
    """W: a fraction of the run (floored, as the authors' int(T/50)) or a step count, at most T."""
    steps = int(cfg.warmup * total_steps) if cfg.warmup < 1 else int(cfg.warmup)
    return min(steps, total_steps)


def lr_factor(cfg: ScheduleSection, total_steps: int) -> Callable[[int], float]:
    """s(t) for a run of `total_steps` updates (see the module docstring)."""
    T, W = total_steps, warmup_steps(cfg, total_steps)
    s0, f = cfg.warmup_start, cfg.final_lr_frac
    decay_start = max(W, T - int(cfg.decay_frac * T))

    def after_warmup(t: int) -> float:
        if cfg.kind == "constant":
            return 1.0
        if cfg.kind == "wsd":
            if t < decay_start:
                return 1.0
            return 1.0 - (1.0 - f) * min(1.0, (t - decay_start) / max(1, T - decay_start))
        p = min(1.0, (t - W) / max(1, T - W))
        if cfg.kind == "linear":
            return 1.0 - (1.0 - f) * p
        return f + (1.0 - f) * 0.5 * (1.0 + math.cos(math.pi * p))

    def factor(t: int) -> float:
        return s0 + (1.0 - s0) * t / W if t < W else after_warmup(t)

    return factor
