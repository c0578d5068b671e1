"""`optarena export` / `export_results`: the files hold what results.db holds, and the report's numbers.

The database is the report tests' synthetic one (helpers.py), given the floors and, for muon, the
stability a bench records. Runs and curves are compared with SQL on the file, value for value; the
leaderboard with the report's own leaderboards, with a recomputation from SQL, and with leaderboard.md.
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3
import statistics
from pathlib import Path

import pytest

from optarena.cli import main
from optarena.report import build_report, export_results
from optarena.report.export import LEADERBOARD_COLUMNS
from optarena.report.results import load_results
from optarena.report.standings import build_leaderboards
from tests.report.helpers import set_floors, write_db
from tests.report.test_report import _rows, _section

NAMES = ["leaderboard.csv", "leaderboard.json", "runs.csv", "runs.json", "curves.csv", "curves.json", "meta.json"]
RUN_JSON_COLUMNS = ("opt_json", "config_json", "record_json", "tuned_json")


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    db = write_db(out)
    set_floors(db, unigram=4.25, bigram=3.8, val_tokens=131072)
    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET spikes = 2, max_spike = 0.25, grad_norm_cv = 0.4, grad_norm_p99_median = 3.0, "
                "config_json = '{\"optim\": {\"lr\": 0.001}, \"log\": {\"eval_tokens\": -1}}' WHERE optimizer = 'muon'")
    con.commit()
    con.close()
    return out


@pytest.fixture(scope="module")
def exported(results_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exported") / "new" / "dir"  # created, parents too
    written = export_results(results_dir, out)
    assert [p.name for p in written] == NAMES and all(p.parent == out for p in written)
    return out


def _sql(results_dir: Path, query: str) -> list[dict]:
    con = sqlite3.connect(results_dir / "results.db")
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute(query)]
    con.close()
    return rows


def _csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def _same(text: str, value) -> bool:
    """A CSV cell against a database value, exactly: floats by their round-trip repr."""
    if value is None:
        return text == ""
    if isinstance(value, float):
        return float(text) == value
    return text == str(value)


def test_runs_hold_every_column_of_the_database_exactly(results_dir, exported):
    rows = _sql(results_dir, "SELECT * FROM runs ORDER BY id")
    assert len(rows) > 40
    names = [("params_non_embedding" if k == "params_nonemb" else k) for k in rows[0]]  # the one name
    header, table = _csv(exported / "runs.csv")
    assert header == names and len(table) == len(rows)
    records = json.loads((exported / "runs.json").read_text(encoding="utf-8"))
    assert len(records) == len(rows)
    for db_row, csv_row, record in zip(rows, table, records):
        assert list(record) == names
        for column, name in zip(db_row, names):
            value = db_row[column]
            assert _same(csv_row[name], value), (name, csv_row[name], value)
            if name in RUN_JSON_COLUMNS:  # parsed in the JSON file, its text in the CSV
                assert record[name] == (json.loads(value) if value else None), name
            else:
                assert record[name] == value and type(record[name]) is type(value), (name, record[name], value)
    muon = next(r for r in records if r["optimizer"] == "muon")
    assert muon["config_json"] == {"optim": {"lr": 0.001}, "log": {"eval_tokens": -1}} and muon["spikes"] == 2


def test_curves_hold_every_point_exactly(results_dir, exported):
    rows = _sql(results_dir, "SELECT * FROM curves ORDER BY run_id, step")
    header, table = _csv(exported / "curves.csv")
    records = json.loads((exported / "curves.json").read_text(encoding="utf-8"))
    assert header == list(rows[0]) == ["run_id", "step", "tokens", "train_loss", "val_loss", "lr"]
    assert len(table) == len(records) == len(rows) > 500
    assert records == rows  # NULL (the diverged evaluation) is null
    for db_row, csv_row in zip(rows, table):
        assert all(_same(csv_row[k], v) for k, v in db_row.items()), db_row
    assert any(r["val_loss"] is None for r in rows)


def test_meta_names_the_database_the_baseline_and_the_files(results_dir, exported):
    meta = json.loads((exported / "meta.json").read_text(encoding="utf-8"))
    stored = {r["key"]: r["value"] for r in _sql(results_dir, "SELECT key, value FROM meta")}
    assert meta == {"export_version": 1, "baseline": "adamw", "files": NAMES[:-1], "meta": stored}


def test_the_leaderboard_is_the_reports(results_dir, exported):
    boards = build_leaderboards(load_results(results_dir))
    header, table = _csv(exported / "leaderboard.csv")
    records = json.loads((exported / "leaderboard.json").read_text(encoding="utf-8"))
    assert header == list(LEADERBOARD_COLUMNS) and all(list(r) == header for r in records)
    standings = [(b, s, rank) for b in boards for s, rank in zip(b.standings, b.ranks)]
    assert len(records) == len(table) == len(standings) == 10  # 2 sizes x 5 optimizers
    for (board, s, rank), record, row in zip(standings, records, table):
        assert (record["model"], record["tokens"], record["data"]) == tuple(board.key)
        assert (record["optimizer"], record["rank"], record["status"]) == (s.optimizer, rank, s.status)
        assert record["best_lr"] == s.best_lr and record["picked_by"] == (s.picked_by or None)
        assert record["picked_by"] == ("bench" if s.status != "diverged" else None)  # helpers.py: every choice made
        if s.summary:
            assert (record["mean_final_val_loss"], record["n_seeds"]) == (s.summary.mean, s.summary.n)
            assert record["seeds"] == [r.seed for r in s.best_runs]
            assert record["run_ids"] == [r.id for r in s.best_runs]
        assert (record["tokens_per_s"], record["opt_state_bytes"], record["opt_step_s"]) == (
            s.tokens_per_s, s.opt_state_bytes, s.opt_step_s)
        assert (record["params_total"], record["params_non_embedding"]) == (board.params_total,
                                                                          board.params_non_embedding)
        for name, text in row.items():  # the CSV says what the JSON says
            value = record[name]
            expected = "" if value is None else json.dumps(value) if isinstance(value, (list, dict)) else (
                "true" if value is True else "false" if value is False else repr(value) if isinstance(value, float)
                else str(value))
            assert text == expected, (name, text, value)


def test_the_leaderboard_recomputed_from_sql(results_dir, exported):
    """Mean, sample std and n of the seeds at the bench's chosen LR; the verdicts' p-values; the floors."""
    records = json.loads((exported / "leaderboard.json").read_text(encoding="utf-8"))
    choices = _sql(results_dir, "SELECT * FROM choices")
    for c in choices:
        (record,) = [r for r in records if (r["model"], r["optimizer"], r["tokens"]) ==
                     (c["model"], c["optimizer"], c["tokens"])]
        at_best = [r["final_val_loss"] for r in _sql(
            results_dir, f"SELECT lr, final_val_loss FROM runs WHERE model = '{c['model']}' AND optimizer = "
                         f"'{c['optimizer']}' AND tokens = {c['tokens']} AND status = 'finished' ORDER BY seed")
                   if math.isclose(r["lr"], c["best_lr"], rel_tol=1e-9)]
        assert record["best_lr"] == c["best_lr"] and record["n_seeds"] == len(at_best) > 0
        assert record["mean_final_val_loss"] == pytest.approx(statistics.fmean(at_best), rel=1e-12)
        if len(at_best) > 1:
            assert record["std_final_val_loss"] == pytest.approx(statistics.stdev(at_best), rel=1e-9)
        else:  # a single seed has no sample std: empty in CSV, null in JSON
            assert record["std_final_val_loss"] is None and record["verdict"] in ("n/a (1 seed)", "baseline")
        assert record["lr_at_edge"] == (("lowest" if c["best_lr"] == min(
            r["lr"] for r in _sql(results_dir, f"SELECT lr FROM runs WHERE model = '{c['model']}' AND optimizer = "
                                               f"'{c['optimizer']}' AND tokens = {c['tokens']}")) else "highest")
                                        if c["at_edge"] else None)
        assert (record["unigram_floor"], record["bigram_floor"], record["floors_val_tokens"]) == (4.25, 3.8, 131072)
        assert record["below_bigram"] == pytest.approx(3.8 - record["mean_final_val_loss"], abs=1e-15)
        assert record["floors_source"] == "bench" and record["entropy_rate"] is None
    muon = [r for r in records if r["optimizer"] == "muon"]
    assert all((r["mean_spikes"], r["mean_max_spike"], r["stability_seeds"]) == (2, 0.25, 3) for r in muon)
    adamw = [r for r in records if r["optimizer"] == "adamw"]
    assert all(r["verdict"] == "baseline" and r["delta_vs_baseline"] is None and r["p_welch"] is None for r in adamw)
    lion = next(r for r in records if r["optimizer"] == "lion" and r["model"] == "small")
    assert (lion["status"], lion["rank"], lion["n_seeds"], lion["mean_final_val_loss"]) == ("diverged", None, 0, None)


def test_the_leaderboard_rows_read_as_leaderboard_md(results_dir, exported, tmp_path):
    """Rank order, the loss cell and the verdict of every row, against the Markdown the report writes."""
    (tmp_path / "results.db").write_bytes((results_dir / "results.db").read_bytes())
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text(encoding="utf-8")
    records = json.loads((exported / "leaderboard.json").read_text(encoding="utf-8"))
    for model in ("tiny", "small"):
        rows = _rows(_section(md, f"### {model}"))
        mine = [r for r in records if r["model"] == model]
        assert [r["optimizer"] for r in mine] == list(rows)
        for r in mine:
            cells = rows[r["optimizer"]]
            assert cells[0] == (str(r["rank"]) if r["rank"] else "—")
            if r["n_seeds"] > 1:
                assert cells[2] == f"{r['mean_final_val_loss']:.4f} ± {r['std_final_val_loss']:.4f} (n={r['n_seeds']})"
            elif r["n_seeds"] == 1:
                assert cells[2] == f"{r['mean_final_val_loss']:.4f} (n=1)"
            if r["verdict"] not in (None, "baseline"):
                assert cells[4].strip("*") == r["verdict"]
    # the report writes the same leaderboard files beside leaderboard.md
    for name in ("leaderboard.csv", "leaderboard.json"):
        assert (tmp_path / name).read_bytes() == (exported / name).read_bytes()


def test_the_export_is_deterministic_and_formats_are_chosen(results_dir, exported, tmp_path):
    again = export_results(results_dir, tmp_path / "again")
    assert all(p.read_bytes() == (exported / p.name).read_bytes() for p in again)
    assert main(["export", str(results_dir), "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["curves.csv", "leaderboard.csv", "meta.json",
                                                                    "runs.csv"]
    assert main(["export", str(results_dir), "--format", "json", "--out", str(tmp_path / "json")]) == 0
    assert sorted(p.name for p in (tmp_path / "json").iterdir()) == ["curves.json", "leaderboard.json", "meta.json",
                                                                     "runs.json"]
    with pytest.raises(ValueError, match="export formats must be among csv, json, got xml"):
        export_results(results_dir, tmp_path / "x", formats=("xml",))


def test_the_cli_writes_into_the_results_directory_by_default(results_dir, tmp_path, capsys):
    (tmp_path / "results.db").write_bytes((results_dir / "results.db").read_bytes())
    assert main(["export", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote {tmp_path / name}" for name in NAMES]


@pytest.mark.parametrize("setup, args, message", [
    (None, [], "no results.db in {d} (is it an `optarena bench --out` directory?)"),
    ("garbage", [], "{d}/results.db is not a results database"),
    ("db", ["--baseline", "sgd"], "baseline 'sgd' has no runs in {d}; optimizers: adamw, dms, lion, muon, "
                                  "stable-momentum"),
    ("db", ["--out", "{d}/results.db"], "export directory {d}/results.db is a file, not a directory"),
])
def test_the_cli_names_what_is_wrong_with_exit_2(results_dir, tmp_path, capsys, setup, args, message):
    if setup == "garbage":
        (tmp_path / "results.db").write_text("not a database " * 100)
    elif setup == "db":
        (tmp_path / "results.db").write_bytes((results_dir / "results.db").read_bytes())
    assert main(["export", str(tmp_path), *(a.format(d=tmp_path) for a in args)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("optarena export: error: ")
    assert message.format(d=tmp_path) in captured.err
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm")))  # SQLite's own
    assert left == ([] if setup is None else ["results.db"])  # no file of the export written
