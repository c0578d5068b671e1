"""DIR/results.db: the schema the report reads (a contract: columns may be added, never renamed)."""

from __future__ import annotations

import sqlite3

import pytest

from optarena.bench import SCHEMA_VERSION, ResultsDB

CONTRACT = {
    "meta": ["key", "value"],
    "runs": ["id", "cell", "suite", "model", "optimizer", "optimizer_name", "opt_json", "lr", "lr_mult", "seed",
             "tokens", "data", "phase", "status", "final_val_loss", "diverged_at_step", "steps", "tokens_per_s",
             "opt_state_bytes", "opt_step_s", "params_total", "params_nonemb", "flops_per_token", "loss_floor",
             "out_dir", "error", "config_json", "record_json", "started_at", "finished_at", "wall_s", "pid",
             "host", "peak_mem_bytes", "unigram_floor", "bigram_floor", "final_val_tokens", "curve_val_tokens",
             "curve_unigram_floor", "curve_bigram_floor", "tuned_json"],
    "curves": ["run_id", "step", "tokens", "train_loss", "val_loss", "lr"],
    "choices": ["model", "optimizer", "tokens", "data", "best_lr", "at_edge", "n_lr_points", "best_val_loss",
                "lr_source", "tuned_json"],
}  # fmt: skip


def test_schema_holds_the_contract_columns_in_order(tmp_path):
    ResultsDB(tmp_path, create=True).close()
    con = sqlite3.connect(tmp_path / "results.db")
    for table, columns in CONTRACT.items():
        have = [row[1] for row in con.execute(f"PRAGMA table_info({table})")]
        assert have[: len(columns)] == columns, table
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ResultsDB(tmp_path).meta()["schema_version"] == str(SCHEMA_VERSION) == "1"


def test_read_api(tmp_path):
    db = ResultsDB(tmp_path, create=True)
    db.add_pending([{"cell": "a", "model": "tiny", "optimizer": "adamw", "lr": 1e-3}])
    run_id = db.claim("a", "now")
    assert db.claim("a", "now") is None  # running: nobody else may take it
    db.record(run_id, {"status": "finished", "final_val_loss": 3.5, "unigram_floor": 4.1, "bigram_floor": 3.6,
                       "final_val_tokens": 2048},
              [{"step": 1, "tokens": 8, "train_loss": 4.0, "val_loss": None, "lr": 1e-3},
               {"step": 2, "tokens": 16, "train_loss": 3.6, "val_loss": 3.5, "lr": 5e-4}])
    db.set_choices([{"model": "tiny", "optimizer": "adamw", "tokens": 16, "data": "d", "best_lr": 1e-3,
                     "at_edge": 0, "n_lr_points": 1}])
    reader = ResultsDB(tmp_path / "results.db")  # the directory or the file
    (run,) = reader.runs(status="finished")
    assert run["final_val_loss"] == 3.5 and reader.runs(status="failed") == []
    assert (run["unigram_floor"], run["bigram_floor"], run["final_val_tokens"]) == (4.1, 3.6, 2048)
    assert [c["val_loss"] for c in reader.curves(run["id"])] == [None, 3.5]
    assert reader.choices()[0]["best_lr"] == 1e-3


def test_missing_database_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        ResultsDB(tmp_path / "nothing")


OLD_RUNS = ("CREATE TABLE runs(id INTEGER PRIMARY KEY, cell TEXT UNIQUE NOT NULL, model TEXT, optimizer TEXT, "
            "lr REAL, seed INTEGER, tokens INTEGER, data TEXT, status TEXT, final_val_loss REAL, loss_floor REAL)")
OLD_CHOICES = ("CREATE TABLE choices(model TEXT, optimizer TEXT, tokens INTEGER, data TEXT, best_lr REAL, "
               "at_edge INTEGER, n_lr_points INTEGER, PRIMARY KEY(model, optimizer, tokens, data))")


def test_a_file_from_an_older_bench_opens_and_gains_the_new_columns(tmp_path):
    con = sqlite3.connect(tmp_path / "results.db")
    con.executescript(f"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT); {OLD_RUNS}; {OLD_CHOICES};"
                      "INSERT INTO meta VALUES('schema_version', '1');"
                      "INSERT INTO runs(cell, model, status, final_val_loss) VALUES('a', 'tiny', 'finished', 3.5);")
    con.close()
    (old,) = ResultsDB(tmp_path).runs()  # a reader leaves the file alone and reads the new columns as NULL
    assert old["final_val_loss"] == 3.5 and old["bigram_floor"] is None and old["host"] is None
    assert "bigram_floor" not in [row[1] for row in sqlite3.connect(tmp_path / "results.db").execute(
        "PRAGMA table_info(runs)")]
    db = ResultsDB(tmp_path, create=True)  # the bench, resuming: every column of the schema added
    for table, columns in CONTRACT.items():
        have = [row[1] for row in db.conn.execute(f"PRAGMA table_info({table})")]
        assert set(columns) <= set(have), table
    db.add_pending([{"cell": "b", "model": "tiny", "optimizer": "adamw", "lr": 1e-3}])
    run_id = db.claim("b", "now")  # sets host, a column the old file lacked
    db.record(run_id, {"status": "finished", "final_val_loss": 3.2, "unigram_floor": 4.0, "bigram_floor": 3.3,
                       "final_val_tokens": 512}, [])
    db.close()
    old, new = ResultsDB(tmp_path).runs()
    assert (old["final_val_loss"], old["unigram_floor"], old["final_val_tokens"]) == (3.5, None, None)
    assert (new["unigram_floor"], new["bigram_floor"], new["final_val_tokens"]) == (4.0, 3.3, 512)
