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
from optarena.report.fmt import MISSING
from optarena.report.standings import Leaderboard, Standing

CAPTION = ("Stability after the warmup, mean over the seeds of each optimizer's best point "
           "(optarena.train.stability): loss spikes (a logged training loss more than 6 robust standard "
           "deviations, and 2%, above the median of the 10 before it), the largest spike (nats), and the "
           "gradient norm's coefficient of variation and 99th percentile over its median (before clipping). "
           "The data order is the same for every run, so a hard batch raises every row: compare rows.")


STABILITY_FIELDS = ("spikes", "max_spike", "grad_norm_cv", "grad_norm_p99_median")


def stability_means(s: Standing) -> dict[str, float | int | None] | None:
    """{field: mean over the seeds of `s`'s best point that recorded it (None: none did), "seeds": how
    many seeds recorded their stability}; None where none did (a database made before the columns)."""
    runs = [r for r in s.best_runs if r.spikes is not None]
    if not runs:
        return None
    means: dict[str, float | int | None] = {}
    for name in STABILITY_FIELDS:
        values = [getattr(r, name) for r in runs if getattr(r, name) is not None]
        means[name] = fmean(values) if values else None
    return {**means, "seeds": len(runs)}


def stability_table(board: Leaderboard) -> Table | None:
    rows = []
    for s in board.standings:
        m = stability_means(s)
        if m is None:
            continue
        rows.append((f"`{s.optimizer}`", f"{m['spikes']:.2g}", _show(m["max_spike"]), _show(m["grad_norm_cv"]),
                     _show(m["grad_norm_p99_median"]), str(m["seeds"])))
    if not rows:
        return None
    header = ("optimizer", "loss spikes", "largest spike", "grad-norm CV", "grad-norm p99 / median", "seeds")
    return Table(header, tuple(rows), CAPTION)


def _show(x: float | None) -> str:
    return MISSING if x is None else f"{x:.3f}"
