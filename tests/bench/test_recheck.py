"""`optarena recheck`: a finished cell trained again from its stored config reproduces its loss bitwise
on CPU; a changed stored loss (a stand-in for changed numerics) is reported as differing, exit 1."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import tempfile

import pytest

from optarena.bench import ResultsDB, load_suite, run_suite, smoke
from optarena.bench.recheck import pick
from optarena.cli import main


@pytest.fixture(scope="module")
def finished(shard_dir, tmp_path_factory):
    """A smoke suite of two optimizers, one LR, one seed, trained for real."""
    out = tmp_path_factory.mktemp("recheck") / "out"
    suite = smoke(load_suite("quick", data=str(shard_dir)))
    keep = [dataclasses.replace(v, seeds=None) for v in suite.variants if v.name in ("adamw", "lion")]
    suite = dataclasses.replace(suite, variants=tuple(keep), lr_mults=suite.lr_mults[:1], seeds=1)
    assert run_suite(suite, out, jobs=0, stream=None).counts == {"finished": 2}
    return out


def _copy(src, dst):
    dst.mkdir()
    with sqlite3.connect(src / "results.db") as a, sqlite3.connect(dst / "results.db") as b:
        a.backup(b)
    return dst


def test_a_rerun_reproduces_the_stored_loss_bitwise(finished, capsys):
    before = (finished / "results.db").read_bytes()
    assert main(["recheck", str(finished)]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 rerun(s) agree with the stored loss (bitwise)" in out  # one commit: its cheapest run
    assert ": identical (Δ +0)" in out
    assert (finished / "results.db").read_bytes() == before  # DIR is not written


def test_a_changed_loss_differs_and_named_cells_rerun(finished, tmp_path, capsys):
    db = _copy(finished, tmp_path / "copy")
    cells = sorted(r["cell"] for r in ResultsDB(db).runs())
    with sqlite3.connect(db / "results.db") as con:
        con.execute("UPDATE runs SET final_val_loss = final_val_loss + 1e-3 WHERE cell=?", (cells[0],))
    assert main(["recheck", str(db), *(f"--cell={c}" for c in cells)]) == 1
    out = capsys.readouterr().out
    assert "1 of 2 rerun(s) agree" in out and "DIFFERS (Δ -0.001)" in out
    assert main(["recheck", str(db), f"--cell={cells[0]}", "--tol", "0.01"]) == 0
    assert ": agrees (Δ -0.001)" in capsys.readouterr().out


def test_the_sample_takes_the_cheapest_run_of_each_commit(finished, tmp_path):
    db = _copy(finished, tmp_path / "copy")
    runs = sorted(ResultsDB(db).runs(), key=lambda r: r["cell"])
    with sqlite3.connect(db / "results.db") as con:
        record = json.loads(runs[0]["record_json"])
        record["git"] = {"commit": "f" * 40, "dirty": True, "diff_sha256": "e" * 64}
        con.execute("UPDATE runs SET record_json=? WHERE id=?", (json.dumps(record), runs[0]["id"]))
    picked = pick(db)
    assert sorted(r["cell"] for r in picked) == [runs[0]["cell"], runs[1]["cell"]]
    assert f"{'f' * 12}+dirty {'e' * 8}" in {r["code"] for r in picked}
    assert len(pick(db, sample=1)) == 1


@pytest.mark.parametrize("argv, message", [
    (["--cell", "nope"], "no finished cell 'nope'"),
    (["--sample", "0"], "--sample must be >= 1"),
    (["--threads", "0"], "--threads must be >= 1"),
    (["--tol", "-1"], "--tol must be >= 0"),
])
def test_bad_arguments_exit_2(finished, argv, message, capsys):
    assert main(["recheck", str(finished), *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_directory_without_a_database_exits_2(tmp_path, capsys):
    assert main(["recheck", str(tmp_path)]) == 2
    assert "results.db" in capsys.readouterr().err


def test_a_config_from_before_the_fused_step_reruns_eagerly(finished, tmp_path, monkeypatch):
    """A stored config without `optim.fused` was made before the fused step existed: eager then."""
    import optarena.train

    from optarena.bench.recheck import recheck

    db = _copy(finished, tmp_path / "copy")
    runs = pick(db)
    seen = []

    def train(cfg):
        seen.append(cfg)
        raise RuntimeError("stop here")

    monkeypatch.setattr(optarena.train, "train", train)
    old = json.loads(runs[0]["config_json"])
    del old["optim"]["fused"]
    for config, fused in ((old, "off"), (json.loads(runs[0]["config_json"]), "auto")):
        (check,) = recheck([{**runs[0], "config_json": json.dumps(config)}], say=lambda _: None)
        assert check.status == "failed (RuntimeError: stop here)" and not check.agrees(1.0)
        assert seen[-1].optim.fused == fused and seen[-1].run.resume is False
        assert str(seen[-1].run.out).startswith(tempfile.gettempdir())


def test_set_changes_a_setting_of_the_rerun(finished, monkeypatch, capsys):
    import optarena.train

    seen = []
    monkeypatch.setattr(optarena.train, "train", lambda cfg: seen.append(cfg) or (_ for _ in ()).throw(
        RuntimeError("stop")))
    cell = pick(finished)[0]["cell"]
    assert main(["recheck", str(finished), "--cell", cell, "--set", "optim.fused=on"]) == 1
    assert seen[-1].optim.fused == "on"
    capsys.readouterr()
    assert main(["recheck", str(finished), "--cell", cell, "--set", "optim.fusd=on"]) == 2
    assert "fusd" in capsys.readouterr().err
    assert main(["recheck", str(finished), "--set", "run.out=/tmp/x"]) == 2
    assert "recheck sets it" in capsys.readouterr().err
