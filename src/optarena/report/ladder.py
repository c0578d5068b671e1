"""Ladders: the same optimizers at >= 2 model sizes, fitted with `optarena.scaling`.

A ladder is a set of cells on one data source whose token budgets follow one rule. When every model
has a single budget, all models form one ladder. When models have several budgets (a sizes × budgets
grid), cells are grouped by tokens per parameter D/N_total to 2 significant figures, so a 3 × 3 grid at
10, 20 and 40 tokens per parameter gives three ladders. Points are (compute, best-LR mean final loss)
with compute = 6·N_nonemb·D in PetaFLOP-hours (`compute_pfh`, the ADANA paper's convention).

Fit: `fit_broken_power_law` with the shared saturation a, bounded below by the data's entropy floor
on synthetic data (no model can go below it). Multiplier against the suite's baseline: `compute_multiplier` on the
fit, a residual-bootstrap band (`bootstrap_multiplier`, 5-95%), and the data-only `affine_by_part`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from optarena.report import fmt
from optarena.report.standings import Leaderboard
from optarena.scaling import (
    MultiplierBand,
    ScalingFit,
    affine_by_part,
    bootstrap_multiplier,
    compute_pfh,
    fit_broken_power_law,
)

GRID_POINTS = 40


@dataclass
class Ladder:
    data: str
    rule: str  # how its budgets were grouped, for the heading
    boards: list[Leaderboard]  # ascending compute
    points: dict[str, list[tuple[float, float]]]  # optimizer -> [(C in PFH, loss)], optimizers with >= 2
    fit: ScalingFit | None = None
    compared: list[str] = field(default_factory=list)  # optimizers with a multiplier vs the baseline
    bands: dict[str, MultiplierBand] = field(default_factory=dict)
    affine: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # name -> (C, gain)
    problem: str = ""  # why there is no fit or no multiplier, when so

    @property
    def C_grid(self) -> np.ndarray:
        """GRID_POINTS log-spaced computes over the ladder, plus each cell's own compute exactly."""
        C = [compute_of(c) for c in self.boards]
        return np.unique(np.concatenate([np.logspace(math.log10(min(C)), math.log10(max(C)), GRID_POINTS), C]))

    @property
    def baseline(self) -> str:
        return self.boards[0].baseline_name  # a ladder's cells come from one results database, one suite

    @property
    def min_points(self) -> int:
        return min(len(p) for p in self.points.values())


def compute_of(board: Leaderboard) -> float | None:
    n = board.params_non_embedding
    return compute_pfh(n, board.key.tokens) if n and board.key.tokens else None


def find_ladders(boards: list[Leaderboard]) -> list[Ladder]:
    """Ladders of >= 2 model sizes whose cells all have a parameter count (module docstring)."""
    by_data: dict[str, list[Leaderboard]] = defaultdict(list)
    for board in boards:
        if compute_of(board) is not None and board.params_total:
            by_data[board.key.data].append(board)
    ladders = []
    for data, group in sorted(by_data.items()):
        budgets_per_model = defaultdict(set)
        for board in group:
            budgets_per_model[board.key.model].add(board.key.tokens)
        if all(len(b) == 1 for b in budgets_per_model.values()):
            ladders.append(_ladder(data, "one budget per model", group))
            continue
        by_ratio: dict[float, list[Leaderboard]] = defaultdict(list)
        for board in group:
            by_ratio[_round_sig(board.key.tokens / board.params_total, 2)].append(board)
        ladders += [_ladder(data, f"D/N ≈ {r:g} tokens per parameter", cs) for r, cs in sorted(by_ratio.items())]
    return [lad for lad in ladders if len({c.key.model for c in lad.boards}) >= 2 and lad.points]


def _ladder(data: str, rule: str, boards: list[Leaderboard]) -> Ladder:
    boards = sorted(boards, key=compute_of)
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for board in boards:
        for s in board.standings:
            if s.summary is not None:
                points[s.optimizer].append((compute_of(board), s.summary.mean))
    return Ladder(data, rule, boards, {k: v for k, v in sorted(points.items()) if len(v) >= 2})


def fit_ladder(ladder: Ladder, num_bootstrap: int = 200, seed: int = 0) -> Ladder:
    """Fill in the joint fit, the bootstrap bands and the affine-by-part multipliers (in place)."""
    a_lower = _floor(ladder)
    try:
        ladder.fit = fit_broken_power_law(ladder.points, a_lower=a_lower)
    except ValueError as e:
        ladder.problem = f"no fit: {e}"
        return ladder
    baseline = ladder.baseline
    if baseline not in ladder.points:
        ladder.problem = f"no {fmt.who(baseline)} curve on this ladder: no compute multiplier"
        return ladder
    rising = [name for name, pts in ladder.points.items() if not _falls(pts)]
    if rising:  # a loss that grows with compute has no power law in it, and inverting the baseline's needs one
        names = ", ".join(f"`{n}`" for n in rising)
        ladder.problem = (
            f"The best-LR loss does not fall with compute for {names}: a power law "
            "cannot describe that, so there is no compute multiplier for "
            + (f"any optimizer, {fmt.who(baseline)} being one of them." if baseline in rising else "them.")
        )
        if baseline in rising:
            return ladder
    ladder.compared = [n for n in ladder.points if n != baseline and n not in rising]
    base = ladder.points[baseline]
    for name in ladder.compared:
        if num_bootstrap > 0:
            try:
                ladder.bands[name] = bootstrap_multiplier(
                    ladder.points, name, ladder.C_grid, n=num_bootstrap, seed=seed, baseline=baseline,
                    fit=ladder.fit, a_lower=a_lower,
                )
            except ValueError as e:  # a replicate the solver rejects: report the fit without a band
                ladder.problem = f"no bootstrap band for {name}: {e}"
        C, L = np.array(ladder.points[name]).T
        ladder.affine[name] = (C, affine_by_part(base, C, L))  # the baseline's loss falls strictly: invertible
    return ladder


def _falls(points: list[tuple[float, float]]) -> bool:
    """Whether the loss falls strictly as compute grows (points in ascending compute)."""
    return bool(np.all(np.diff([L for _, L in sorted(points)]) < 0))


def _floor(ladder: Ladder) -> float:
    """The entropy floor as a lower bound on a, when all cells share one and it is a valid bound."""
    floors = {c.loss_floor for c in ladder.boards}
    if len(floors) != 1 or None in floors:
        return 0.0
    floor = floors.pop()
    min_loss = min(L for pts in ladder.points.values() for _, L in pts)
    return floor if 0.0 <= floor < 0.99 * min_loss else 0.0


def _round_sig(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}")
