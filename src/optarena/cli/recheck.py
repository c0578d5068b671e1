"""``optarena recheck DIR``: train finished cells of DIR/results.db again at this code; compare the losses.

    optarena recheck results/seed-134m                   the cheapest finished run of each commit the
                                                         runs were made at (--sample N of them, 3)
    optarena recheck results/seed-134m --cell KEY        named cells (repeatable; the runs' `cell` keys)
    optarena recheck DIR --cell KEY --set optim.fused=off   the same with a setting changed

Each cell is trained from its stored config into a temporary directory (DIR is not written), with the
torch threads its run recorded (else 1, the bench's default), and its final validation loss is compared
with the stored one: on the same kind of machine an unchanged code path reproduces it to the last bit.
Exit status: 0 when every rerun agrees (within --tol), 1 when one differs or does not finish, 2 for a
bad argument or an unreadable DIR.
"""

from __future__ import annotations

import argparse
import sqlite3

from optarena.cli import usage_error


def register(sub) -> None:
    p = sub.add_parser("recheck", help="rerun finished cells of DIR at this code and compare their final losses",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results_dir", metavar="DIR", help="an `optarena bench --out` directory (holds results.db)")
    p.add_argument("--cell", action="append", default=[], metavar="KEY", help="a finished cell to rerun; repeatable")
    p.add_argument("--sample", type=int, default=3, metavar="N",
                   help="without --cell: the cheapest finished run of each commit, N at most (default 3)")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads (default: the run's recorded, else 1)")
    p.add_argument("--tol", type=float, default=0.0, metavar="X",
                   help="the largest |rerun - stored| loss that agrees (default 0: bitwise)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a setting of every rerun (e.g. optim.fused=off: does the loss depend on the "
                        "fused step?); repeatable")
    p.add_argument("--dry-run", action="store_true", help="list the cells it would rerun; run nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from optarena.bench.recheck import describe, pick, recheck

    try:
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        if args.tol < 0:
            raise ValueError(f"--tol must be >= 0, got {args.tol}")
        from optarena.train.loading import parse_assignment

        overrides = [parse_assignment(a) for a in args.set]
        managed = [k for k, _ in overrides if k in ("run.out", "run.resume")]
        if managed:
            raise ValueError(f"--set {managed[0]}: recheck sets it (a temporary directory, from scratch)")
        runs = pick(args.results_dir, args.cell, args.sample)
    except (ValueError, FileNotFoundError) as e:
        return usage_error("recheck", e)
    except sqlite3.DatabaseError as e:
        return usage_error("recheck", f"{args.results_dir}: not a readable results database ({e})")
    if args.dry_run:
        for r in runs:
            print(f"{r['cell']}  (made at {r['code'] or 'an unrecorded commit'}; "
                  f"loss {r['final_val_loss']:.10g}; {r['wall_s'] or 0:.0f} s)")
        return 0
    try:
        checks = recheck(runs, threads=args.threads, tol=args.tol, overrides=overrides)
    except ValueError as e:  # a --set key or value the config refuses
        return usage_error("recheck", e)
    bad = [c for c in checks if not c.agrees(args.tol)]
    print(f"{len(checks) - len(bad)} of {len(checks)} rerun(s) agree with the stored loss"
          + (" (bitwise)" if args.tol == 0 else f" (within {args.tol:g})"))
    for c in bad:
        print(f"  {c.cell}: {describe(c, args.tol)}")
    return 1 if bad else 0
