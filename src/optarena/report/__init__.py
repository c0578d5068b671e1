"""Reports on a bench results directory: a Markdown leaderboard, a self-contained HTML page, the claims,
and the results as data (CSV and JSON).

    md, html, claims, *data = build_report("runs/my-suite")  # reads runs/my-suite/results.db; `optarena report DIR`
    export_results("runs/my-suite")                          # leaderboards, runs, curves; `optarena export DIR`

Pipeline: results.py (the runs as records, read through optarena.bench.db) → standings.py (per cell, a
Leaderboard: best LR, seeds, verdict vs the suite's baseline, Holm-adjusted;
floors.py: the data's reference floors) → curves.py, figures.py (plots), ladder.py (scaling fits and
compute multipliers across sizes), quoted.py (the seed papers' own numbers, quoted.toml), claims.py
(their claims, claims.toml, against ours) → sections.py, leaderboard.py (the report as blocks) →
document.py (Markdown and HTML from the same blocks) → build.py (write them); export.py (the same
leaderboards, and every run and curve point, as CSV and JSON: docs/export.md).
"""

from optarena.report.build import build_report
from optarena.report.export import export_results

__all__ = ["build_report", "export_results"]
