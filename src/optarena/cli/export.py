"""``optarena export DIR``: the results of DIR/results.db as data files, CSV and JSON.

Writes leaderboard.csv/.json (one row per optimizer of each leaderboard, the report's numbers), runs.csv/.json
(every run: its key columns, status, final metrics, config and record), curves.csv/.json (every logged point
of every run) and meta.json (the database's meta, the baseline, the export's format version) into DIR, beside
leaderboard.md, or into --out. Their columns, units and meanings: docs/export.md. `optarena report` writes
the two leaderboard files too. Exit status 2 when DIR has no readable results.db or an argument is wrong.
"""

from __future__ import annotations

import argparse

from optarena.cli import usage_error

CHOICES = {"csv": ("csv",), "json": ("json",), "both": ("csv", "json")}


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write DIR's leaderboards, runs and curves as CSV and JSON (docs/export.md)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results_dir", metavar="DIR", help="an `optarena bench --out` directory (holds results.db)")
    p.add_argument("--format", choices=tuple(CHOICES), default="both", help="the files to write (default both)")
    p.add_argument("--out", metavar="OUTDIR", help="write the files here (created) instead of into DIR")
    p.add_argument(
        "--baseline",
        metavar="NAME",
        help="the optimizer (display name) to compare the others with, instead of the suite's baseline",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from optarena.report.export import export_results

    try:
        written = export_results(args.results_dir, args.out, CHOICES[args.format], baseline=args.baseline)
    except (OSError, ValueError) as e:  # a missing or unreadable database, a bad baseline, an unwritable --out
        return usage_error("export", e)
    print("\n".join(f"wrote {path}" for path in written))
    return 0
