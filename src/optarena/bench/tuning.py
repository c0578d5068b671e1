"""Fair tuning: which cells a group needs given the results so far, and what it chose.

Untuned weight decay and warmup are what made earlier speedups look large (Marin, arXiv 2509.02046),
so a suite may tune hyperparameters besides the LR, the same way for every optimizer (tuned.py):

    tune_rounds = 1                          # passes of the search; 1 (the default): no re-pass
    [tune]                                   # absolute grids, in search order, for every optimizer
    weight_decay = [0.0, 0.01, 0.03, 0.1]
    [optimizers]                             # an optimizer's own `tune` replaces the suite's (as many
    adana = { lr = 1e-3, tune = { omega = [2.0, 4.0, 8.0, 16.0] } }    # values, same positions)

Per group (model, optimizer, budget, data), on the first seed, a coordinate search sweeps each
coordinate in turn at the best values so far of the others:

1. LR      every multiplier of the suite's grid (the same number of points for every optimizer), the
           tuned hyperparameters at their starts (the optimizer's own values, each in its grid);
2. extend  while the best sits at an edge of the grid, one more point beyond that edge, a grid step
           further (the ratio of the two outermost points on that side), at most `max_extend` times;
           if every point diverged or failed, the extension goes down;
3. tune    each tuned hyperparameter in order: its grid at the best LR (and the best values of those
           before it), extended as in 2 where its grid is of floats. A best of 0 at the bottom is no
           edge (nothing lies below 0: a grid from 0 never extends down), nor does a grid extend where
           its two outermost points on that side are not both positive ([0, 0.1] stops at 0.1, which
           is then flagged at the edge); lists (`betas`), strings, flags and counts never extend;
4. rounds  `tune_rounds = n` repeats 1-3 n times in all, each sweep at the best values so far; a
           coordinate's sweep always includes the value it stands at, so no sweep chooses worse than
           the one before, and a re-pass of a coordinate whose point did not move reruns nothing;
5. seeds   the best point again with each further seed, up to the suite's `seeds`.

A suite with a one-point LR grid runs each optimizer at its centre LR (phase "fixed"; the centre usually
comes from a tuned LR table, whose `at_edge` and number of LR points it keeps), then sweeps its tuned
hyperparameters there. "Best" is the lowest final validation loss; a diverged or failed run counts as
+inf; ties go to the smaller value (the first listed, for a grid that is not of floats). Consecutive
sweeps share a point (the best of one is where the next starts), keyed and run once: a cell's key adds
`|name=value` for each tuned hyperparameter it moves from its start (cells.py), so a suite that tunes
nothing keeps its keys and its databases. The choice (db `choices`) keeps the LR as always and, in
`tuned_json`, every coordinate's last sweep: its chosen value, edge flag, points, and the others'
values while it ran, from which the report draws the sensitivity to each (report/sensitivity.py).

`plan_group` is a pure function of the results, so the runner simply calls it again after every
finished cell until nothing is missing; a killed search resumes where it stopped, with the same cells.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .cells import Cell, Group, round_lr
from .suite import Suite

INF = math.inf
LR = "lr"  # the LR's coordinate; its values are multipliers of the optimizer's centre LR


@dataclass(frozen=True)
class Sweep:
    """A coordinate's last sweep: what it chose, and the others' values while it ran."""

    name: str  # LR or a tuned hyperparameter
    best: Any  # the LR multiplier, or the hyperparameter's value; None: every point diverged or failed
    best_loss: float
    at_edge: bool
    n_points: int
    at: tuple[tuple[str, Any], ...]  # (coordinate, value) of the others (LR: its multiplier)


@dataclass(frozen=True)
class GroupPlan:
    cells: list[Cell]  # every cell the group needs now (done or not)
    settled: bool  # the choice is final: no sweep or extension cell is missing
    best_mult: float | None  # None: nothing finite yet
    at_edge: bool | None  # of the LR
    n_points: int  # of the LR's last sweep
    best_loss: float | None
    sweeps: tuple[Sweep, ...] = ()  # each coordinate's last sweep, the LR's first; () until settled


def plan_group(suite: Suite, group: Group, losses: Mapping[str, float]) -> GroupPlan:
    """`losses`: cell key -> final val loss (+inf if diverged or failed), for finished cells only."""
    v = group.variant
    point: dict[str, Any] = {t.name: t.start for t in v.tune}
    cells: list[Cell] = []
    sweeps: dict[str, Sweep] = {}  # the last of each coordinate, in the order of the first round
    for name in [LR, *(t.name for t in v.tune)] * (suite.tune_rounds if v.tune else 1):
        new, sweep = _sweep(suite, group, name, point, losses)
        cells += new
        if sweep is None:
            return GroupPlan(_unique(cells), False, None, None, len(new), None)
        if sweep.best is None:  # every LR diverged or failed: nothing to tune around
            return GroupPlan(_unique(cells), True, None, _lr_edge(suite, group, sweep),
                             _lr_points(suite, group, sweep), None)
        sweeps[name] = sweep
        point[name] = sweep.best
    best_loss = sweeps[name].best_loss  # the last sweep's: no sweep chooses worse than the one before
    seeds = [_cell(group, point, s, "seeds") for s in range(1, suite.seeds_of(v))]
    lr = sweeps[LR]
    return GroupPlan(_unique(cells + seeds), True, point[LR], _lr_edge(suite, group, lr),
                     _lr_points(suite, group, lr), best_loss, tuple(sweeps.values()))


def choice_sweeps(group: Group, plan: GroupPlan) -> list[dict[str, Any]]:
    """The choice's record of each coordinate's last sweep (db `choices.tuned_json`), LRs as LRs."""
    centre = group.variant.centre(group.model)

    def value(name: str, x: Any) -> Any:
        return round_lr(centre * x) if name == LR else x

    return [{"name": s.name, "value": value(s.name, s.best), "at_edge": s.at_edge, "n_points": s.n_points,
             "at": {n: value(n, x) for n, x in s.at}} for s in plan.sweeps]


def _sweep(suite: Suite, group: Group, name: str, point: dict[str, Any],
           losses: Mapping[str, float]) -> tuple[list[Cell], Sweep | None]:
    """The cells of one coordinate's sweep at `point` and, once they are all done, what it chose."""
    tuned = next((t for t in group.variant.tune if t.name == name), None)
    grid = list(suite.lr_mults) if tuned is None else list(tuned.grid)
    if name in point and point[name] not in grid:  # where an earlier round's extension left it
        grid.append(point[name])
    numeric = tuned is None or tuned.numeric
    values = sorted(grid) if numeric else grid
    phase = "fixed" if tuned is None and not suite.tuned else "sweep"
    at_value = {x: _cell(group, {**point, name: x}, 0, phase) for x in values}
    if any(c.key not in losses for c in at_value.values()):
        return list(at_value.values()), None
    for _ in range(suite.max_extend if numeric and len(values) > 1 else 0):
        x = _beyond(values, _edge(_points(values, at_value, losses)))
        if x is None:
            break
        values = sorted([*values, x])
        at_value[x] = _cell(group, {**point, name: x}, 0, "extend")
        if at_value[x].key not in losses:
            return list(at_value.values()), None
    points = _points(values, at_value, losses)
    best, best_loss = min(points, key=lambda p: p[1])  # ties: the smaller value (the first listed)
    ends = (points[0][0], points[-1][0]) if numeric and len(points) > 1 else ()
    at_edge = best_loss == INF or (best in ends and best != 0.0)  # a best of 0 is the bottom of any grid
    at = tuple((n, x) for n, x in point.items() if n != name)
    return list(at_value.values()), Sweep(name, None if best_loss == INF else best, best_loss, at_edge,
                                          len(values), at)


def _cell(group: Group, point: dict[str, Any], seed: int, phase: str) -> Cell:
    tuned = tuple((t.name, point[t.name]) for t in group.variant.tune)
    return Cell(group, point[LR], seed, phase, tuned)


def _points(values: list[Any], at_value: dict[Any, Cell], losses: Mapping[str, float]) -> list[tuple[Any, float]]:
    """(value, loss) of a sweep's first-seed cells, in the order of `values`."""
    return [(x, losses[at_value[x].key]) for x in values]


def _edge(points: list[tuple[Any, float]]) -> int:
    """+1 / -1 when the best point is at the top / bottom edge of the grid, else 0."""
    if all(loss == INF for _, loss in points):
        return -1  # everything diverged or failed: smaller values are where to look
    i = min(range(len(points)), key=lambda j: points[j][1])
    return 1 if i == len(points) - 1 else -1 if i == 0 else 0


def _beyond(values: list[float], direction: int) -> float | None:
    """One grid step past the edge: the edge times the ratio of the two outermost points on that side;
    None where there is no such step (inside the grid, or a point on that side that is not positive)."""
    if direction == 0:
        return None
    edge, inner = (values[-1], values[-2]) if direction > 0 else (values[0], values[1])
    return round_lr(edge * edge / inner) if edge > 0 and inner > 0 else None


def _lr_edge(suite: Suite, group: Group, sweep: Sweep) -> bool | None:
    """The LR's at_edge: a fixed LR keeps its table's flag (None without one)."""
    return sweep.at_edge if suite.tuned else group.variant.at_edge


def _lr_points(suite: Suite, group: Group, sweep: Sweep) -> int:
    """LR points of the choice: a fixed LR reports its table's sweep (how many points it tried)."""
    return sweep.n_points if suite.tuned else (group.variant.tuned_points or 1)


def _unique(cells: list[Cell]) -> list[Cell]:
    """Cells by key, the first of each: consecutive sweeps share a point."""
    first: dict[str, Cell] = {}
    for c in cells:
        first.setdefault(c.key, c)
    return list(first.values())
