"""``optarena data prepare`` and ``optarena data embedded``, and one training run on the embedded corpus."""

from __future__ import annotations

import json

import pytest

from optarena.cli import main
from optarena.data.embedded import default_cache_dir
from optarena.train import load_config, train

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while", "a", "slow",
         "green", "turtle", "sleeps"]


def test_prepare_then_train(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        (docs / f"doc{i:02d}.txt").write_text(" ".join(WORDS[(i + j) % len(WORDS)] for j in range(400)))
    shards = tmp_path / "shards"
    code = main(["data", "prepare", str(docs), "--out", str(shards), "--tokenizer", "bpe:300",
                 "--val-fraction", "0.2", "--no-progress"])
    assert code == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["vocab_size"] == 300
    result = train(load_config(None, {"preset": "tiny", "source": str(shards), "seq_len": 32,
                                      "batch_tokens": 128, "steps": 2, "out": str(tmp_path / "run"),
                                      "progress": "off"}))
    assert result.status == "finished"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["plan"]["model"]["vocab_size"] == 320


def test_prepare_reports_bad_input(tmp_path, capsys):
    assert main(["data", "prepare", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o"),
                 "--tokenizer", "bpe:300", "--no-progress"]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--shard-tokens", "0"), ("--shard-tokens", "-3"),
                                         ("--val-fraction", "0")])
def test_prepare_refuses_bad_settings(tmp_path, capsys, flag, value):
    (tmp_path / "doc.txt").write_text(" ".join(WORDS))
    assert main(["data", "prepare", str(tmp_path / "doc.txt"), "--out", str(tmp_path / "o"),
                 "--tokenizer", "bpe:512", flag, value, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("optarena data prepare: error: ") and f"{flag[2:].replace('-', '_')} must be" in err
    assert not (tmp_path / "o").exists()


embedded_cached = pytest.mark.skipif(not (default_cache_dir() / "meta.json").exists(),
                                     reason="embedded corpus not built (`optarena data embedded` builds it)")


@embedded_cached
def test_embedded_shows_path_and_meta(capsys):
    assert main(["data", "embedded"]) == 0
    path, *meta = capsys.readouterr().out.splitlines()
    assert path == str(default_cache_dir()) and json.loads("\n".join(meta))["vocab_size"] == 8192


@embedded_cached
@pytest.mark.slow  # ~12 s: the final evaluation scores all ~170k validation tokens at V = 8192
def test_train_on_embedded(tmp_path):
    result = train(load_config(None, {"preset": "tiny", "source": "embedded", "seq_len": 64,
                                      "batch_tokens": 512, "steps": 3, "eval_every": 0,
                                      "out": str(tmp_path), "progress": "off"}))
    assert result.status == "finished" and result.final_val_loss < 9.2  # ln 8192 = 9.01 at the start


def test_embedded_builds_a_variant_and_refuses_an_unknown_tokenizer(capsys):
    assert main(["data", "embedded", "--tokenizer", "bytes"]) == 0
    path, *meta = capsys.readouterr().out.splitlines()
    assert path == str(default_cache_dir("bytes")) and json.loads("\n".join(meta))["vocab_size"] == 257
    assert main(["data", "embedded", "--tokenizer", "words"]) == 2
    assert "optarena data embedded: error: tokenizer spec must be" in capsys.readouterr().err
