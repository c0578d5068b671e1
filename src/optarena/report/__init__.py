"""Reports on a bench results directory: a Markdown leaderboard, a self-contained HTML page and the claims.

    md, html, claims = build_report("runs/my-suite")    # reads runs/my-suite/results.db; also `optarena report DIR`

Pipeline: results.py (read the SQLite file) → standings.py (best LR, seeds, verdict vs the suite's
baseline per cell, Holm-adjusted;
floors.py: the data's reference floors) → curves.py, figures.py (plots), ladder.py (scaling fits and
compute multipliers across sizes), quoted.py (the seed papers' own numbers, quoted.toml), claims.py
(their claims, claims.toml, against ours) → sections.py, leaderboard.py (the report as blocks) →
document.py (Markdown and HTML from the same blocks) → build.py (write them).
"""

from optarena.report.build import build_report

__all__ = ["build_report"]
