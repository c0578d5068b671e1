"""Reference floors: what a table of token counts scores on the validation set.

A language model has learned language, rather than token frequencies, only once its validation
loss is below what counting alone achieves. Two count models are fitted on the training split and
scored on the validation split, in nats per token, over every adjacent pair (x_t, x_t+1) of the
validation stream (the same targets a model predicts, give or take the first token of each window):

* unigram: p(b) = (c(b) + k1) / (N + k1 V), additive smoothing;
* bigram:  p(b | a) = (c(a, b) + k2 p_uni(b)) / (c(a) + k2), add-k2 towards the unigram (a
  Dirichlet prior centred on the unigram; unseen pairs keep the unigram's mass).

The smoothing constants are chosen, not assumed: the counts are taken on the training split less
its last 5% (a contiguous tail, so whole documents are held out), each k is the one of a
log-spaced grid (1e-4 .. 1e5, 8 points per decade) that minimises the cross-entropy on that tail,
then the counts are retaken on the whole training split and scored on the validation split. On
very large training splits (FineWeb) the counts use the first `max_train_tokens` tokens (default
2e8), which is recorded.

The floors are scored on the tokens a run's final loss is scored on: the first `val_tokens`
targets of the validation stream (a run's `log.final_eval_tokens`; None: the whole stream), i.e.
its first val_tokens + 1 tokens.

Shard directories cache the result in `floors.json` beside the shards, one entry per number of
scored tokens, under a fingerprint of the data (meta.json, manifest.json, every shard's name, size and first
and last MiB, see `data_fingerprint`): re-prepared data is scored anew. A directory that cannot be written is scored
anew each time. A lock file (`.floors.lock`) makes the jobs of a suite that ask at once count once.
The synthetic source adds its exact entropy rate (`entropy_rate`), and its count
models are fitted on the first SYNTHETIC_TRAIN_TOKENS of its train stream.

    reference_floors(data_source, val_tokens) -> {"unigram": ..., "bigram": ..., ...}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from optarena._files import atomic_write

FLOORS_FILE = "floors.json"
FLOORS_VERSION = 1
HOLDOUT_FRACTION = 0.05
MAX_TRAIN_TOKENS = 200_000_000
SYNTHETIC_TRAIN_TOKENS = 4_000_000
K_GRID = np.logspace(-4, 5, 8 * 9 + 1)


def ngram_floors(
    train: np.ndarray, val: np.ndarray, vocab_size: int, max_train_tokens: int = MAX_TRAIN_TOKENS
) -> dict[str, Any]:
    """Unigram and bigram cross-entropy (nats/token) of `train`'s counts on `val`, with the
    smoothing of each chosen on a held-out tail of `train` (module docstring)."""
    train = np.asarray(train[:max_train_tokens], dtype=np.int64)
    val = np.asarray(val, dtype=np.int64)
    if len(train) < 40 or len(val) < 2:
        raise ValueError(f"floors need >= 40 train and >= 2 val tokens, got {len(train)} and {len(val)}")
    for name, ids in (("train", train), ("val", val)):
        if ids.min() < 0 or ids.max() >= vocab_size:
            raise ValueError(f"{name} ids must lie in [0, {vocab_size}), found {ids.min()}..{ids.max()}")
    cut = len(train) - max(2, int(len(train) * HOLDOUT_FRACTION))
    fit, held = _Counts(train[:cut], vocab_size), train[cut:]
    k1 = _best(lambda k: _unigram_loss(fit, held, k))
    k2 = _best(lambda k: _bigram_loss(fit, held, k1, k))
    whole = _Counts(train, vocab_size)
    return {
        "unigram": _unigram_loss(whole, val, k1),
        "bigram": _bigram_loss(whole, val, k1, k2),
        "unigram_k": k1,
        "bigram_k": k2,
        "train_tokens_counted": int(len(train)),
        "val_tokens_scored": int(len(val) - 1),
        "method": "counts of the train split, smoothing chosen on its last 5%; optarena.data.floors",
    }


class _Counts:
    """Unigram counts of targets and sorted bigram keys a * V + b with their counts."""

    def __init__(self, ids: np.ndarray, vocab_size: int) -> None:
        self.V = vocab_size
        self.uni = np.bincount(ids[1:], minlength=vocab_size).astype(np.float64)
        self.n = float(self.uni.sum())
        self.keys, counts = np.unique(ids[:-1] * vocab_size + ids[1:], return_counts=True)
        self.pair = counts.astype(np.float64)
        self.ctx = np.bincount(ids[:-1], minlength=vocab_size).astype(np.float64)
        self._cache: dict[int, tuple] = {}

    def unigram_p(self, k: float) -> np.ndarray:
        return (self.uni + k) / (self.n + k * self.V)

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(c(a, b), c(a), b) for every adjacent pair of `ids`; cached per array."""
        key = id(ids)
        if key not in self._cache:
            q = ids[:-1] * self.V + ids[1:]
            pos = np.searchsorted(self.keys, q).clip(max=len(self.keys) - 1)
            c_ab = np.where(self.keys[pos] == q, self.pair[pos], 0.0)
            self._cache[key] = (ids, c_ab, self.ctx[ids[:-1]], ids[1:])
        return self._cache[key][1:]


def _unigram_loss(counts: _Counts, ids: np.ndarray, k: float) -> float:
    return float(-np.log(counts.unigram_p(k)[ids[1:]]).mean())


def _bigram_loss(counts: _Counts, ids: np.ndarray, k1: float, k2: float) -> float:
    c_ab, c_a, b = counts.lookup(ids)
    p = (c_ab + k2 * counts.unigram_p(k1)[b]) / (c_a + k2)
    return float(-np.log(p).mean())


def _best(loss) -> float:
    """The point of K_GRID with the lowest loss."""
    losses = [loss(k) for k in K_GRID]
    return float(K_GRID[int(np.argmin(losses))])


FINGERPRINT_EDGE_BYTES = 1 << 20


def data_fingerprint(directory: str | Path) -> str:
    """sha256 of a shard directory's meta.json and manifest.json and, for each .bin shard, its name,
    its size and its first and last MiB: re-preparing a directory with other text changes it, and
    it costs a few MiB of reads per shard, not a pass over a 20 GB data set."""
    directory = Path(directory)
    h = hashlib.sha256()
    for name in ("meta.json", "manifest.json"):
        path = directory / name
        h.update(path.read_bytes() if path.exists() else f"no {name}".encode())
    for path in sorted(directory.glob("*.bin")):
        size = path.stat().st_size
        h.update(f"{path.name}:{size}".encode())
        with path.open("rb") as f:
            h.update(f.read(FINGERPRINT_EDGE_BYTES))
            f.seek(max(0, size - FINGERPRINT_EDGE_BYTES))
            h.update(f.read(FINGERPRINT_EDGE_BYTES))
    return h.hexdigest()


def reference_floors(data, val_tokens: int | None = None) -> dict[str, Any]:
    """The floors of a `DataSource` (optarena.data.source) scored on its first `val_tokens`
    validation targets (None: all of them); cached beside shard data."""
    n_val = _scored(data.val.num_tokens, val_tokens)
    if data.kind == "synthetic":
        floors = ngram_floors(data.train.read(0, SYNTHETIC_TRAIN_TOKENS), data.val.read(0, n_val + 1),
                              data.vocab_size)
        return {**floors, "entropy_rate": float(data.meta["entropy_rate"])}
    return shard_floors(data.meta["dir"], data.train, data.val, data.vocab_size, n_val)


def _scored(available: int | None, wanted: int | None) -> int:
    """Targets scored: wanted (or all), at most available - 1 (each needs its predecessor)."""
    if available is None:
        if wanted is None:
            raise ValueError("an infinite validation stream needs val_tokens")
        return wanted
    return available - 1 if wanted is None else min(wanted, available - 1)


def shard_floors(directory: str | Path, train, val, vocab_size: int, n_val: int | None = None) -> dict[str, Any]:
    """Floors of a shard directory on its first n_val val targets (None: all), from its
    floors.json when that holds them for this data."""
    directory = Path(directory)
    n_val = _scored(val.num_tokens, n_val)
    fingerprint = data_fingerprint(directory)
    cached = directory / FLOORS_FILE
    saved = _saved(cached, fingerprint)
    if str(n_val) in saved.get("by_val_tokens", {}):
        return saved["by_val_tokens"][str(n_val)]
    with _locked(directory / ".floors.lock"):  # the jobs of a suite ask at once: one counts
        saved = _saved(cached, fingerprint)
        if str(n_val) in saved.get("by_val_tokens", {}):
            return saved["by_val_tokens"][str(n_val)]
        n_train = min(train.num_tokens, MAX_TRAIN_TOKENS)
        floors = ngram_floors(train.read(0, n_train), val.read(0, n_val + 1), vocab_size)
        _save(cached, fingerprint, {**saved.get("by_val_tokens", {}), str(n_val): floors})
    return floors


def _saved(cached: Path, fingerprint: str) -> dict[str, Any]:
    """The cache file's document if it is for this data, else {}."""
    try:
        saved = json.loads(cached.read_text())
    except (OSError, ValueError):
        return {}
    ok = saved.get("fingerprint") == fingerprint and saved.get("version") == FLOORS_VERSION
    return saved if ok else {}


def _save(cached: Path, fingerprint: str, entries: dict[str, Any]) -> None:
    document = {"version": FLOORS_VERSION, "fingerprint": fingerprint, "by_val_tokens": entries}
    try:
        atomic_write(cached, json.dumps(document, indent=1) + "\n")
    except OSError:  # a read-only data directory: no cache, same numbers
        pass


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An advisory lock on `path`; none where it cannot be created (a read-only directory) or on
    systems without fcntl."""
    try:
        import fcntl

        handle = path.open("w")
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
