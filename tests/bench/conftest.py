"""Shared fixtures: a tiny shard directory (short validation split) and suite files written on the fly.

Real training in these tests uses the `tiny` model on a 64-token synthetic language with 2048
validation tokens, so a cell takes a fraction of a second; the tuning logic is tested with the
fake trainers of fakes.py, which are instant and whose best LR is known.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from optarena.data import SyntheticSource, write_shard

SOURCE = SyntheticSource(vocab_size=64, order=1, zipf_s=1.5, seed=0)


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench_shards")
    write_shard(out / "train_000000.bin", SOURCE.sample(2**16, stream=0))
    write_shard(out / "val_000000.bin", SOURCE.sample(2**11, stream=1))
    meta = {"tokenizer": "synthetic", "vocab_size": SOURCE.vocab_size, "loss_floor": SOURCE.entropy_rate()}
    (out / "meta.json").write_text(json.dumps(meta))
    return out


@pytest.fixture
def write_suite(tmp_path, shard_dir):
    """write_suite(body) -> path of a suite TOML on the tiny shard data; `body` adds or overrides keys."""

    def write(body: str, name: str = "t") -> Path:
        head = f'description = "test suite"\nmodels = ["tiny"]\ndata = "{shard_dir}"\n'
        path = tmp_path / f"{name}.toml"
        path.write_text(head + textwrap.dedent(body) + TRAIN)
        return path

    return write


TRAIN = """
[train]
seq_len = 32
batch_tokens = 256
log_every = 1
eval_every = 0
eval_tokens = 512
"""
