"""What a run leaves behind: metrics.jsonl and run.json, with the keys and values a suite reads."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from optarena.cli import main
from optarena.train import load_config, train

from .helpers import tiny_run

ENTRY_KEYS = {"step", "tokens", "train_loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s", "peak_mem_bytes"}


@pytest.fixture(scope="module")
def run(shard_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = train(load_config(None, tiny_run(shard_dir, out, steps=6, log_every=2, eval_every=3, eval_tokens=512)))
    return result, out


def test_metrics_jsonl(run):
    result, out = run
    entries = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in entries] == [2, 3, 4, 6]  # log_every 2, plus the evaluation at 3
    for e in entries:
        assert ENTRY_KEYS <= e.keys()
        assert e["tokens"] == e["step"] * 256 and e["peak_mem_bytes"] > 0
        assert math.isfinite(e["train_loss"]) and e["grad_norm"] > 0 and e["lr"] > 0
    prefix, whole = 512 - 512 % 32, (2**13 - 1) // 32 * 32
    assert entries[1]["val_tokens"] == entries[-1]["val_tokens"] == prefix  # one set for the curve
    assert entries[-1]["final_val_tokens"] == whole  # the final loss: the whole val set
    assert entries[-1]["final_val_loss"] == result.final_val_loss != entries[-1]["val_loss"]
    assert all("final_val_loss" not in e for e in entries[:-1])
    assert "val_loss" not in entries[0]
    assert entries == result.history


def test_run_json(run):
    result, out = run
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished" and record["final_val_loss"] == result.final_val_loss
    assert record["diverged_at_step"] is None and (record["steps"], record["tokens"]) == (6, 6 * 256)
    assert record["config"]["optim"]["name"] == "adamw" and record["config"]["data"]["seq_len"] == 32
    assert record["plan"]["total_steps"] == 6 and record["plan"]["model"]["vocab_size"] == 64
    assert record["plan"]["params_total"] > record["plan"]["params_non_embedding"] > 0
    assert record["data"]["vocab_size"] == 64 and "unigram_entropy" in record["data"]
    assert set(record["git"]) == {"commit", "dirty", "diff_sha256"}
    diff = out / "source.diff"  # this checkout's own state: a modified tree's diff beside run.json
    assert diff.exists() == bool(record["git"]["dirty"])
    if record["git"]["dirty"]:
        assert hashlib.sha256(diff.read_bytes()).hexdigest() == record["git"]["diff_sha256"]
    assert {"python", "torch", "numpy", "optarena"} <= record["versions"].keys()
    assert record["hardware"]["cpu_cores"] >= 1 and record["hardware"]["cpu"]
    assert record["hardware"]["world_size"] == 1
    assert record["started_at"] <= record["finished_at"]


def test_missing_mirror_package_is_a_clear_error(shard_dir, tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed")
    with pytest.raises(ValueError, match=r"log.tensorboard=true needs the 'tensorboard' package"):
        train(load_config(None, tiny_run(shard_dir, tmp_path, tensorboard=True)))
    assert not (tmp_path / "run.json").exists()  # refused before any work


def test_cli_train(shard_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["train", "--model", "tiny", "--data", str(shard_dir), "--seq-len", "32", "--batch-tokens", "256",
                 "--steps", "3", "--out", str(out), "--progress", "off", "--optimizer", "adamw", "--lr", "2e-3",
                 "--opt", "betas=(0.9, 0.95)", "--opt", "weight_decay=0.1", "--set", "eval_tokens=512"])
    assert code == 0
    assert "finished" in capsys.readouterr().out
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["optim"]["hp"] == {"betas": [0.9, 0.95], "weight_decay": 0.1}
    assert record["config"]["optim"]["lr"] == 2e-3


def test_cli_train_reports_config_errors(capsys):
    assert main(["train", "--set", "lrr=1"]) == 2
    assert "did you mean 'lr'" in capsys.readouterr().err


def test_a_prefix_as_large_as_the_val_set_is_scored_once_at_the_end(shard_dir, tmp_path, monkeypatch):
    from optarena.train import loop

    calls = []
    real = loop.evaluate
    monkeypatch.setattr(loop, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    result = train(load_config(None, tiny_run(shard_dir, tmp_path, steps=4, log_every=2, eval_every=2,
                                              eval_tokens=2**20)))
    last = result.history[-1]
    whole = (2**13 - 1) // 32 * 32
    assert last["val_tokens"] == last["final_val_tokens"] == whole
    assert last["val_loss"] == last["final_val_loss"] == result.final_val_loss
    assert len(calls) == 2  # step 2 and step 4, not a third for the final loss


def test_final_eval_tokens_limits_the_final_evaluation_to_a_prefix(shard_dir, tmp_path):
    run = lambda name, **kw: train(load_config(None, tiny_run(shard_dir, tmp_path / name, steps=4, **kw)))
    a = run("a", eval_every=4, eval_tokens=256, final_eval_tokens=1024)
    b = run("b", eval_every=4, eval_tokens=1024)  # the same training; its curve scores those 1024 targets
    whole = run("c", eval_every=4, eval_tokens=256)
    last_a, last_b = a.history[-1], b.history[-1]
    assert (last_a["val_tokens"], last_a["final_val_tokens"]) == (256, 1024)
    assert a.final_val_loss == last_b["val_loss"] and last_b["val_tokens"] == 1024
    assert whole.history[-1]["final_val_tokens"] == (2**13 - 1) // 32 * 32
    assert whole.final_val_loss != a.final_val_loss


def test_cli_train_reports_token_ids_outside_the_vocabulary(shard_dir, tmp_path, capsys):
    """A meta.json with too small a vocab_size: exit status 2 and the file, id and position, no traceback."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(shard_dir, data)
    meta = json.loads((data / "meta.json").read_text())
    (data / "meta.json").write_text(json.dumps({**meta, "vocab_size": 32}))
    assert main(["train", "--data", str(data), "--steps", "1", "--out", str(tmp_path / "run"),
                 "--progress", "off"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"optarena train: error: {data / 'train_000000.bin'}: token id ")
    assert "is not below the vocabulary size 32 (vocab_size in" in err
    assert not (tmp_path / "run").exists()
