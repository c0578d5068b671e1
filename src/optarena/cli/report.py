"""``optarena report DIR``: write DIR/leaderboard.md, DIR/report.html and DIR/claims.md from DIR/results.db.

The HTML is self-contained (plots embedded, no external files) and opens offline. DIR/leaderboard.csv and
.json hold the leaderboards as data (docs/export.md; `optarena export DIR` adds every run and curve).
Rebuilding from the same database gives identical files. Then prints each cell's reference floors (what
count models of its data score on its final losses' validation tokens) and how far the baseline is below
the bigram floor.
The baseline is the suite's `baseline` (adamw unless the suite names another, and in databases made
before suites could); --baseline reads the results against another optimizer. Exit status 2 when DIR
has no readable results.db.
"""

from __future__ import annotations

import argparse
import sqlite3

from optarena.cli import usage_error


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write DIR/leaderboard.md, a self-contained DIR/report.html and DIR/claims.md",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results_dir", metavar="DIR", help="an `optarena bench --out` directory (holds results.db)")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=200,
        metavar="N",
        help="bootstrap replicates per compute-multiplier band (default 200; 0: no bands)",
    )
    p.add_argument(
        "--baseline",
        metavar="NAME",
        help="the optimizer (display name) to compare the others with, instead of the suite's baseline",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from optarena.report import build_report
    from optarena.report.build import floor_lines

    if args.bootstrap < 0:
        return usage_error("report", "--bootstrap must be >= 0")
    try:
        written = build_report(args.results_dir, num_bootstrap=args.bootstrap, baseline=args.baseline)
        floors = floor_lines(args.results_dir, baseline=args.baseline)
    except (FileNotFoundError, ValueError) as e:
        return usage_error("report", e)
    except sqlite3.DatabaseError as e:  # its message ("file is not a database") names no file
        return usage_error("report", f"{args.results_dir}: not a readable results database ({e})")
    print("\n".join([*(f"wrote {path}" for path in written), *floors]))
    return 0
