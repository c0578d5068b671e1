"""The runner: resumable, robust to failing cells and dead runners, one database per directory."""

from __future__ import annotations

import functools
import socket
import subprocess
import sys

import pytest

from optarena.bench import ResultsDB, load_suite, run_suite

from .fakes import fake_train

SUITE = """
tokens = [512, 768]
lr_mults = [0.5, 1, 2]
max_extend = 1
seeds = 2
[optimizers]
adamw = 1e-3
lion = 1e-4
"""
TARGETS = {"adamw": 1e-3, "lion": 1e-4}


def run(path, out, jobs=0, **fake):
    calls: list[str] = []
    train_fn = functools.partial(fake_train, targets=TARGETS, log=calls, **fake)
    summary = run_suite(load_suite(path), out, jobs=jobs, train_fn=train_fn, stream=None)
    return summary, calls


def test_rerun_runs_nothing_new(write_suite, tmp_path):
    path = write_suite(SUITE)
    summary, calls = run(path, tmp_path / "out")
    assert len(calls) == summary.ran == 2 * 2 * 4  # budgets x optimizers x (3 LRs + 1 more seed)
    summary, calls = run(path, tmp_path / "out")
    assert calls == [] and summary.ran == 0
    assert summary.counts == {"finished": 16}


def test_cell_left_running_by_a_dead_process_is_rerun(write_suite, tmp_path):
    path = write_suite(SUITE)
    run(path, tmp_path / "out")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    db = ResultsDB(tmp_path / "out", create=True)  # a writer (readers open it read-only), to fake a dead runner
    victim = db.runs()[3]["cell"]
    db.conn.execute("UPDATE runs SET status='running', pid=?, host=?, final_val_loss=NULL WHERE cell=?",
                    (dead.pid, socket.gethostname(), victim))
    _, calls = run(path, tmp_path / "out")
    assert calls == [victim]
    assert {r["status"] for r in db.runs()} == {"finished"}


def test_interrupt_releases_the_cell_and_resume_finishes(write_suite, tmp_path):
    path = write_suite(SUITE)
    seen: list[str] = []

    def interrupting(job):
        seen.append(job.cell.key)
        if len(seen) == 5:
            raise KeyboardInterrupt
        return fake_train(job, TARGETS)

    summary = run_suite(load_suite(path), tmp_path / "out", jobs=0, train_fn=interrupting, stream=None)
    assert summary.interrupted and summary.counts["finished"] == 4 and "running" not in summary.counts
    _, calls = run(path, tmp_path / "out")
    assert seen[4] in calls and len(calls) == 12


def test_failing_cell_is_recorded_and_the_suite_goes_on(write_suite, tmp_path):
    path = write_suite(SUITE)
    summary, calls = run(path, tmp_path / "out", fail_at=2e-3)
    db = ResultsDB(tmp_path / "out")
    failed = db.runs("failed")
    assert len(failed) == 2  # adamw at 2e-3, one per budget
    assert "ValueError: boom at lr 0.002" in failed[0]["error"]
    assert summary.counts["finished"] == 14 and len(calls) == 16
    _, calls = run(path, tmp_path / "out")  # a new invocation retries the failures
    assert sorted(calls) == sorted(r["cell"] for r in failed)


def test_diverged_run_is_a_result(write_suite, tmp_path):
    summary, _ = run(write_suite(SUITE), tmp_path / "out", diverge_above=1.9e-3)
    rows = ResultsDB(tmp_path / "out").runs("diverged")
    assert len(rows) == 2 and all(r["final_val_loss"] is None and r["diverged_at_step"] == 3 for r in rows)
    assert "failed" not in summary.counts


def test_database_belongs_to_one_suite_and_its_settings(write_suite, tmp_path):
    run(write_suite(SUITE), tmp_path / "out")
    with pytest.raises(ValueError, match="has changed"):
        run(write_suite(SUITE.replace("lion = 1e-4", "lion = { lr = 1e-4, opt = { weight_decay = 0.1 } }")),
            tmp_path / "out")
    with pytest.raises(ValueError, match="holds suite 't'"):
        run(write_suite(SUITE, name="other"), tmp_path / "out")
    run(write_suite(SUITE.replace("seeds = 2", "seeds = 3")), tmp_path / "out")  # more seeds: same cells + new


def test_parallel_jobs_in_worker_processes(write_suite, tmp_path):
    summary, _ = run(write_suite(SUITE), tmp_path / "out", jobs=2)
    assert summary.counts == {"finished": 16}
    pids = {r["pid"] for r in ResultsDB(tmp_path / "out").runs()}
    assert len(pids) == 1  # the runner's pid: it owns the claim; the workers ran the cells


def test_a_dead_worker_fails_its_cells_and_the_suite_goes_on(write_suite, tmp_path):
    path = write_suite(SUITE)
    summary, _ = run(path, tmp_path / "out", jobs=2, die_at=2e-3)
    assert 1 <= summary.counts["failed"] <= 2  # the cell that killed the pool, and one in flight beside it
    errors = [r["error"] for r in ResultsDB(tmp_path / "out").runs("failed")]
    assert all("worker process died" in e for e in errors)
    # 16 cells when the search runs as planned. Which cell was in flight beside the dying one depends on
    # timing: when it is a sweep's best LR, its failure moves the best and the plan (up to one more cell
    # each, seen once in CI under load: 15 finished + 2 failed)
    failed = summary.counts["failed"]
    assert 16 <= summary.counts["finished"] + failed <= 16 + failed
    summary, _ = run(path, tmp_path / "out", jobs=2)  # the next invocation retries them
    assert set(summary.counts) == {"finished"} and 16 <= summary.counts["finished"] <= 16 + failed


def test_a_resumed_suite_refuses_data_that_changed_under_it(tmp_path):
    """Re-preparing the data directory with other text between two runs of a suite is an error, not
    a silent mix of old and new cells (the path alone is the same)."""
    import json

    import numpy as np

    from optarena.data import write_shard

    data = tmp_path / "data"
    data.mkdir()

    def prepare(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for split, n in (("train", 4096), ("val", 1024)):
            write_shard(data / f"{split}_000000.bin", rng.integers(0, 64, size=n).astype(np.uint16))
        (data / "meta.json").write_text(json.dumps({"tokenizer": "test", "vocab_size": 64}))

    suite = tmp_path / "s.toml"
    suite.write_text(f'description = "d"\nmodels = ["tiny"]\ndata = "{data}"\ntokens = [512]\n'
                     '[train]\nseq_len = 32\nbatch_tokens = 256\n[optimizers]\nadamw = 1e-3\n')
    prepare(0)
    run(suite, tmp_path / "out")
    meta = ResultsDB(tmp_path / "out").meta()
    assert len(meta["data_fingerprint"]) == 64
    run(suite, tmp_path / "out")  # the same data: resumes
    prepare(1)  # same sizes, other tokens
    with pytest.raises(ValueError, match="the data .* has changed since these results were made"):
        run(suite, tmp_path / "out")


def test_a_database_from_before_fingerprints_gets_one_on_resume(write_suite, tmp_path):
    import sqlite3

    run(write_suite(SUITE), tmp_path / "out")
    con = sqlite3.connect(tmp_path / "out" / "results.db")
    con.execute("DELETE FROM meta WHERE key = 'data_fingerprint'")
    con.commit()
    con.close()
    run(write_suite(SUITE), tmp_path / "out")
    assert "data_fingerprint" in ResultsDB(tmp_path / "out").meta()


def test_a_search_that_ended_at_its_edge_is_re_centred_and_keeps_its_cells(write_suite, tmp_path, capsys):
    """Lion's optimum (2e-5) lies below its grid (centre 1e-4, one extension): the search ends at the
    edge. Moving its centre there re-plans only Lion's search: the cells at LRs it already ran are
    kept (a cell's key holds its LR), the new points run, and AdamW runs nothing."""
    targets = {"adamw": 1e-3, "lion": 2e-5}
    calls: list[str] = []
    train_fn = functools.partial(fake_train, targets=targets, log=calls)
    out = tmp_path / "out"
    run_suite(load_suite(write_suite(SUITE)), out, jobs=0, train_fn=train_fn, stream=None)
    lion_first = {r["cell"] for r in ResultsDB(out).runs() if "|lion|" in r["cell"]}
    assert {c.split("|")[2] for c in lion_first} == {"2.5e-05", "5e-05", "0.0001", "0.0002"}  # edge: 2.5e-5
    calls.clear()
    recentred = write_suite(SUITE.replace("lion = 1e-4", "lion = 2.5e-5"))
    summary = run_suite(load_suite(recentred), out, jobs=0, train_fn=train_fn, stream=None)
    assert "centre LR of lion moved" in capsys.readouterr().err
    assert calls and all("|lion|" in c for c in calls)
    assert {c.split("|")[2] for c in calls} == {"1.25e-05"}  # the one new grid point, per budget
    assert lion_first <= {r["cell"] for r in ResultsDB(out).runs()}
    mults = {(r["lr"], r["lr_mult"]) for r in ResultsDB(out).runs() if r["optimizer"] == "lion"}
    assert mults == {(1.25e-5, 0.5), (2.5e-5, 1.0), (5e-5, 2.0), (1e-4, 4.0), (2e-4, 8.0)}  # of the new centre
    choices = {(c["optimizer"], c["tokens"]): c for c in ResultsDB(out).choices()}
    assert all(abs(choices[("lion", t)]["best_lr"] - 2.5e-5) < 1e-12 for t in (512, 768))
    assert summary.counts == {"finished": len(lion_first) + 8 + 2}  # + AdamW's 8 + the 2 new
    calls.clear()
    run_suite(load_suite(recentred), out, jobs=0, train_fn=train_fn, stream=None)
    assert calls == []  # the database now holds the new centre


def test_a_row_that_scales_hyperparameters_with_the_lr_cannot_be_re_centred(write_suite, tmp_path):
    """With ``scale`` a cell's hyperparameters are its multiplier's, so the same LR under another
    centre is another run: the centre is part of the settings."""
    scaled = SUITE.replace("lion = 1e-4", 'lion = { lr = 1e-4, opt = { weight_decay = 0.1 }, scale = ["weight_decay"] }')
    run(write_suite(scaled), tmp_path / "out")
    with pytest.raises(ValueError, match="has changed"):
        run(write_suite(scaled.replace("lr = 1e-4", "lr = 2e-4")), tmp_path / "out")


def _at(code_git, **fake):
    """fake_train whose runs record `code_git` as the git state they ran at."""
    import json

    def train(job):
        outcome = fake_train(job, **fake)
        outcome["record_json"] = json.dumps({"git": code_git})
        return outcome
    return train


def test_redo_reruns_a_rows_cells_made_at_other_commits_once(write_suite, tmp_path, monkeypatch):
    import json

    from optarena.bench import runner
    from optarena.train import record

    path, out = write_suite(SUITE), tmp_path / "out"
    old = {"commit": "a" * 40, "dirty": False, "diff_sha256": None}
    here = {"commit": "b" * 40, "dirty": False, "diff_sha256": None}
    monkeypatch.setattr(record, "git_state", lambda *a, **k: here)
    run_suite(load_suite(path), out, jobs=0, stream=None, train_fn=_at(old, targets=TARGETS))
    (out / "runs").mkdir(exist_ok=True)
    db = ResultsDB(out)
    lion_dirs = [out / "runs" / f"stale{i}" for i, _ in enumerate(r for r in db.runs() if r["optimizer"] == "lion")]
    with ResultsDB(out, create=True) as w:  # the fake records no run directories: give lion's some
        for d, r in zip(lion_dirs, (r for r in db.runs() if r["optimizer"] == "lion")):
            d.mkdir()
            w.conn.execute("UPDATE runs SET out_dir=? WHERE id=?", (str(d), r["id"]))
    calls: list[str] = []
    said: list[str] = []
    monkeypatch.setattr(runner.SuiteProgress, "say", lambda self, m: said.append(m))
    run_suite(load_suite(path), out, jobs=0, stream=None, redo=("lion",),
              train_fn=_at(here, targets=TARGETS, log=calls))
    assert sorted(calls) == sorted(r["cell"] for r in db.runs() if r["optimizer"] == "lion")
    assert said[0] == f"redo lion: 8 run(s) made at other commits forgotten; their cells run again at {'b' * 12}"
    assert not any(d.exists() for d in lion_dirs)
    codes = {(r["optimizer"], json.loads(r["record_json"])["git"]["commit"][0]) for r in ResultsDB(out).runs()}
    assert codes == {("adamw", "a"), ("lion", "b")}
    assert {c["optimizer"] for c in ResultsDB(out).choices()} == {"adamw", "lion"}  # chosen again
    calls.clear()  # the same command again (after a crash, say) keeps what the redo made
    run_suite(load_suite(path), out, jobs=0, stream=None, redo=("lion",),
              train_fn=_at(here, targets=TARGETS, log=calls))
    assert calls == []
    with pytest.raises(ValueError, match=r"--redo 'lino' is not an optimizer row of t \(did you mean 'lion'\?\)"):
        run_suite(load_suite(path), out, jobs=0, stream=None, redo=("lino",), train_fn=_at(here, targets=TARGETS))
