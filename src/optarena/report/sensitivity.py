"""Sensitivity to each tuned coordinate: the final loss at every value its last sweep tried.

Where a suite tunes hyperparameters besides the LR (bench/tuning.py), the bench's choice records each
coordinate's last sweep with the values the others were held at while it ran (`Choice.sweeps`): the
chosen ones, except those of coordinates tuned after it (the LR's sweep of a one-round search ran at
the others' starts). One row per optimizer and coordinate: the seed-mean final loss at each value, the
chosen one in bold; "diverged" where every run there diverged.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from optarena.bench.tuned import show
from optarena.report import fmt
from optarena.report.document import Styled, Table
from optarena.report.results import Results, Run, Sweep
from optarena.report.standings import LR_RTOL, Leaderboard, matches

CAPTION = ("Sensitivity to each tuned hyperparameter (the bench's coordinate search): final validation loss "
           "at each value of its last sweep, mean over the seeds run there, the others held where that sweep "
           "held them; bold: the chosen value.")


def sensitivity_table(board: Leaderboard, results: Results) -> Table | None:
    """The cell's table, or None where no optimizer tunes more than its LR."""
    rows = []
    for s in board.standings:
        choice = results.choices.get((board.key.model, s.optimizer, board.key.tokens, board.key.data))
        if choice is None or not choice.sweeps:
            continue
        runs = [r for r in results.runs if r.optimizer == s.optimizer and (r.model, r.tokens, r.data) == board.key]
        for sweep in choice.sweeps:
            edge = Styled("⚠ at edge", "warn") if sweep.at_edge else ""
            rows.append((f"`{s.optimizer}`", sweep.name, _held(sweep), _losses(sweep, runs), edge))
    return Table(("optimizer", "tuned", "others held at", "final val loss at each value", "edge"), tuple(rows),
                 CAPTION) if rows else None


def chosen(lr: float | None, tuned: tuple[tuple[str, Any], ...]) -> str:
    """The leaderboard's best point: "0.003 · weight_decay 0.03"."""
    return " · ".join([fmt.lr(lr), *(f"{name} {_show(x)}" for name, x in tuned)])


def _held(sweep: Sweep) -> str:
    return ", ".join(f"{name} {_show(x)}" for name, x in sweep.at.items()) or fmt.MISSING


def _losses(sweep: Sweep, runs: list[Run]) -> str:
    """"value: mean loss" at each value the sweep tried, in order, the chosen one in bold."""
    by_value: dict[str, list[Run]] = defaultdict(list)
    order: dict[str, Any] = {}
    for r in runs:
        if _held_at(r, sweep.at):
            x = r.lr if sweep.name == "lr" else r.tuned.get(sweep.name)
            by_value[_show(x)].append(r)
            order.setdefault(_show(x), x)
    numeric = all(isinstance(x, int | float) for x in order.values())
    parts = []
    for value in sorted(order, key=order.get) if numeric else order:
        part = f"{value}: {_mean_loss(by_value[value])}"
        parts.append(f"**{part}**" if value == _show(sweep.value) else part)
    return " · ".join(parts)


def _mean_loss(runs: list[Run]) -> str:
    losses = [r.final_val_loss for r in runs if r.status == "finished" and r.final_val_loss is not None]
    if losses:
        return f"{np.mean(losses):.4f}"
    return "diverged" if any(r.status == "diverged" for r in runs) else fmt.MISSING


def _held_at(run: Run, at: dict[str, Any]) -> bool:
    """Whether the run has the values the sweep held the other coordinates at."""
    lr = at.get("lr")
    others = {k: x for k, x in at.items() if k != "lr"}
    return (lr is None or math.isclose(run.lr, lr, rel_tol=LR_RTOL)) and matches(run.tuned, others)


def _show(x: Any) -> str:
    """A value from JSON as the bench writes it (lists were tuples there)."""
    return show(tuple(x) if isinstance(x, list) else x)
