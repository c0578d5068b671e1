"""Per cell of the report (model, tokens, data), a `Leaderboard`: each optimizer's best LR, its seeds there,
and its verdict against the suite's baseline (`Results.baseline`: the suite's `baseline` key, adamw by
default). (The bench's `Cell`, optarena.bench.cells, is one run of a suite: a cell of its finer grid.)

* Best LR: the bench's pick from the `choices` table when it has one, else the LR with the lowest
  mean final loss over its finished seeds. It is *at the edge* when it is the lowest or highest LR
  tried (finished or diverged): the optimum may lie outside the grid, and the loss is then an upper
  bound on what the optimizer can do.
* Where the suite tunes hyperparameters besides the LR (bench/tuning.py), the best point is the bench's
  choice of all of them (else the report's: the LR and values with the lowest mean), and the LR points
  are the runs of the LR's last sweep: at the values of the others that sweep held them at.
* The optimizer's result is its finished runs at the best point, one per seed (the latest run when a
  seed repeats): mean, sample std and n (`optarena.stats.summarize`), and the Welch test against the
  baseline's runs at *its* best LR (`compare_to_baseline`; "n/a (1 seed)" below 2 seeds). A cell makes
  one comparison per optimizer, up to 17 of them, so the verdict is read off the Holm-adjusted p over
  the cell's tests (`holm_verdicts`, alpha 0.05): the chance of any false verdict in a cell is at most 5%.
* Throughput, optimizer-state bytes and optimizer step time: medians over all the optimizer's
  finished runs in the cell, since they do not depend on the LR and more runs give a steadier median.
* An optimizer without a finished run is ranked last: "diverged" if some run diverged and none
  finished, else "incomplete" (runs still pending or running) or "failed" (no result at the best LR).
* The cell's reference floors (floors.py): what count models of its data score on the validation
  tokens of its final losses. A cell whose baseline is not below the bigram floor does not measure
  language modelling (`not_language_modelling`).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from optarena.report.floors import Floors, below, board_floors
from optarena.report.results import Results, Run
from optarena.stats import Summary, Verdict, compare_to_baseline, holm_verdicts, summarize

ALPHA = 0.05
LR_RTOL = 1e-9  # LRs are products like base × multiplier: compare them relatively, not bit for bit
STATUS_ORDER = ("ranked", "incomplete", "failed", "diverged")


class LeaderboardKey(NamedTuple):
    model: str
    tokens: int
    data: str


@dataclass(frozen=True)
class LrPoint:
    lr: float
    losses: tuple[float, ...]  # final losses of the finished runs, one per seed
    num_diverged: int
    num_unfinished: int  # pending, running or failed

    @property
    def mean(self) -> float:
        return float(np.mean(self.losses)) if self.losses else math.nan


class Pick(NamedTuple):
    lr_points: tuple[LrPoint, ...]
    best_lr: float | None
    edge: str
    picked_by: str
    best_runs: tuple[Run, ...]  # finished, at best_lr (and the chosen tuned values), one per seed
    tuned: dict[str, Any]  # the chosen values of the tuned hyperparameters besides the LR


@dataclass(frozen=True)
class Standing:
    optimizer: str
    status: str  # one of STATUS_ORDER
    lr_points: tuple[LrPoint, ...]  # ascending LR
    best_lr: float | None
    edge: str  # "lowest" | "highest" | "edge" (flagged by the bench, side unknown) | "" (inside the grid)
    picked_by: str  # "bench" (choices table) | "report" (derived here) | ""
    best_runs: tuple[Run, ...]  # finished runs at best_lr, one per seed
    summary: Summary | None
    verdict: Verdict | None  # Holm-adjusted in its cell; None for the baseline itself, or without a ranked baseline
    tokens_per_s: float | None
    opt_state_bytes: float | None
    opt_step_s: float | None
    tuned: tuple[tuple[str, Any], ...] = ()  # (hyperparameter, chosen value) of those tuned besides the LR

    @property
    def num_diverged_lrs(self) -> int:
        return sum(p.num_diverged > 0 for p in self.lr_points)


@dataclass(frozen=True)
class Leaderboard:
    """The optimizers of one cell (model, tokens, data), ranked: a table of the report."""

    key: LeaderboardKey
    standings: tuple[Standing, ...]  # ranked ones by mean loss, then incomplete, failed, diverged
    params_total: int | None
    params_non_embedding: int | None
    loss_floor: float | None
    floors: Floors
    baseline_name: str  # the suite's baseline, whether or not this cell has a result for it

    def get(self, optimizer: str) -> Standing | None:
        return next((s for s in self.standings if s.optimizer == optimizer), None)

    @property
    def baseline(self) -> Standing | None:
        s = self.get(self.baseline_name)
        return s if s is not None and s.status == "ranked" else None

    @property
    def ranks(self) -> tuple[int | None, ...]:
        """Each standing's rank (1 = lowest mean loss), None for those without a result."""
        return tuple(i + 1 if s.status == "ranked" else None for i, s in enumerate(self.standings))

    @property
    def num_tests(self) -> int:
        """The m of the cell's Holm adjustment: its optimizers with a Welch test against the baseline."""
        return sum(s.verdict is not None and math.isfinite(s.verdict.p_value) for s in self.standings)

    @property
    def not_language_modelling(self) -> bool:
        """The baseline's mean final loss is not below the bigram floor: counting token pairs does as well."""
        base = self.baseline
        gap = below(self.floors.bigram, base.summary.mean) if base else None
        return gap is not None and gap <= 0


def build_leaderboards(results: Results) -> list[Leaderboard]:
    """One Leaderboard per (model, tokens, data), ordered by data, then model size, then tokens; each compared
    with `results.baseline`."""
    groups: dict[LeaderboardKey, dict[str, list[Run]]] = defaultdict(lambda: defaultdict(list))
    for run in results.runs:
        groups[LeaderboardKey(run.model, run.tokens, run.data)][run.optimizer].append(run)
    boards = [_board(key, by_opt, results) for key, by_opt in groups.items()]
    return sorted(boards, key=lambda c: (c.key.data, c.params_total or 0, c.key.model, c.key.tokens))


def _board(key: LeaderboardKey, by_opt: dict[str, list[Run]], results: Results) -> Leaderboard:
    picks = {opt: _pick(key, opt, runs, results) for opt, runs in by_opt.items()}
    verdicts = _verdicts(picks, results.baseline)
    standings = [_standing(opt, by_opt[opt], picks[opt], verdicts.get(opt)) for opt in by_opt]
    standings.sort(key=lambda s: (STATUS_ORDER.index(s.status), s.summary.mean if s.summary else 0.0, s.optimizer))
    all_runs = [r for runs in by_opt.values() for r in runs]
    loss_floor = _first(all_runs, "loss_floor")
    return Leaderboard(
        key,
        tuple(standings),
        _first(all_runs, "params_total"),
        _first(all_runs, "params_non_embedding"),
        loss_floor,
        board_floors(all_runs, loss_floor),
        results.baseline,
    )


def _verdicts(picks: dict[str, Pick], baseline: str) -> dict[str, Verdict]:
    """Each optimizer's verdict against `baseline`, Holm-adjusted over the cell; {} without a baseline result."""
    base = picks.get(baseline)
    if base is None or not base.best_runs:
        return {}
    base_losses = [r.final_val_loss for r in base.best_runs]
    raw = {opt: welch_verdict([r.final_val_loss for r in pick.best_runs], base_losses)
           for opt, pick in picks.items() if opt != baseline and pick.best_runs}
    return dict(zip(raw, holm_verdicts(list(raw.values()), ALPHA)))


def _pick(key: LeaderboardKey, opt: str, runs: list[Run], results: Results) -> Pick:
    choice = results.choices.get((key.model, opt, key.tokens, key.data))
    tuned = choice.tuned if choice is not None else _best_tuned(runs)
    lr_at = next((s.at for s in choice.sweeps if s.name == "lr"), tuned) if choice is not None else tuned
    points = _lr_points([r for r in runs if matches(r.tuned, lr_at)])
    tried = [p.lr for p in points if p.losses or p.num_diverged]
    if choice is not None:
        best, picked_by, at_edge = choice.best_lr, "bench", choice.at_edge
    else:
        finished = [p for p in points if p.losses]
        if not finished:
            return Pick(points, None, "", "", (), tuned)
        best, picked_by = min(finished, key=lambda p: p.mean).lr, "report"
        at_edge = len(tried) > 1 and (_same(best, tried[0]) or _same(best, tried[-1]))
    edge = _which_edge(best, tried) if at_edge else ""
    at_best = {r.seed: r for r in runs if r.status == "finished" and _same(r.lr, best) and _finite(r.final_val_loss)
               and matches(r.tuned, tuned)}
    return Pick(points, best, edge, picked_by, tuple(at_best[s] for s in sorted(at_best)), tuned)


def _best_tuned(runs: list[Run]) -> dict[str, Any]:
    """The report's own pick of the tuned values, where the bench has made none: those of the (LR,
    values) point with the lowest mean final loss; {} where nothing besides the LR is tuned."""
    by_point: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in runs:
        if r.tuned_json and r.status == "finished" and _finite(r.final_val_loss):
            by_point[(r.tuned_json, f"{r.lr:.6g}")].append(r.final_val_loss)
    if not by_point:
        return {}
    return json.loads(min(by_point, key=lambda k: float(np.mean(by_point[k])))[0])


def matches(values: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a run's tuned values hold every one of `wanted` (numbers compared relatively)."""
    return all(name in values and _same_value(values[name], x) for name, x in wanted.items())


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same_value, a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=LR_RTOL)
    return a == b


def _which_edge(lr: float, tried: list[float]) -> str:
    """Which end of the LRs tried `lr` is: lowest, highest, or just "edge" when the runs cannot tell
    (the bench's flag on a single LR, e.g. one from a tuned table whose sweep ran elsewhere)."""
    if len(tried) > 1 and _same(lr, tried[0]):
        return "lowest"
    if len(tried) > 1 and _same(lr, tried[-1]):
        return "highest"
    return "edge"


def _standing(opt: str, runs: list[Run], pick: Pick, verdict: Verdict | None) -> Standing:
    losses = [r.final_val_loss for r in pick.best_runs]
    summary = summarize(losses) if losses else None
    finished = [r for r in runs if r.status == "finished"]
    return Standing(
        optimizer=opt,
        status=_status(runs, pick.best_runs),
        lr_points=pick.lr_points,
        best_lr=pick.best_lr,
        edge=pick.edge,
        picked_by=pick.picked_by,
        best_runs=pick.best_runs,
        summary=summary,
        verdict=verdict,
        tokens_per_s=_median(finished, "tokens_per_s"),
        opt_state_bytes=_median(finished, "opt_state_bytes"),
        opt_step_s=_median(finished, "opt_step_s"),
        tuned=tuple(pick.tuned.items()),
    )


def welch_verdict(losses: list[float], base_losses: list[float]) -> Verdict:
    """`compare_to_baseline` at ALPHA, with a verdict (and no test) where both samples are constant."""
    try:
        return compare_to_baseline(losses, base_losses, alpha=ALPHA)
    except ValueError:  # both samples constant (e.g. a deterministic CPU run repeated): no t statistic
        delta = float(np.mean(losses) - np.mean(base_losses))
        return Verdict("n/a (no seed spread)", math.nan, delta, (math.nan, math.nan), len(losses), len(base_losses))


def _status(runs: list[Run], best_runs: tuple[Run, ...]) -> str:
    statuses = {r.status for r in runs}
    if best_runs:
        return "ranked"
    if "diverged" in statuses and "finished" not in statuses:
        return "diverged"
    return "incomplete" if statuses & {"pending", "running"} else "failed"


def _lr_points(runs: list[Run]) -> tuple[LrPoint, ...]:
    by_lr: list[list[Run]] = []
    for run in sorted(runs, key=lambda r: r.lr):
        if by_lr and _same(by_lr[-1][0].lr, run.lr):
            by_lr[-1].append(run)
        else:
            by_lr.append([run])
    points = []
    for group in by_lr:
        latest = {r.seed: r for r in sorted(group, key=lambda r: r.id)}.values()  # one run per seed
        losses = tuple(r.final_val_loss for r in latest if r.status == "finished" and _finite(r.final_val_loss))
        num_diverged = sum(r.status == "diverged" for r in latest)
        points.append(LrPoint(group[0].lr, losses, num_diverged, len(latest) - len(losses) - num_diverged))
    return tuple(points)


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=LR_RTOL)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _median(runs: list[Run], field: str) -> float | None:
    values = [getattr(r, field) for r in runs if getattr(r, field) is not None]
    return float(np.median(values)) if values else None


def _first(runs: list[Run], field: str):
    return next((getattr(r, field) for r in runs if getattr(r, field) is not None), None)
