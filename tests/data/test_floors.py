"""Reference floors: the count models' cross-entropy, against a direct reading of the formulas."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from optarena.data import floors as F
from optarena.data import prepare, resolve_data


def slow_floors(train: list[int], val: list[int], V: int, k1: float, k2: float) -> tuple[float, float]:
    """The module docstring's two models, one pair at a time, with dictionaries."""
    uni = {b: 0 for b in range(V)}
    pair: dict[tuple[int, int], int] = {}
    ctx = {a: 0 for a in range(V)}
    for a, b in zip(train[:-1], train[1:]):
        uni[b] += 1
        ctx[a] += 1
        pair[a, b] = pair.get((a, b), 0) + 1
    n = len(train) - 1
    p_uni = {b: (uni[b] + k1) / (n + k1 * V) for b in range(V)}
    h1 = h2 = 0.0
    for a, b in zip(val[:-1], val[1:]):
        h1 -= math.log(p_uni[b])
        h2 -= math.log((pair.get((a, b), 0) + k2 * p_uni[b]) / (ctx[a] + k2))
    return h1 / (len(val) - 1), h2 / (len(val) - 1)


def markov(n: int, V: int, seed: int) -> np.ndarray:
    """A first-order chain (the same law for every seed): each token mostly follows its
    predecessor's favourite successor; `seed` draws the path."""
    favourite = np.random.default_rng(1234).permutation(V)
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.int64)
    out[0] = 0
    for i in range(1, n):
        out[i] = favourite[out[i - 1]] if rng.random() < 0.7 else rng.integers(V)
    return out


def test_floors_equal_the_formulas_at_the_chosen_smoothing():
    V = 11
    train, val = markov(3000, V, 0), markov(400, V, 1)
    got = F.ngram_floors(train, val, V)
    assert got["unigram_k"] in F.K_GRID and got["bigram_k"] in F.K_GRID
    h1, h2 = slow_floors(train.tolist(), val.tolist(), V, got["unigram_k"], got["bigram_k"])
    assert got["unigram"] == pytest.approx(h1, rel=1e-12) and got["bigram"] == pytest.approx(h2, rel=1e-12)
    assert got["bigram"] < got["unigram"]  # this chain is predictable from one token back
    assert got["val_tokens_scored"] == 399 and got["train_tokens_counted"] == 3000


def test_the_smoothing_is_the_best_on_the_held_out_tail_of_train():
    V = 11
    train = markov(3000, V, 2)
    got = F.ngram_floors(train, markov(400, V, 3), V)
    cut = len(train) - int(len(train) * F.HOLDOUT_FRACTION)
    fit, held = train[:cut].tolist(), train[cut:].tolist()
    held_out = [slow_floors(fit, held, V, got["unigram_k"], k)[1] for k in (got["bigram_k"] / 3, got["bigram_k"] * 3)]
    best = slow_floors(fit, held, V, got["unigram_k"], got["bigram_k"])[1]
    assert best <= min(held_out)


def test_a_uniform_source_has_both_floors_at_log_v():
    V = 16
    rng = np.random.default_rng(0)
    got = F.ngram_floors(rng.integers(V, size=200_000), rng.integers(V, size=20_000), V)
    assert got["unigram"] == pytest.approx(math.log(V), abs=0.01)
    assert got["bigram"] == pytest.approx(math.log(V), abs=0.01)  # smoothing keeps it near the unigram


def test_bad_ids_and_too_little_data_are_refused():
    with pytest.raises(ValueError, match=r"val ids must lie in \[0, 4\)"):
        F.ngram_floors(np.zeros(100, dtype=np.int64), np.array([0, 5]), 4)
    with pytest.raises(ValueError, match="need >= 40 train"):
        F.ngram_floors(np.zeros(10, dtype=np.int64), np.zeros(10, dtype=np.int64), 4)


@pytest.fixture
def shards(tmp_path, docs):
    src = tmp_path / "docs"
    src.mkdir()
    for i, doc in enumerate(docs * 4):
        (src / f"{i:03d}.txt").write_text(doc * (1 + i % 3))
    out = tmp_path / "shards"
    prepare([src], out, tokenizer="bytes", val_fraction=0.3, progress=False)
    return out


def test_shard_floors_are_cached_per_scored_prefix_and_redone_when_the_data_changes(shards):
    ds = resolve_data(str(shards))
    whole = F.reference_floors(ds)
    prefix = F.reference_floors(ds, val_tokens=200)
    assert prefix["val_tokens_scored"] == 200 and whole["val_tokens_scored"] == ds.val.num_tokens - 1
    val = ds.val.read(0, 201)
    assert prefix["bigram"] == pytest.approx(F.ngram_floors(ds.train.read(0, ds.train.num_tokens), val, 257)["bigram"])
    cached = json.loads((shards / F.FLOORS_FILE).read_text())
    assert set(cached["by_val_tokens"]) == {"200", str(ds.val.num_tokens - 1)}
    # A cache for other data is ignored: a planted wrong value under another fingerprint is not returned.
    cached["fingerprint"] = "other data"
    cached["by_val_tokens"]["200"]["bigram"] = -1.0
    (shards / F.FLOORS_FILE).write_text(json.dumps(cached))
    assert F.reference_floors(ds, val_tokens=200)["bigram"] == pytest.approx(prefix["bigram"])
    # ...and the same planted value under the right fingerprint is what the cache serves.
    cached = json.loads((shards / F.FLOORS_FILE).read_text())
    cached["by_val_tokens"]["200"]["bigram"] = -1.0
    (shards / F.FLOORS_FILE).write_text(json.dumps(cached))
    assert F.reference_floors(ds, val_tokens=200)["bigram"] == -1.0
    # Re-preparing into the same directory with other text changes the fingerprint.
    before = F.data_fingerprint(shards)
    (shards / "meta.json").write_text((shards / "meta.json").read_text().replace('"train_docs"', '"train_docs_"'))
    assert F.data_fingerprint(shards) != before


def test_a_read_only_data_directory_still_gets_its_floors(shards, monkeypatch):
    import builtins

    from optarena import _files

    ds = resolve_data(str(shards))

    def refuse(file, mode="r", *a, **k):  # the cache file is written by optarena._files.atomic_write
        if Path(file).parent == shards and set(mode) & set("wxa"):
            raise PermissionError(13, "read-only", str(file))
        return builtins.open(file, mode, *a, **k)

    monkeypatch.setattr(_files, "open", refuse, raising=False)
    got = F.reference_floors(ds, val_tokens=100)
    assert got["val_tokens_scored"] == 100 and not (shards / F.FLOORS_FILE).exists()
    assert not list(shards.glob("*.tmp"))


def test_synthetic_floors_bracket_its_entropy_rate():
    ds = resolve_data("synthetic:V=32,order=1,s=1.0,seed=0")
    got = F.reference_floors(ds, val_tokens=50_000)
    h = ds.meta["entropy_rate"]
    assert got["entropy_rate"] == h
    # an order-1 source: the bigram model is the right model, so it lands on h; the unigram is worse
    assert got["bigram"] == pytest.approx(h, abs=0.02) and got["unigram"] > h + 0.3
