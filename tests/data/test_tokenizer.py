"""Local BPE: deterministic training, exact round trip, BOS; GPT-2 detection never hangs."""

import os
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest

from optarena.data import tokenizer as T


def test_bpe_round_trip_and_bos(tmp_path, docs):
    tok = T.train_bpe(docs * 3, 400, tmp_path / "tokenizer.json")
    assert tok.bos_id == 0 and tok.vocab_size <= 400 and tok.name == f"bpe:{tok.vocab_size}"
    for doc, ids in zip(docs, tok.encode_docs(docs)):
        assert ids.dtype == np.uint16 and ids[0] == tok.bos_id
        assert (ids[1:] != tok.bos_id).all() and ids.max() < tok.vocab_size
        assert tok.decode(ids[1:].tolist()) == doc  # byte-level: every string survives


def test_bpe_training_is_deterministic_across_runs_and_thread_counts(tmp_path, docs):
    a = T.train_bpe(docs * 5, 500, tmp_path / "a.json")
    b = T.train_bpe(docs * 5, 500, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert a.fingerprint == b.fingerprint
    # A fresh process on one rayon thread must produce the same file as two threads here.
    script = (
        "import sys; from tests.data.conftest import DOCS; from optarena.data.tokenizer import train_bpe;"
        "train_bpe(DOCS * 5, 500, sys.argv[1])"
    )
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "c.json")], check=True, env=env,
                   cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert (tmp_path / "c.json").read_bytes() == (tmp_path / "a.json").read_bytes()


def test_get_tokenizer_reuses_only_a_matching_fingerprint(tmp_path, docs):
    calls = []

    def texts():
        calls.append(1)
        return iter(docs)

    tok = T.get_tokenizer("bpe:300", tmp_path, texts)
    again = T.get_tokenizer("bpe:300", tmp_path, texts, reuse_fingerprint=tok.fingerprint)
    assert again.fingerprint == tok.fingerprint and len(calls) == 1
    T.get_tokenizer("bpe:300", tmp_path, texts, reuse_fingerprint="something else")
    assert len(calls) == 2


@pytest.mark.parametrize("spec", ["bpe", "bpe:x", "bpe:100", "bpe:70000", "gpt3", "BPE:512"])
def test_bad_specs(spec):
    with pytest.raises(ValueError, match="bpe"):
        T.parse_spec(spec)


def fake_tiktoken(monkeypatch, get_encoding):
    monkeypatch.setitem(sys.modules, "tiktoken", types.SimpleNamespace(get_encoding=get_encoding))
    monkeypatch.setattr(T, "_GPT2_STATUS", {})


def test_gpt2_detection_times_out_instead_of_hanging(monkeypatch):
    release = threading.Event()
    fake_tiktoken(monkeypatch, lambda name: release.wait(30))  # a download that never answers
    start = time.monotonic()
    assert T.gpt2_available(timeout_s=0.2) is False
    assert time.monotonic() - start < 5
    release.set()


def test_gpt2_detection_failure_and_success(monkeypatch):
    def offline(name):
        raise ConnectionError("no network")

    fake_tiktoken(monkeypatch, offline)
    assert T.gpt2_available() is False
    with pytest.raises(RuntimeError, match="TIKTOKEN_CACHE_DIR"):
        T.load_gpt2()
    assert T.parse_spec("auto") == ("bpe", T.DEFAULT_BPE_VOCAB)
    fake_tiktoken(monkeypatch, lambda name: object())
    assert T.gpt2_available() is True and T.parse_spec("auto") == ("gpt2", 50257)


def test_bytes_tokenizer_is_utf8_shifted_by_one(docs):
    tok = T.get_tokenizer("bytes", "/nonexistent", lambda: [])  # needs no file and no training
    assert (tok.name, tok.vocab_size, tok.bos_id) == ("bytes", 257, 0) and T.parse_spec("bytes") == ("bytes", 257)
    for doc, ids in zip(docs, tok.encode_docs(docs)):
        raw = doc.encode("utf-8")
        assert ids[0] == 0 and ids[1:].tolist() == [b + 1 for b in raw]
        assert tok.decode(ids.tolist()) == doc  # BOS is dropped, multi-byte characters survive


def test_a_bad_spec_names_the_choices():
    with pytest.raises(ValueError, match="'bytes'"):
        T.parse_spec("byte")


def test_a_missing_tokenizers_package_names_its_extra(monkeypatch, tmp_path):
    import builtins

    real = builtins.__import__

    def no_tokenizers(name, *args, **kwargs):
        if name == "tokenizers" or name.startswith("tokenizers."):
            raise ModuleNotFoundError("No module named 'tokenizers'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tokenizers)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'optarena\[data\]' .* --tokenizer bytes"):
        T.train_bpe(["some text"], 300, tmp_path / "t.json")
    assert T.load_bytes().encode_docs(["ok"])[0].tolist() == [0, ord("o") + 1, ord("k") + 1]  # needs nothing
