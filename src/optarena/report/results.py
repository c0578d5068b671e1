"""DIR/results.db, the SQLite file `optarena bench` writes, as plain frozen records for the report.

Read through optarena.bench.db (the module that owns the file: schema, version, reads and writes),
read-only, so a report can be built while the bench is still writing. A column the bench added
after a file was made (the floors, final_val_tokens, tuned_json) reads as None. Where a suite
tunes hyperparameters besides the LR, each run carries their values (`Run.tuned`) and each choice the
coordinate search's last sweep of every coordinate (`Choice.sweeps`). The baseline every comparison
is made against is the suite's `baseline`, from the resolved suite the bench stored (meta.suite_json);
a file made before suites named one compares against adamw.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from optarena.bench.db import ResultsDB, code_of, suite_of
from optarena.bench.suite import DEFAULT_BASELINE


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
    params_non_embedding: int | None
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
    code: str | None = None  # the git commit it ran at (12 digits, "+dirty <diff hash>"); None: not recorded

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


def load_results(results_dir: str | Path, baseline: str | None = None) -> Results:
    """Everything a report needs from `results_dir`/results.db (`with_baseline` when `baseline` is given)."""
    with ResultsDB(results_dir) as db, db.snapshot():
        return with_baseline(read_results(db), baseline)


def read_results(db: ResultsDB) -> Results:
    """Everything a report needs from an open database."""
    meta = db.meta()
    names = [f.name for f in fields(Run) if f.name != "code"]
    runs = tuple(Run(**{n: row[n] for n in names}, code=code_of(row["record_json"])) for row in db.runs())
    choices = {(c["model"], c["optimizer"], c["tokens"], c["data"]): _choice(c) for c in db.choices()
               if c["best_lr"] is not None}
    baseline = suite_of(meta).get("baseline") or DEFAULT_BASELINE
    return Results(db.path.parent, meta, runs, choices, _curves(db.curves()), baseline)


def with_baseline(results: Results, baseline: str | None) -> Results:
    """The results compared with `baseline` when given: a database made before its suite named one (or
    before suites could) may be read against any optimizer it has."""
    if baseline is None:
        return results
    if baseline not in results.optimizers:
        raise ValueError(f"baseline {baseline!r} has no runs in {results.path}; "
                         f"optimizers: {', '.join(results.optimizers) or 'none'}")
    return dataclasses.replace(results, baseline=baseline)


def _choice(row: dict[str, Any]) -> Choice:
    sweeps = tuple(Sweep(s["name"], s["value"], s["at_edge"], s["n_points"], s["at"])
                   for s in json.loads(row["tuned_json"] or "[]"))
    return Choice(row["best_lr"], bool(row["at_edge"]), row["n_lr_points"] or 0, sweeps)


def _curves(points: list[dict[str, Any]]) -> dict[int, Curve]:
    """Each run's validation curve from its points (in run_id, step order): those with a val_loss."""
    rows = [(p["run_id"], p["step"], p["tokens"], p["val_loss"]) for p in points if p["val_loss"] is not None]
    if not rows:
        return {}
    arr = np.array(rows, dtype=np.float64)  # (R, 4): run_id, step, tokens (NaN where NULL), val_loss
    run_ids, starts = np.unique(arr[:, 0], return_index=True)
    out = {}
    for run_id, part in zip(run_ids, np.split(arr, starts[1:])):
        out[int(run_id)] = Curve(part[:, 1].astype(np.int64), part[:, 2], part[:, 3])
    return out
