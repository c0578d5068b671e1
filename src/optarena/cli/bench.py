"""``optarena bench``: run a suite of training runs into DIR/results.db, then build its report.

    optarena bench --list                          the named suites, their cells and what they are
    optarena bench quick --out results/quick --jobs 2
    optarena bench seed-134m --dry-run             the cells (LRs, tuned hyperparameters), nothing run
    optarena bench seed-134m --full --data DIR     the paper-size suite (GPUs), on a FineWeb shard dir
    optarena bench adana-ladder --smoke            any suite shrunk to seconds (tests, a first look)
    optarena bench tune-table DIR                  a finished sweep's LRs, and what it tuned at each (TOML)
    optarena bench quick --tensorboard --wandb     every cell's curves in one TensorBoard dir, one W&B group

SUITE is a named suite or the path of a suite TOML file (see optarena/bench/suite.py for the
format). A rerun with the same --out skips finished cells: after a crash or Ctrl-C, run the same
command again. Exit status: 0 when every cell finished or diverged, 1 when some failed, 2 for a bad
suite, argument, data or results database (one line naming it; --dry-run too, after its table,
when the data is missing or unreadable), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys

from optarena.cli import usage_error

TUNE_TABLE = "tune-table"


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark suite (tuned fairly, resumable) into DIR/results.db",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("suite", nargs="?", metavar="SUITE", help=f"a named suite, a suite .toml, or {TUNE_TABLE}")
    p.add_argument("dir", nargs="?", metavar="DIR", help=f"{TUNE_TABLE}: the sweep's results directory")
    p.add_argument("--list", action="store_true", help="list the named suites")
    p.add_argument("--out", metavar="DIR", help="results directory (default results/SUITE[-smoke|-full])")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="cells run at once, each in its own process (default 1; 0: in this process)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch threads per job (default 1)")
    p.add_argument("--full", action="store_true", help="the suite's paper-size [full] settings (GPUs)")
    p.add_argument("--smoke", action="store_true", help="shrink the suite to a few steps per cell")
    p.add_argument("--data", metavar="SPEC", help="replace the suite's data (embedded, synthetic[:..], a shard dir)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a training setting for every cell, after the suite's [train]; repeatable")
    p.add_argument("--dry-run", action="store_true", help="print the cells and their total tokens; run nothing")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep each cell's final checkpoint (checkpoint.pt; checkpoint/ for a multi-rank cell)")
    p.add_argument("--tensorboard", action="store_true",
                   help="mirror every cell's metrics to TensorBoard, one log dir per cell under DIR/tensorboard "
                        "(tensorboard --logdir DIR/tensorboard; needs optarena[logging])")
    p.add_argument("--wandb", nargs="?", const="optarena", metavar="PROJECT",
                   help="mirror every cell's metrics to Weights & Biases: project PROJECT (default optarena), "
                        "one group for the suite, each run named by its cell (needs optarena[logging])")
    g = p.add_argument_group("cluster", "each cell a job of an engine (needs optarena[cluster]); the driver alone "
                                        "writes DIR/results.db, and a rerun reattaches to the jobs a dead driver left")
    g.add_argument("--executor", choices=("process", "local", "slurm"), default="process",
                   help="process: worker processes of this command (default); slurm: a SLURM job per cell "
                        "(submitit); local: submitit's local executor, a detached process per cell")
    g.add_argument("--partition", metavar="NAME", help="slurm partition")
    g.add_argument("--gpus-per-cell", type=int, default=0, metavar="N",
                   help="GPUs per cell (default 0); N > 1: one run on N GPUs of a node, a task per GPU (DDP/FSDP2)")
    g.add_argument("--cpus-per-cell", type=int, metavar="N", help="CPU cores per task (default --threads)")
    g.add_argument("--time-limit", type=int, metavar="MIN",
                   help="the engine's time limit per job, minutes (default 1440); a timed-out job is requeued "
                        "and resumes from its checkpoint")
    g.add_argument("--mem-gb", type=float, metavar="G", help="memory per job, GB")
    g.add_argument("--slurm", action="append", default=[], metavar="KEY=VALUE",
                   help="another sbatch option for every job, e.g. --slurm account=lab --slurm qos=high; repeatable")
    p.add_argument("--redo", action="append", default=[], metavar="NAME",
                   help="run an optimizer row's cells again where they were made at another commit (the report "
                        "names rows whose runs span commits); the runs made at this code stay; repeatable")
    p.add_argument("--no-report", action="store_true", help="do not build the report at the end")
    p.add_argument("--heartbeat", type=float, default=60.0, metavar="S",
                   help="seconds without a finished cell before the cells in flight are shown (60)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.list:
            return list_suites()
        if args.suite == TUNE_TABLE:
            return tune_table(args.dir)
        if args.suite is None:
            raise ValueError("name a suite (optarena bench --list shows them)")
        suite = _load(args)
        if args.dry_run:
            return dry_run(suite)
        return run_bench(suite, args)
    except (ValueError, FileNotFoundError) as e:
        return usage_error("bench", e)
    except sqlite3.DatabaseError as e:  # an unreadable results.db the runner did not open itself
        return usage_error("bench", f"{args.out or args.dir}: not a readable results database ({e})")


def _load(args: argparse.Namespace):
    from optarena.bench import load_suite, smoke
    from optarena.train.loading import parse_assignment

    if args.jobs < 0:
        raise ValueError(f"--jobs must be >= 0 (0: in this process), got {args.jobs}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.wandb is not None and not args.wandb.strip():
        raise ValueError("--wandb PROJECT must name a project (without PROJECT: 'optarena')")
    suite = load_suite(args.suite, full=args.full, data=args.data,
                       train=tuple(parse_assignment(a, "--set") for a in args.set))
    return smoke(suite) if args.smoke else suite


def list_suites() -> int:
    from optarena.bench import load_suite, named_suites

    # unchecked: a listing reads TOML files and must not import torch; the tests check these suites
    suites = [load_suite(name, check=False) for name in named_suites()]
    width = max(len(s.name) for s in suites)
    for s in suites:
        extend = f" (+{s.max_cells() - s.planned_cells()} if grids extend)" if s.max_cells() > s.planned_cells() else ""
        print(f"{s.name:<{width}}  {s.planned_cells():>4} cells{extend:<24}  {s.description}")
    return 0


def tune_table(results_dir: str | None) -> int:
    from optarena.bench.lrtable import table_from_db

    if results_dir is None:
        raise ValueError(f"{TUNE_TABLE} needs the sweep's results directory")
    sys.stdout.write(table_from_db(results_dir))
    return 0


def dry_run(suite) -> int:
    """The cells and their cost. Missing or unreadable data still shows the table (planned with GPT-2's
    vocabulary, no validation set), then is an error, exit 2: a real run would stop on it."""
    from optarena.bench.cells import DataInfo, data_info, resolve_groups

    try:
        info, problem = data_info(suite.data), None
    except (ValueError, OSError) as e:  # ShardError and a bad meta.json are ValueErrors
        problem = str(e)
        info = DataInfo(50304, 0, None, note=f"data {suite.data!r} unusable: the table assumes GPT-2 tokens, "
                                             "no val set")
    if info.note:
        print(f"note: {info.note}")
    groups = resolve_groups(suite, info)
    print(f"suite {suite.name} ({suite.mode}): {suite.description}")
    if suite.tunes_more:
        rounds = f"{suite.tune_rounds} rounds" if suite.tune_rounds > 1 else "one round"
        print(f"coordinate search ({rounds}): the LRs at each optimizer's own values (*) of the tuned\n"
              "hyperparameters, then each of those in turn at the best values so far; seeds at the best point")
    more = f"  {'tuned after the LR':<44} cells" if suite.tunes_more else ""
    print(f"{'model':<10} {'optimizer':<28} {'tokens':>14} {'steps':>7}  {'LRs (seed 0)':<40} seeds{more}")
    tokens = 0
    for g in groups:
        lrs = ", ".join(f"{g.variant.centre(g.model) * m:.3g}" for m in suite.lr_mults)
        n_seeds, n_cells = suite.seeds_of(g.variant), suite.cells_per_group(g.variant)
        more = f"  {_grids(g.variant):<44} {n_cells}" if suite.tunes_more else ""
        row = f"{g.model:<10} {g.variant.name:<28} {g.tokens:>14,} {g.steps:>7}  {lrs:<40} {n_seeds:<5}{more}"
        print(row.rstrip())
        tokens += g.tokens * n_cells
    extra = suite.max_cells() - suite.planned_cells()
    print(f"{suite.planned_cells()} cells, {tokens:,} training tokens in all"
          + (f"; grid extensions may add up to {extra} cells" if extra else ""))
    if problem:
        return usage_error("bench", f"the suite's data: {problem}")
    return 0


def _grids(variant) -> str:
    """A row's tuned hyperparameters and their grids, the start marked: "weight_decay 0*, 0.01, 0.1"."""
    from optarena.bench.tuned import show

    return "; ".join(f"{t.name} " + ", ".join(show(x) + "*" * (x == t.start) for x in t.grid) for t in variant.tune)


def run_bench(suite, args: argparse.Namespace) -> int:
    from optarena.bench import run_suite
    from optarena.bench.cells import Mirrors

    out = args.out or f"results/{suite.name}" + ("" if suite.mode == "cpu" else f"-{suite.mode}")
    engine = engine_spec(args)
    where = f" in flight on {engine.kind} (job files: {out}/engine)" if engine else ""
    print(f"suite {suite.name} ({suite.mode}): {suite.planned_cells()} cells -> {out}/results.db, "
          f"{args.jobs or 'in-process'} job(s){where}", flush=True)
    mirrors = Mirrors(tensorboard=args.tensorboard, wandb_project=args.wandb)
    summary = run_suite(suite, out, jobs=args.jobs, threads=args.threads, keep_checkpoints=args.keep_checkpoints,
                        heartbeat_s=args.heartbeat, mirrors=mirrors, engine=engine, redo=tuple(args.redo))
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
    print(f"done in {summary.wall_s:.0f} s: {summary.ran} cell(s) run now; in the database: {counts}")
    if summary.interrupted:
        return 130
    report_ok = args.no_report or build_report(out)
    return 0 if summary.counts.get("failed", 0) == 0 and report_ok else 1


def engine_spec(args: argparse.Namespace):
    """--executor and its options: None for the runner's own processes, else an EngineSpec."""
    from optarena.bench.engine import EngineSpec, require_submitit

    engine_only = [f for f, v in (("--partition", args.partition), ("--gpus-per-cell", args.gpus_per_cell),
                                  ("--cpus-per-cell", args.cpus_per_cell), ("--mem-gb", args.mem_gb),
                                  ("--slurm", args.slurm), ("--time-limit", args.time_limit is not None)) if v]
    if args.executor == "process":
        if engine_only:
            raise ValueError(f"{', '.join(engine_only)}: options of --executor local|slurm")
        return None
    slurm = []
    for a in args.slurm:
        key, sep, value = a.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--slurm {a!r}: expected KEY=VALUE (an sbatch option without its dashes)")
        slurm.append((key.strip(), value))
    limit = {} if args.time_limit is None else {"time_limit_min": args.time_limit}  # else EngineSpec's default
    spec = EngineSpec(args.executor, partition=args.partition, gpus_per_cell=args.gpus_per_cell,
                      cpus_per_cell=args.cpus_per_cell, mem_gb=args.mem_gb, slurm=tuple(slurm), **limit)
    require_submitit()
    if spec.kind == "slurm" and shutil.which("srun") is None:  # before any results.db is made
        raise ValueError('--executor slurm: no "srun" on PATH: run the suite from a SLURM login node')
    return spec


def build_report(out: str) -> bool:
    """Build DIR's report; a failure (an import error included: the report is part of the package)
    is said on stderr and makes the exit status 1, while the results stay safe in the database."""
    try:
        from optarena.report import build_report as build
        from optarena.report.build import floor_lines

        written = build(out)
        floors = floor_lines(out)
    except Exception as e:  # the results are safe in the database; say what went wrong
        print(f"optarena bench: the report failed: {type(e).__name__}: {e}", file=sys.stderr)
        return False
    paths = written if isinstance(written, (list, tuple)) else [written]
    print("\n".join(["report: " + ", ".join(str(p) for p in paths), *floors]))
    return True
