"""Reports on a bench results directory: a Markdown leaderboard and a self-contained HTML page.

    md, html = build_report("runs/my-suite")    # reads runs/my-suite/results.db; also `optarena report DIR`

Pipeline: results.py (read the SQLite file) → standings.py (best LR, seeds, verdict vs the suite's
baseline per cell, Holm-adjusted;
floors.py: the data's reference floors) → curves.py, figures.py (plots), ladder.py (scaling fits and
compute multipliers across sizes), quoted.py (the seed papers' own numbers, quoted.toml) → sections.py,
leaderboard.py (the report as blocks) → document.py (Markdown and HTML from the same blocks) → build.py
(write both).
"""

from optarena.report.build import build_report

__all__ = ["build_report"]
