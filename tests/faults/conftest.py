"""Fixtures of the fault table: one small, good shard directory and one finished run (with its
checkpoint) per session; each case corrupts its own copy in its own workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optarena.cli import main
from optarena.data import SyntheticSource, write_shard

from .cases import TRAIN, Workspace, substitute

SOURCE = SyntheticSource(vocab_size=64, order=1, zipf_s=1.5, seed=0)


@pytest.fixture(scope="session")
def good_shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fault_shards")
    write_shard(out / "train_000000.bin", SOURCE.sample(2**14, stream=0))
    write_shard(out / "val_000000.bin", SOURCE.sample(2**11, stream=1))
    (out / "meta.json").write_text(json.dumps({"tokenizer": "synthetic", "vocab_size": SOURCE.vocab_size}))
    return out


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, good_shards) -> Path:
    """A 2-step run of TRAIN's settings, finished, with its final checkpoint.pt."""
    root = tmp_path_factory.mktemp("fault_run")
    ws = Workspace(root, good_shards, root / "run")
    assert main(substitute(TRAIN, ws)) == 0
    return root / "run"


@pytest.fixture
def workspace(tmp_path, good_shards, finished_run) -> Workspace:
    return Workspace(tmp_path, good_shards, finished_run)
