"""The stability table of a cell: loss spikes and gradient-norm spread at each optimizer's best point.

The SVRM and StableMomentum papers claim stability; the bench records per run, after the warmup,
the number of loss spikes and the largest (optarena.train.stability) and the spread of the
gradient norm (its coefficient of variation and its 99th percentile over its median). Here they
are averaged over the seeds of each optimizer's best point. The data order is the same for every
run of a suite, so a harder batch shows up in every row at once: compare rows, not absolute counts.
A database made before these columns has no table.
"""

from __future__ import annotations

from statistics import fmean

from optarena.report.document import Table
from optarena.report.standings import Leaderboard

CAPTION = ("Stability after the warmup, mean over the seeds of each optimizer's best point "
           "(optarena.train.stability): loss spikes (a logged training loss more than 6 robust standard "
           "deviations, and 2%, above the median of the 10 before it), the largest spike (nats), and the "
           "gradient norm's coefficient of variation and 99th percentile over its median (before clipping). "
           "The data order is the same for every run, so a hard batch raises every row: compare rows.")


def stability_table(board: Leaderboard) -> Table | None:
    rows = []
    for s in board.standings:
        runs = [r for r in s.best_runs if r.spikes is not None]
        if not runs:
            continue
        rows.append((f"`{s.optimizer}`", f"{fmean(r.spikes for r in runs):.2g}",
                     f"{fmean(r.max_spike for r in runs):.3f}", _mean(runs, "grad_norm_cv"),
                     _mean(runs, "grad_norm_p99_median"), str(len(runs))))
    if not rows:
        return None
    header = ("optimizer", "loss spikes", "largest spike", "grad-norm CV", "grad-norm p99 / median", "seeds")
    return Table(header, tuple(rows), CAPTION)


def _mean(runs, key: str) -> str:
    values = [getattr(r, key) for r in runs if getattr(r, key) is not None]
    return f"{fmean(values):.3f}" if values else "—"
