"""Fixtures: a small shard directory of synthetic tokens.

The synthetic source's own validation stream is 2^20 tokens, too many for the final whole-set
evaluation on a CPU test budget, so the tests write its tokens into a shard directory with a short
validation split (the trainer reads it like any `optarena data prepare` output).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optarena.data import write_shard

from .helpers import SOURCE, TRAIN_TOKENS, VAL_TOKENS


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic_shards")
    write_shard(out / "train_000000.bin", SOURCE.sample(TRAIN_TOKENS, stream=0))
    write_shard(out / "val_000000.bin", SOURCE.sample(VAL_TOKENS, stream=1))
    meta = {"tokenizer": "synthetic", "vocab_size": SOURCE.vocab_size, "source": repr(SOURCE),
            "unigram_entropy": SOURCE.unigram_entropy(), "entropy_rate": SOURCE.entropy_rate()}
    (out / "meta.json").write_text(json.dumps(meta))
    return out
