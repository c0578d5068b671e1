"""`--data` strings -> a DataSource: train and val streams plus the vocab size the model needs.

    embedded                                  the embedded Shakespeare/Milton corpus (built once)
    embedded:<tokenizer>                      the same texts as bytes or another BPE (embedded:bytes)
    synthetic[:V=1024,order=1,s=1.0,seed=0]   the Zipf-Markov source; meta["loss_floor"] = h
    <path>                                    a dir of train_*.bin / val_*.bin shards
    hf:<name>[:<config>]                      rejected: run `optarena data prepare` first

A shard directory's ids are checked once at load time against its meta.json's vocab_size, or GPT-2's
50257 (with a warning) when it has none: the first id out of range is an error naming its file.

Trainer use: `TokenLoader(ds.train, B, T, ...)` and `validation_batches(ds.val, T, B)`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optarena._text import did_you_mean

from .embedded import ensure_embedded
from .shards import ShardError
from .stream import ShardStream, TokenStream
from .synthetic import VAL_TOKENS, SyntheticSource

GPT2_VOCAB = 50257
SYNTHETIC_KEYS = {"V": "vocab_size", "order": "order", "s": "zipf_s", "seed": "seed"}


@dataclass(frozen=True)
class DataSource:
    kind: str  # "embedded" | "synthetic" | "shards"
    train: TokenStream
    val: TokenStream
    vocab_size: int  # ids are < vocab_size; the model's embedding needs at least this many rows
    meta: dict[str, Any]


def resolve_data(spec: str) -> DataSource:
    if spec == "embedded":
        return _shards(ensure_embedded(), kind="embedded")
    if spec.startswith("embedded:"):
        tokenizer = spec.partition(":")[2]
        try:
            path = ensure_embedded(tokenizer=tokenizer)
        except ValueError as err:
            raise ValueError(f"--data {spec}: {err}") from None
        return _shards(path, kind="embedded")
    if spec == "synthetic" or spec.startswith("synthetic:"):
        return _synthetic(spec.partition(":")[2])
    if spec.startswith("hf:"):
        raise ValueError(
            f"--data {spec}: Hugging Face datasets are tokenized ahead of training; run "
            f"`optarena data prepare {spec} --out <out_dir>` first, then pass --data <out_dir>"
        )
    path = Path(spec).expanduser()
    if not path.is_dir():
        found = "is a file, not a directory" if path.exists() else "does not exist"
        raise ValueError(f"--data {spec!r} {found}; expected 'embedded[:<tokenizer>]', 'synthetic[:...]', "
                         "'hf:<name>' or a directory of train_*.bin / val_*.bin shards")
    if not os.access(path, os.R_OK | os.X_OK):  # a glob of an unreadable directory would find no shards
        raise ValueError(f"--data {spec!r}: permission denied (cannot list the shard directory)")
    return _shards(path, kind="shards")


def _shards(path: Path, kind: str) -> DataSource:
    train, val = ShardStream.open(path, "train"), ShardStream.open(path, "val")
    for split, stream in (("train", train), ("val", val)):
        if stream.num_tokens == 0:  # a loader would only fail later, with no file named
            raise ShardError(f"{path}: the {split} shards ({', '.join(p.name for p in stream.paths)}) "
                             "hold no tokens")
    meta_path = path / "meta.json"
    if meta_path.exists():
        meta = read_meta(meta_path)
        context = f"vocab_size in {meta_path}: the shards and meta.json disagree"
    else:  # e.g. modded-nanogpt's FineWeb10B shards, which come without meta: GPT-2 tokens
        meta = {"tokenizer": "gpt2 (assumed: no meta.json)", "vocab_size": GPT2_VOCAB}
        context = f"GPT-2's, assumed: {path} has no meta.json; write one with the tokenizer's vocab_size"
        _warn_no_meta(path)
    vocab_size = meta["vocab_size"]
    for stream in (train, val):
        stream.check_ids(vocab_size, context)
    meta = {**meta, "dir": str(path), "train_tokens": train.num_tokens, "val_tokens": val.num_tokens}
    return DataSource(kind, train, val, vocab_size, meta)


def read_meta(path: Path) -> dict[str, Any]:
    """A shard directory's meta.json: a JSON object whose vocab_size is an integer in [1, 65536] (ids
    are uint16); anything else is a ValueError naming the file and the key."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e}); rewrite it, or delete it to assume GPT-2 tokens") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object with a 'vocab_size', got {type(meta).__name__}")
    vocab = meta.get("vocab_size")
    if isinstance(vocab, bool) or not isinstance(vocab, int) or not 1 <= vocab <= 2**16:
        raise ValueError(f"{path}: 'vocab_size' must be an integer in [1, 65536], got {vocab!r}")
    return meta


@functools.cache  # once per directory and process: the bench worker and the trainer both resolve it
def _warn_no_meta(path: Path) -> None:
    print(f"optarena: warning: {path} has no meta.json; assuming GPT-2 tokens (vocab_size {GPT2_VOCAB}), "
          "as in modded-nanogpt's FineWeb shards", file=sys.stderr)


def _synthetic(args: str) -> DataSource:
    source = SyntheticSource(**parse_synthetic_args(args))
    meta = {
        "source": repr(source),
        "entropy_rate": source.entropy_rate(),
        "loss_floor": source.entropy_rate(),  # nats/token; see synthetic.py on block restarts
        "unigram_entropy": source.unigram_entropy(),
        "val_tokens": VAL_TOKENS,
    }
    return DataSource("synthetic", source.stream(0), source.val_stream(), source.vocab_size, meta)


def parse_synthetic_args(args: str) -> dict[str, Any]:
    """'V=512,order=2,s=1.2,seed=3' -> SyntheticSource kwargs; unknown keys suggest a fix, and a value
    that is not a number (or s not finite) names its key."""
    kwargs: dict[str, Any] = {}
    for item in filter(None, args.split(",")):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in SYNTHETIC_KEYS:
            hint = did_you_mean(key, SYNTHETIC_KEYS) if key not in SYNTHETIC_KEYS else " (no value)"
            raise ValueError(f"synthetic: bad option {item!r}{hint}, expected "
                             f"key=value with keys {sorted(SYNTHETIC_KEYS)}")
        field = SYNTHETIC_KEYS[key]
        try:
            number = float(value) if field == "zipf_s" else int(value)
        except ValueError:
            kind = "a number" if field == "zipf_s" else "an integer"
            raise ValueError(f"synthetic: {key}={value.strip()!r} is not {kind}") from None
        if field == "zipf_s" and not math.isfinite(number):
            raise ValueError(f"synthetic: s={value.strip()!r} must be a finite number > 0")
        kwargs[field] = number
    return kwargs
