"""Fair tuning: which cells a group needs given the results so far, and which LR it chose.

Per group (model, optimizer, budget, data), on the first seed:

1. sweep   every multiplier of the suite's grid (the same number of points for every optimizer);
2. extend  while the best LR sits at an edge of the grid, one more point beyond that edge, a
           grid step further (the ratio of the two edge multipliers), at most `max_extend` times;
           if every point diverged or failed, the extension goes down;
3. seeds   the best LR again with each further seed, up to the suite's `seeds`.

A suite with a one-point grid runs each optimizer at its centre LR (phase "fixed"; the centre
usually comes from a tuned LR table, whose `at_edge` and number of LR points it keeps). "Best" is the lowest final
validation loss; a diverged or failed run counts as +inf. `plan_group` is a pure function of the
results, so the runner simply calls it again after every finished cell until nothing is missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .cells import Cell, Group, round_lr
from .suite import Suite

INF = math.inf


@dataclass(frozen=True)
class GroupPlan:
    cells: list[Cell]  # every cell the group needs now (done or not)
    settled: bool  # the LR choice is final: no sweep or extension cell is missing
    best_mult: float | None  # None: nothing finite yet
    at_edge: bool | None
    n_points: int
    best_loss: float | None


def plan_group(suite: Suite, group: Group, losses: Mapping[str, float]) -> GroupPlan:
    """`losses`: cell key -> final val loss (+inf if diverged or failed), for finished cells only."""
    fixed = not suite.tuned
    cells = [Cell(group, m, 0, "fixed" if fixed else "sweep") for m in suite.lr_mults]
    if any(c.key not in losses for c in cells):
        return GroupPlan(cells, False, None, None, len(cells), None)
    for _ in range(0 if fixed else suite.max_extend):
        direction = _edge(_points(cells, losses))
        if direction == 0:
            break
        cell = Cell(group, _beyond(sorted(c.lr_mult for c in cells), direction), 0, "extend")
        cells.append(cell)
        if cell.key not in losses:
            return GroupPlan(cells, False, None, None, len(cells), None)
    points = _points(cells, losses)
    best, best_loss = min(points, key=lambda p: p[1])  # ties: the smaller LR
    v = group.variant  # a fixed LR reports its table's sweep: where its best sat, how many points
    n_points = (v.tuned_points or 1) if fixed else len(cells)
    if best_loss == INF:
        return GroupPlan(cells, True, None, v.at_edge if fixed else True, n_points, None)
    at_edge = v.at_edge if fixed else best in (points[0][0], points[-1][0])
    seeds = [Cell(group, best, s, "seeds") for s in range(1, suite.seeds_of(v))]
    return GroupPlan(cells + seeds, True, best, at_edge, n_points, best_loss)


def _points(cells: list[Cell], losses: Mapping[str, float]) -> list[tuple[float, float]]:
    """(multiplier, loss) of the first-seed cells, by multiplier."""
    return sorted((c.lr_mult, losses[c.key]) for c in cells)


def _edge(points: list[tuple[float, float]]) -> int:
    """+1 / -1 when the best point is at the top / bottom edge of the grid, else 0."""
    if all(loss == INF for _, loss in points):
        return -1  # everything diverged or failed: smaller LRs are where to look
    i = min(range(len(points)), key=lambda j: points[j][1])
    return 1 if i == len(points) - 1 else -1 if i == 0 else 0


def _beyond(mults: list[float], direction: int) -> float:
    """One grid step past the edge: the edge times the ratio of the two outermost points."""
    if direction > 0:
        return round_lr(mults[-1] * mults[-1] / mults[-2])
    return round_lr(mults[0] * mults[0] / mults[1])
