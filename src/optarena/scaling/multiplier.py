"""Compute-efficiency multiplier against a baseline (ADANA §3, arXiv 2602.05298; Marin's "speedup").

An optimizer that reaches loss L at compute C has gain(C) = C′/C, where C′ is the compute the baseline
needs to reach the same L: L_baseline(C′) = L_opt(C). gain > 1 means the optimizer needs less compute;
"40% compute efficiency" reads as gain 1.4. Two estimates, as in the authors'
visualization/compare_scaling_rules_new.py:

  * `compute_multiplier`: from the fitted curves, C′ by brentq. The authors bracket the natural log
    ln C′ ∈ [−10, 30] (C′ from 4.5e-5 to 1.1e13 PFH). We bracket log10 C′ ∈ [−10, 30] (1e-10 to 1e30
    PFH), which only finds more roots. NaN where there is none in the bracket: when L <= a (the
    baseline never gets there; with a shared a this only happens numerically) or when C′ falls outside.
  * `affine_by_part`: data only. The baseline's points, linear in (log C, log L) between neighbours and
    extrapolated along the last two points (the first two above its worst loss), inverted at the
    optimizer's observed (C, L). No fit, so no shared-a assumption, but noisy where points are few.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import brentq

from optarena.scaling.power_law import ScalingFit

LOG_C_BRACKET = (-10.0 * math.log(10.0), 30.0 * math.log(10.0))  # ln C′, i.e. C′ in [1e-10, 1e30] PFH


def compute_multiplier(fit: ScalingFit, name: str, C_grid, baseline: str = "adamw") -> np.ndarray:
    """gain(C) = C′/C with L_baseline(C′) = L_name(C), for each C in `C_grid`; NaN where no root."""
    if baseline not in fit.curves:
        raise KeyError(f"no baseline curve {baseline!r}; have {', '.join(fit.curves)}")
    C_grid = np.asarray(C_grid, dtype=np.float64)
    target = fit.predict(name, C_grid)
    base, a = fit.curves[baseline], fit.a

    def excess(log_C: float, L: float) -> float:  # decreasing in log_C, from +inf to a − L
        return base.b * math.exp(-base.c * log_C) + base.e * math.exp(-base.f * log_C) - (L - a)

    lo, hi = LOG_C_BRACKET
    gains = np.full(C_grid.shape, np.nan)
    for idx, (C, L) in enumerate(zip(C_grid.flat, target.flat)):
        if L > a and excess(lo, L) >= 0 >= excess(hi, L):
            gains.flat[idx] = math.exp(brentq(excess, lo, hi, args=(L,), xtol=1e-13)) / C
    return gains


def affine_by_part(baseline_points: Sequence[tuple[float, float]], C, L) -> np.ndarray:
    """gain at the optimizer's observed points (C, L) against the baseline's points, interpolated
    piecewise-linearly in (log C, log L). The baseline's loss must fall strictly as compute grows."""
    pts = np.asarray(baseline_points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2 or not (pts > 0).all():
        raise ValueError("baseline_points must be at least 2 positive (C, L) pairs")
    pts = pts[np.argsort(pts[:, 0])]
    x, y = np.log(pts[:, 0]), np.log(pts[:, 1])
    if not (np.diff(y) < 0).all():
        raise ValueError(f"baseline loss must decrease strictly with compute to be inverted, got {pts[:, 1]}")
    C, target = np.asarray(C, dtype=np.float64), np.log(np.asarray(L, dtype=np.float64))
    x_at = np.interp(target, y[::-1], x[::-1])  # np.interp needs increasing abscissae: walk y upwards
    below, above = target < y[-1], target > y[0]  # better than the baseline's best / worse than its worst
    x_at = np.where(below, x[-1] + (target - y[-1]) * (x[-1] - x[-2]) / (y[-1] - y[-2]), x_at)
    x_at = np.where(above, x[0] + (target - y[0]) * (x[1] - x[0]) / (y[1] - y[0]), x_at)
    return np.exp(x_at) / C
