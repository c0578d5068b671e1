"""Validation-loss curves at the best LR, averaged over seeds, and their ratio to the baseline's.

Seeds are averaged at the evaluation steps every seed has (the bench evaluates all seeds of a cell on
the same schedule, so this is normally every step). The ratio to the baseline is the DMS paper's Table 3
view: L_opt / L_baseline at matching steps; where the two step grids differ, the optimizer's curve is
interpolated linearly in tokens onto the baseline's evaluations inside the range both cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np

from optarena.report.results import Curve
from optarena.report.standings import Standing


@dataclass(frozen=True)
class MeanCurve:
    step: np.ndarray  # (E,)
    tokens: np.ndarray  # (E,) NaN where not recorded
    mean: np.ndarray  # (E,) seed-mean validation loss
    low: np.ndarray  # (E,) min over seeds
    high: np.ndarray  # (E,) max over seeds
    num_seeds: int

    @property
    def x(self) -> np.ndarray:
        """Tokens when recorded, else steps: the x-axis the plots use."""
        return self.tokens if np.isfinite(self.tokens).all() else self.step.astype(np.float64)


def mean_curve(standing: Standing, curves: dict[int, Curve]) -> MeanCurve | None:
    """Seed-mean of the curves of `standing`'s runs at its best LR; None without any."""
    runs = [curves[r.id] for r in standing.best_runs if r.id in curves and len(curves[r.id].step)]
    if not runs:
        return None
    steps = reduce(np.intersect1d, [c.step for c in runs])
    if len(steps) == 0:
        return None
    losses = np.stack([c.val_loss[np.searchsorted(c.step, steps)] for c in runs])  # (seeds, E)
    tokens = runs[0].tokens[np.searchsorted(runs[0].step, steps)]
    return MeanCurve(steps, tokens, losses.mean(0), losses.min(0), losses.max(0), len(runs))


def loss_ratio(curve: MeanCurve, baseline: MeanCurve) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, x, L_opt / L_baseline) on the baseline's evaluations that `curve` covers."""
    if np.array_equal(curve.step, baseline.step):
        return baseline.step, baseline.x, curve.mean / baseline.mean
    x, bx = curve.x, baseline.x
    inside = (bx >= x.min()) & (bx <= x.max())
    ratio = np.interp(bx[inside], x, curve.mean) / baseline.mean[inside]
    return baseline.step[inside], bx[inside], ratio


def checkpoints(num: int, count: int = 5) -> np.ndarray:
    """`count` evenly spread indices into `num` evaluations, first and last included (Table 3's rows)."""
    return np.unique(np.linspace(0, num - 1, min(count, num)).round().astype(int))
