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


def test_a_reader_opens_the_file_read_only(tmp_path):
    ResultsDB(tmp_path, create=True).close()
    before = (tmp_path / "results.db").read_bytes()
    with ResultsDB(tmp_path) as reader:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.conn.execute("INSERT INTO meta VALUES('x', 'y')")
        assert reader.runs() == [] and reader.curves() == [] and reader.choices() == []
    assert (tmp_path / "results.db").read_bytes() == before


def test_the_non_embedding_count_reads_and_writes_under_its_one_name(tmp_path):
    db = ResultsDB(tmp_path, create=True)
    db.add_pending([{"cell": "a", "model": "tiny", "params_non_embedding": 7}])
    db.record(db.claim("a", "now"), {"status": "finished", "params_total": 10, "params_non_embedding": 8}, [])
    db.close()
    (run,) = ResultsDB(tmp_path).runs()
    assert (run["params_total"], run["params_non_embedding"]) == (10, 8) and "params_nonemb" not in run
    stored = sqlite3.connect(tmp_path / "results.db").execute("SELECT params_nonemb FROM runs").fetchone()
    assert stored == (8,)  # the column keeps the contract's name


def test_curves_of_every_run_in_run_then_step_order(tmp_path):
    db = ResultsDB(tmp_path, create=True)
    db.add_pending([{"cell": c} for c in "ab"])
    first, second = db.claim("a", "now"), db.claim("b", "now")
    db.record(second, {"status": "finished"}, [{"step": 2, "val_loss": 1.0}, {"step": 1, "val_loss": 2.0}])
    db.record(first, {"status": "finished"}, [{"step": 5, "train_loss": 3.0}])
    points = db.curves()
    assert [(p["run_id"], p["step"]) for p in points] == [(first, 5), (second, 1), (second, 2)]
    assert points[0] == {"run_id": first, "step": 5, "tokens": None, "train_loss": 3.0, "val_loss": None, "lr": None}
    db.close()


@pytest.mark.parametrize("version, message", [
    ("2", "has schema version 2; this optarena reads up to 1"),
    ("one", "schema_version 'one' is not a version number"),
])
def test_a_schema_version_this_optarena_cannot_read_is_refused(tmp_path, version, message):
    ResultsDB(tmp_path, create=True).close()
    con = sqlite3.connect(tmp_path / "results.db")
    con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (version,))
    con.commit()
    con.close()
    before = (tmp_path / "results.db").read_bytes()
    for create in (False, True):  # neither the report nor a resumed bench reads it, nor changes it
        with pytest.raises(ValueError, match=message):
            ResultsDB(tmp_path, create=create)
    assert (tmp_path / "results.db").read_bytes() == before


def test_a_file_that_is_not_a_results_database_is_named(tmp_path):
    (tmp_path / "results.db").write_text("not sqlite at all, but long enough to have a header" * 10)
    with pytest.raises(ValueError, match=r"results\.db is not a results database"):
        ResultsDB(tmp_path)
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t(x)").connection.close()
    for create in (False, True):  # nor does the bench add its tables to another program's database
        with pytest.raises(ValueError, match="other.db is not a results database: it has no table meta and no "
                                             "table runs"):
            ResultsDB(tmp_path / "other.db", create=create)
    with pytest.raises(FileNotFoundError, match=r"no results\.db in .*nothing \(is it an `optarena bench --out`"):
        ResultsDB(tmp_path / "nothing")


def test_suite_of_reads_the_stored_suite_or_nothing():
    from optarena.bench.db import suite_of

    assert suite_of({"suite_json": '{"baseline": "lion"}'}) == {"baseline": "lion"}
    assert suite_of({}) == suite_of({"suite_json": "{broken"}) == suite_of({"suite_json": "[1]"}) == {}
