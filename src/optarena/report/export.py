"""A results directory as data: the leaderboards, every run and every run's curves as CSV and JSON.

    written = export_results("runs/quick")    # also `optarena export DIR`

Files (their columns, units and meanings: docs/export.md):

    leaderboard.csv / .json   one row per optimizer of each leaderboard (model, tokens, data), in the
                              report's order: the report's numbers, computed by the same code
                              (standings.py, floors.py, stability.py), not again here
    runs.csv / .json          one row per run: every column of results.db's `runs` table
    curves.csv / .json        one row per logged point of every run (`run_id` is runs.id)
    meta.json                 the database's meta table, the baseline, the export's format version

`optarena report` writes the leaderboard's two files beside leaderboard.md (`write_leaderboard`: a few
kB, from the leaderboards it has computed anyway); the runs and curves, whose size is of the order of
the database's (the runs' configs and records, every logged point), only `optarena export` writes.

Values: numbers as the database holds them (floats written with Python's shortest round-trip repr,
so a reader gets the same float back); missing and non-finite ones are empty in CSV and null in
JSON; booleans are true/false. A list or object (a leaderboard row's seeds, its tuned values) is its
JSON text in CSV; in runs.json the *_json columns (opt_json, config_json, record_json, tuned_json)
hold the parsed JSON value, in runs.csv its text. A JSON file of rows is a list of objects, one per
line, with the CSV's columns as keys in the same order. Like the report, deterministic: the same
database gives byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from optarena._files import atomic_write
from optarena.bench.db import ResultsDB, fields
from optarena.report.floors import below
from optarena.report.results import Results, read_results, with_baseline
from optarena.report.stability import STABILITY_FIELDS, stability_means
from optarena.report.standings import Leaderboard, Standing, build_leaderboards

EXPORT_VERSION = 1  # of the files' columns, docs/export.md; bumped when a column changes meaning or goes
FORMATS = ("csv", "json")
TABLES = ("leaderboard", "runs", "curves")
META_NAME = "meta.json"
JSON_COLUMNS = ("opt_json", "config_json", "record_json", "tuned_json")  # of runs: parsed in runs.json

LEADERBOARD_COLUMNS = (
    "model", "tokens", "data", "optimizer", "rank", "status",
    "best_lr", "tuned", "picked_by", "lr_at_edge", "num_lrs", "num_diverged_lrs",
    "n_seeds", "mean_final_val_loss", "std_final_val_loss", "seeds", "run_ids",
    "baseline", "delta_vs_baseline", "verdict", "p_welch", "p_holm", "delta_ci_low", "delta_ci_high",
    "tokens_per_s", "opt_state_bytes", "opt_step_s", "params_total", "params_non_embedding",
    "unigram_floor", "bigram_floor", "entropy_rate", "floors_val_tokens", "floors_source",
    "below_bigram", "below_unigram", "excess_over_entropy_rate", "not_language_modelling",
    *(f"mean_{name}" for name in STABILITY_FIELDS), "stability_seeds",
)  # fmt: skip


def export_results(results_dir: str | Path, out_dir: str | Path | None = None, formats: Sequence[str] = FORMATS,
                   baseline: str | None = None) -> list[Path]:
    """Write the export of `results_dir`/results.db into `out_dir` (default: `results_dir`, beside
    leaderboard.md), creating it; returns the files written. `baseline`: as `optarena report --baseline`."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"export formats must be among {', '.join(FORMATS)}, got {', '.join(formats) or 'none'}")
    with ResultsDB(results_dir) as db, db.snapshot():  # one state of the file, though the bench writes on
        results = with_baseline(read_results(db), baseline)
        runs, curves = db.runs(), db.curves()
    out = Path(out_dir) if out_dir is not None else results.path
    if out.exists() and not out.is_dir():
        raise ValueError(f"export directory {out} is a file, not a directory")
    out.mkdir(parents=True, exist_ok=True)
    return write_export(out, results, build_leaderboards(results), runs, curves, formats)


def write_export(out: Path, results: Results, boards: Sequence[Leaderboard], runs: list[dict[str, Any]],
                 curves: list[dict[str, Any]], formats: Sequence[str] = FORMATS) -> list[Path]:
    """Every file of the export in `out`; returns their paths, meta.json last."""
    written = write_leaderboard(out, boards, formats)
    written += _write_table(out, "runs", list(runs[0]) if runs else fields("runs"), runs, formats, JSON_COLUMNS)
    written += _write_table(out, "curves", list(curves[0]) if curves else fields("curves"), curves, formats)
    meta = {"export_version": EXPORT_VERSION, "baseline": results.baseline, "files": [p.name for p in written],
            "meta": results.meta}
    written.append(atomic_write(out / META_NAME, json.dumps(meta, indent=2, ensure_ascii=False) + "\n"))
    return written


def write_leaderboard(out: Path, boards: Sequence[Leaderboard], formats: Sequence[str] = FORMATS) -> list[Path]:
    """leaderboard.csv and .json alone, from leaderboards already computed: what `optarena report` writes
    beside leaderboard.md (a few kB; runs and curves, of the order of the database, are `optarena export`'s)."""
    return _write_table(out, "leaderboard", list(LEADERBOARD_COLUMNS), leaderboard_rows(boards), formats)


def _write_table(out: Path, name: str, columns: list[str], rows: list[dict[str, Any]], formats: Sequence[str],
                 parse: Sequence[str] = ()) -> list[Path]:
    written = []
    if "csv" in formats:
        written.append(atomic_write(out / f"{name}.csv", to_csv(columns, rows)))
    if "json" in formats:
        written.append(atomic_write(out / f"{name}.json", to_json_rows(columns, rows, parse)))
    return written


def leaderboard_rows(boards: Iterable[Leaderboard]) -> list[dict[str, Any]]:
    """One row per standing of each leaderboard, in the report's order (LEADERBOARD_COLUMNS)."""
    return [_row(board, s, rank) for board in boards for s, rank in zip(board.standings, board.ranks)]


def _row(board: Leaderboard, s: Standing, rank: int | None) -> dict[str, Any]:
    summary, verdict, f = s.summary, s.verdict, board.floors
    mean = summary.mean if summary else None
    is_baseline = s.optimizer == board.baseline_name and board.baseline is not None
    stability = stability_means(s) or {}
    row = {
        "model": board.key.model, "tokens": board.key.tokens, "data": board.key.data, "optimizer": s.optimizer,
        "rank": rank, "status": s.status,
        "best_lr": s.best_lr, "tuned": dict(s.tuned), "picked_by": s.picked_by or None, "lr_at_edge": s.edge or None,
        "num_lrs": len(s.lr_points), "num_diverged_lrs": s.num_diverged_lrs,
        "n_seeds": summary.n if summary else 0, "mean_final_val_loss": mean,
        "std_final_val_loss": summary.std if summary else None,
        "seeds": [r.seed for r in s.best_runs], "run_ids": [r.id for r in s.best_runs],
        "baseline": board.baseline_name,
        "delta_vs_baseline": None if is_baseline or verdict is None else verdict.delta,
        "verdict": "baseline" if is_baseline else verdict.verdict if verdict else None,
        "p_welch": verdict.p_value if verdict else None, "p_holm": verdict.p_adjusted if verdict else None,
        "delta_ci_low": verdict.ci[0] if verdict else None, "delta_ci_high": verdict.ci[1] if verdict else None,
        "tokens_per_s": s.tokens_per_s, "opt_state_bytes": s.opt_state_bytes, "opt_step_s": s.opt_step_s,
        "params_total": board.params_total, "params_non_embedding": board.params_non_embedding,
        "unigram_floor": f.unigram, "bigram_floor": f.bigram, "entropy_rate": f.entropy_rate,
        "floors_val_tokens": f.val_tokens, "floors_source": f.source or None,
        "below_bigram": below(f.bigram, mean), "below_unigram": below(f.unigram, mean),
        "excess_over_entropy_rate": None if mean is None or board.loss_floor is None else mean - board.loss_floor,
        "not_language_modelling": board.not_language_modelling,
        **{f"mean_{name}": stability.get(name) for name in STABILITY_FIELDS},
        "stability_seeds": stability.get("seeds", 0),
    }  # fmt: skip
    return {k: row[k] for k in LEADERBOARD_COLUMNS}


# -- formats ------------------------------------------------------------------------------------------
def to_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_csv_value(row.get(c)) for c in columns] for row in rows)
    return buf.getvalue()


def to_json_rows(columns: Sequence[str], rows: Iterable[dict[str, Any]], parse: Sequence[str] = ()) -> str:
    """A JSON list of objects, one per line (diffs and `head` stay readable); the `parse` columns' JSON
    text becomes its value."""
    lines = [json.dumps({c: _json_value(json.loads(row[c]) if c in parse and row.get(c) else row.get(c))
                         for c in columns}, ensure_ascii=False, allow_nan=False) for row in rows]
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def _csv_value(x: Any) -> str:
    x = _json_value(x)
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (list, dict)):
        return json.dumps(x, ensure_ascii=False)
    return repr(x) if isinstance(x, float) else str(x)


def _json_value(x: Any) -> Any:
    """Plain JSON values: numpy scalars as Python's, tuples as lists, NaN and ±inf as None."""
    if hasattr(x, "item") and not isinstance(x, (list, dict, str)):  # numpy scalar
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, tuple):
        return [_json_value(v) for v in x]
    if isinstance(x, list):
        return [_json_value(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _json_value(v) for k, v in x.items()}
    return x
