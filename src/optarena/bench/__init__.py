"""optarena.bench: suites of training runs, tuned fairly, into one SQLite database per results directory.

    >>> from optarena.bench import load_suite, run_suite, ResultsDB
    >>> summary = run_suite(load_suite("quick"), "results/quick", jobs=2)
    >>> ResultsDB("results/quick").runs(status="finished")

    suite.py     a suite TOML -> Suite: models x optimizers x LR grid x seeds x budgets x data
    tuned.py     the hyperparameters a suite tunes besides the LR: `tune` grids, checked fair
    files.py     the named suites; a suite file with its base (`extends`) and [full] merged
    smoke.py     --smoke: any suite shrunk to seconds
    lrtable.py   tuned LR tables: read by suites, written from a sweep's database
    cells.py     one run of a suite: its key, directory and trainer settings; budgets resolved
    tuning.py    fair tuning: a coordinate search (LR, then each tuned hyperparameter), grid
                 extension at an edge, finalist seeds, the choice
    db.py        DIR/results.db: the schema (the report's contract) and its read/write API
    worker.py    one cell in a worker process; optimizer memory and step time measured
    runner.py    run_suite: the resumable loop over cells, several jobs at a time
    progress.py  per-cell lines, overall count and ETA
    suites/      the named suites (`optarena bench --list`) and their LR tables
"""

from .db import SCHEMA_VERSION, ResultsDB
from .files import named_suites
from .smoke import smoke
from .suite import Suite, Variant, load_suite

__all__ = ["SCHEMA_VERSION", "ResultsDB", "Suite", "Variant", "load_suite", "named_suites", "run_suite", "smoke"]


def __getattr__(name: str):
    # run_suite pulls in torch; keep `import optarena.bench` light for the report and --help.
    if name == "run_suite":
        from .runner import run_suite

        return run_suite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
