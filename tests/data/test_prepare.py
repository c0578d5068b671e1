"""prepare(): shards hold exactly the documents, split by hash; resumable; deterministic."""

import importlib
import json
import sys

import numpy as np
import pytest

from optarena.data import read_shard
from optarena.data.documents import is_val, iter_documents
from optarena.data.tokenizer import load_bpe

P = importlib.import_module("optarena.data.prepare")  # the module; the package's `prepare` is the function
OPTS = dict(tokenizer="bpe:300", val_fraction=0.3, shard_tokens=150, progress=False)


@pytest.fixture
def inputs(tmp_path, docs):
    """The first 4 docs as .txt files in a directory, the rest in one .jsonl file."""
    txt = tmp_path / "txt"
    txt.mkdir()
    for i, doc in enumerate(docs[:4]):
        (txt / f"doc{i}.txt").write_text(doc, encoding="utf-8")
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text("\n".join(json.dumps({"text": d, "id": i}) for i, d in enumerate(docs[4:])) + "\n")
    return [txt, jsonl]


def split_docs(out, split):
    """Decode a split's shards back into documents at the BOS tokens."""
    tokens = np.concatenate([read_shard(p) for p in sorted(out.glob(f"{split}_*.bin"))])
    tok = load_bpe(out / "tokenizer.json")
    starts = np.flatnonzero(tokens == tok.bos_id)
    return [tok.decode(tokens[a + 1 : b].tolist()) for a, b in zip(starts, [*starts[1:], len(tokens)])]


def test_shards_hold_every_document_once_in_its_split(tmp_path, inputs, docs):
    meta = P.prepare(inputs, tmp_path / "out", **OPTS)
    out = tmp_path / "out"
    want_val = [d for d in docs if is_val(d, 0.3)]
    assert 0 < len(want_val) < len(docs)
    assert split_docs(out, "val") == want_val
    assert split_docs(out, "train") == [d for d in docs if not is_val(d, 0.3)]
    assert meta["train_docs"] + meta["val_docs"] == len(docs) and meta["val_docs"] == len(want_val)
    shards = sorted(out.glob("train_*.bin"))
    assert len(shards) == meta["train_shards"] > 1
    assert [len(read_shard(p)) for p in shards[:-1]] == [150] * (len(shards) - 1)
    assert meta["train_tokens"] == sum(len(read_shard(p)) for p in shards)
    assert json.loads((out / "meta.json").read_text()) == meta and meta["vocab_size"] <= 300


def snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_deterministic(tmp_path, inputs):
    P.prepare(inputs, tmp_path / "a", **OPTS)
    P.prepare(inputs, tmp_path / "b", **OPTS)
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


@pytest.mark.parametrize("crash_at", [1, 2, 4, 5])
def test_resume_after_a_crash_skips_finished_shards(tmp_path, inputs, monkeypatch, crash_at):
    whole = P.prepare(inputs, tmp_path / "whole", **OPTS)
    assert whole["train_shards"] + whole["val_shards"] > 5
    real_write, written = P.write_shard, []

    def crash(path, tokens):
        if len(written) == crash_at:
            raise KeyboardInterrupt("killed")
        written.append(path.name)
        return real_write(path, tokens)

    monkeypatch.setattr(P, "write_shard", crash)
    with pytest.raises(KeyboardInterrupt):
        P.prepare(inputs, tmp_path / "out", **OPTS)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sum(len(manifest[s]["shards"]) for s in ("train", "val")) == crash_at
    assert "done" not in manifest
    finished = set(written)

    def record(path, tokens):
        written.append(path.name)
        return real_write(path, tokens)

    written.clear()
    monkeypatch.setattr(P, "write_shard", record)
    P.prepare(inputs, tmp_path / "out", **OPTS)
    assert finished and not finished & set(written)  # finished shards were not rewritten
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "whole")

    written.clear()
    P.prepare(inputs, tmp_path / "out", **OPTS)  # done: nothing to do
    assert written == []


def test_other_config_in_the_same_dir_is_refused(tmp_path, inputs):
    P.prepare(inputs, tmp_path / "out", **OPTS)
    with pytest.raises(ValueError, match="another config"):
        P.prepare(inputs, tmp_path / "out", **{**OPTS, "shard_tokens": 99})


def test_empty_split_is_an_error(tmp_path, docs):
    (tmp_path / "one.txt").write_text(docs[0])
    with pytest.raises(ValueError, match="split is empty"):
        P.prepare([tmp_path / "one.txt"], tmp_path / "out", **OPTS)


@pytest.mark.parametrize("bad, message", [
    (dict(shard_tokens=0), "shard_tokens must be an integer >= 1, got 0"),
    (dict(shard_tokens=-5), "shard_tokens must be an integer >= 1, got -5"),
    (dict(shard_tokens=1.5), "shard_tokens must be an integer >= 1, got 1.5"),
    (dict(val_fraction=1.0), r"val_fraction must be in \(0, 1\), got 1.0"),
])  # fmt: skip
def test_bad_settings_are_refused_before_any_work(tmp_path, inputs, monkeypatch, bad, message):
    def no_shard(*args, **kwargs):  # shard_tokens=0 once wrote empty shards until the disk was full
        raise AssertionError("a shard was written")

    monkeypatch.setattr(P, "write_shard", no_shard)
    with pytest.raises(ValueError, match=message):
        P.prepare(inputs, tmp_path / "out", **{**OPTS, **bad})
    assert not (tmp_path / "out").exists()


def test_input_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"body": "no text"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        list(iter_documents([bad]))
    with pytest.raises(FileNotFoundError):
        list(iter_documents([tmp_path / "missing.txt"]))
    (tmp_path / "x.csv").write_text("a,b")
    with pytest.raises(ValueError, match="unsupported"):
        list(iter_documents([tmp_path / "x.csv"]))


def test_parquet_reads_text_column_or_says_pyarrow_is_needed(tmp_path, docs):
    path = tmp_path / "d.parquet"
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        path.write_bytes(b"PAR1")
        with pytest.raises(ImportError, match=r"pip install .optarena\[hf\]."):
            list(iter_documents([path]))
        return
    pq.write_table(pa.table({"text": docs}), path)
    assert list(iter_documents([path])) == docs


def test_hf_input_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(ImportError, match=r"needs datasets: pip install .optarena\[hf\]."):
        list(iter_documents(["hf:HuggingFaceFW/fineweb:sample-10BT"]))


def test_stray_shards_without_a_manifest_are_refused(tmp_path, inputs):
    from optarena.data import write_shard

    write_shard(tmp_path / "out" / "train_000007.bin", [1, 2, 3])
    with pytest.raises(ValueError, match="no manifest"):
        P.prepare(inputs, tmp_path / "out", **OPTS)
