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

from optarena.report import fmt
from optarena.report.document import Table
from optarena.report.fmt import MISSING
from optarena.report.standings import ALPHA, Leaderboard, Standing, welch_verdict
from optarena.stats import holm_verdicts

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
    rows, names = [], []
    for s in board.standings:
        m = stability_means(s)
        if m is None:
            continue
        names.append(s.optimizer)
        rows.append((f"`{s.optimizer}`", f"{m['spikes']:.2g}", _show(m["max_spike"]), _show(m["grad_norm_cv"]),
                     _show(m["grad_norm_p99_median"]), str(m["seeds"])))
    if not rows:
        return None
    header = ("optimizer", "loss spikes", "largest spike", "grad-norm CV", "grad-norm p99 / median", "seeds")
    spread = _spread_verdicts(board, names)
    if spread is not None:
        header += (f"grad-norm CV vs `{board.baseline_name}` (Welch, Holm)",)
        rows = [(*row, spread.get(name, MISSING)) for row, name in zip(rows, names)]
    return Table(header, tuple(rows), CAPTION + (SPREAD_CAPTION if spread is not None else ""))


SPREAD_CAPTION = (" The last column tests each optimizer's seeds' grad-norm CV against the baseline's (Welch, "
                  "two-sided, Holm-adjusted over the rows of this table, α = 0.05): lower is the smoother run.")


def _spread_verdicts(board: Leaderboard, names: list[str]) -> dict[str, str] | None:
    """Per optimizer but the baseline: its seeds' gradient-norm CV against the baseline's, "lower" /
    "higher" / "no significant difference" with the Holm-adjusted p; None without a baseline row."""
    cvs = {name: [r.grad_norm_cv for r in board.get(name).best_runs if r.grad_norm_cv is not None] for name in names}
    base = cvs.get(board.baseline_name)
    if not base:
        return None
    others = [n for n in names if n != board.baseline_name and cvs[n]]
    verdicts = holm_verdicts([welch_verdict(cvs[n], base) for n in others], ALPHA)
    words = {"better": "lower", "worse": "higher"}
    out = {board.baseline_name: "baseline"}
    for name, v in zip(others, verdicts):
        out[name] = fmt.verdict(v._replace(verdict=words.get(v.verdict, v.verdict)))
    return out


def _show(x: float | None) -> str:
    return MISSING if x is None else f"{x:.3f}"
