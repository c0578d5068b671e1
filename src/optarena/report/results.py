"""Read DIR/results.db, the SQLite file `optarena bench` writes, into plain frozen records.

Opened read-only (``mode=ro``), so a report can be built while the bench is still writing. Schema
version 1 (tables meta, runs, curves, choices); see optarena.bench for the writer. A column the bench
added after a file was made (the floors, final_val_tokens, tuned_json) reads as None. Where a suite
tunes hyperparameters besides the LR, each run carries their values (`Run.tuned`) and each choice the
coordinate search's last sweep of every coordinate (`Choice.sweeps`). The baseline every comparison
is made against is the suite's `baseline`, from the resolved suite the bench stored (meta.suite_json);
a file made before suites named one compares against adamw.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from optarena.bench.suite import DEFAULT_BASELINE

DB_NAME = "results.db"
SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class Run:
    """One row of `runs`: the columns a report reads."""

    id: int
    model: str
    optimizer: str  # display name: a registry name or a variant such as "stable-momentum clip=0.5"
    lr: float
    seed: int
    tokens: int
    data: str
    phase: str  # sweep | extend | seeds | fixed
    status: str  # pending | running | finished | diverged | failed
    final_val_loss: float | None
    diverged_at_step: int | None
    tokens_per_s: float | None
    opt_state_bytes: int | None
    opt_step_s: float | None
    params_total: int | None
    params_nonemb: int | None
    loss_floor: float | None  # entropy rate of synthetic data, else None
    unigram_floor: float | None  # reference floors of the data on final_val_tokens (optarena.data.floors)
    bigram_floor: float | None
    final_val_tokens: int | None  # validation targets the final loss scored; None: not recorded
    curve_val_tokens: int | None  # validation targets each curve point scored (the eval prefix)
    curve_unigram_floor: float | None  # the floors on those
    curve_bigram_floor: float | None
    config_json: str | None  # the run's resolved TrainConfig
    tuned_json: str | None = None  # its tuned hyperparameters besides the LR; None: the suite tunes none
    spikes: int | None = None  # stability after the warmup (optarena.train.stability); None: not recorded
    max_spike: float | None = None
    grad_norm_cv: float | None = None
    grad_norm_p99_median: float | None = None

    @property
    def tuned(self) -> dict[str, Any]:
        """{hyperparameter: value} of the tuned ones besides the LR ({} where none is)."""
        return json.loads(self.tuned_json) if self.tuned_json else {}


@dataclass(frozen=True)
class Sweep:
    """A coordinate's last sweep in the bench's coordinate search (bench/tuning.py)."""

    name: str  # "lr" or a tuned hyperparameter
    value: Any  # the value chosen (an LR, not a multiplier)
    at_edge: bool
    num_points: int
    at: dict[str, Any]  # the other coordinates' values while it ran ("lr": the LR)


@dataclass(frozen=True)
class Choice:
    """One row of `choices`: the bench's pick of the best LR for (model, optimizer, tokens, data)."""

    best_lr: float
    at_edge: bool
    num_lr_points: int
    sweeps: tuple[Sweep, ...] = ()  # where the suite tunes more than the LR: each coordinate's, the LR's first

    @property
    def tuned(self) -> dict[str, Any]:
        """{hyperparameter: chosen value} of the tuned ones besides the LR."""
        return {s.name: s.value for s in self.sweeps if s.name != "lr"}


@dataclass(frozen=True)
class Curve:
    """A run's validation evaluations, in step order."""

    step: np.ndarray  # (E,) int
    tokens: np.ndarray  # (E,) float; NaN where the bench did not record them
    val_loss: np.ndarray  # (E,) float


@dataclass(frozen=True)
class Results:
    path: Path  # the results directory
    meta: dict[str, str]
    runs: tuple[Run, ...]
    choices: dict[tuple[str, str, int, str], Choice]  # (model, optimizer, tokens, data) -> choice
    curves: dict[int, Curve]  # run id -> its validation curve (runs without evaluations absent)
    baseline: str = DEFAULT_BASELINE  # the optimizer (display name) every "vs baseline" compares against

    @property
    def optimizers(self) -> list[str]:
        return sorted({r.optimizer for r in self.runs})


def suite_of(meta: dict[str, str]) -> dict[str, Any]:
    """The resolved suite the bench stored (meta.suite_json); {} when the file has none or it is unreadable."""
    try:
        suite = json.loads(meta.get("suite_json") or "{}")
    except json.JSONDecodeError:
        return {}
    return suite if isinstance(suite, dict) else {}


def load_results(results_dir: str | Path) -> Results:
    """Everything a report needs from `results_dir`/results.db."""
    path = Path(results_dir)
    db = path / DB_NAME
    if not db.is_file():
        raise FileNotFoundError(f"no {DB_NAME} in {path} (is it an `optarena bench --out` directory?)")
    con = sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        version = meta.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(f"{db}: schema_version {version!r}, this report reads {SCHEMA_VERSION!r}")
        baseline = suite_of(meta).get("baseline") or DEFAULT_BASELINE
        return Results(path, meta, _runs(con), _choices(con), _curves(con), baseline)
    finally:
        con.close()


def _runs(con: sqlite3.Connection) -> tuple[Run, ...]:
    have = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
    columns = [f.name if f.name in have else f"NULL AS {f.name}" for f in fields(Run)]
    rows = con.execute(f"SELECT {', '.join(columns)} FROM runs ORDER BY id").fetchall()
    return tuple(Run(*row) for row in rows)


def _choices(con: sqlite3.Connection) -> dict[tuple[str, str, int, str], Choice]:
    have = {row[1] for row in con.execute("PRAGMA table_info(choices)")}
    tuned = "tuned_json" if "tuned_json" in have else "NULL"
    rows = con.execute(f"SELECT model, optimizer, tokens, data, best_lr, at_edge, n_lr_points, {tuned} FROM choices")
    return {(m, o, t, d): Choice(lr, bool(edge), n or 0, _sweeps(sweeps))
            for m, o, t, d, lr, edge, n, sweeps in rows if lr is not None}


def _sweeps(text: str | None) -> tuple[Sweep, ...]:
    return tuple(Sweep(s["name"], s["value"], s["at_edge"], s["n_points"], s["at"]) for s in json.loads(text or "[]"))


def _curves(con: sqlite3.Connection) -> dict[int, Curve]:
    rows = con.execute(
        "SELECT run_id, step, tokens, val_loss FROM curves WHERE val_loss IS NOT NULL ORDER BY run_id, step"
    ).fetchall()
    if not rows:
        return {}
    arr = np.array(rows, dtype=np.float64)  # (R, 4): run_id, step, tokens, val_loss
    run_ids, starts = np.unique(arr[:, 0], return_index=True)
    out = {}
    for run_id, part in zip(run_ids, np.split(arr, starts[1:])):
        out[int(run_id)] = Curve(part[:, 1].astype(np.int64), part[:, 2], part[:, 3])
    return out
