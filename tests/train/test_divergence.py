"""An absurd learning rate: the run stops with status "diverged" at a step, and nothing is raised."""

from __future__ import annotations

import json

import pytest

from optarena.train import load_config, train
from optarena.train.divergence import DivergenceGuard

from .helpers import tiny_run


def test_absurd_lr_diverges_without_an_exception(shard_dir, tmp_path):
    result = train(load_config(None, tiny_run(shard_dir, tmp_path / "boom", lr=1e4, steps=50, warmup=0)))
    assert result.status == "diverged"
    assert 1 < result.diverged_at_step < 50 and result.final_val_loss is None
    record = json.loads((tmp_path / "boom" / "run.json").read_text())
    assert record["status"] == "diverged" and record["diverged_at_step"] == result.diverged_at_step
    assert record["final_val_loss"] is None and record["steps"] == result.diverged_at_step
    last = json.loads((tmp_path / "boom" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == result.diverged_at_step  # the diverging step is logged
    assert not (tmp_path / "boom" / "checkpoint.pt").exists()  # no checkpoint of a broken state

    # the process goes on: the next run of a suite trains normally
    after = train(load_config(None, tiny_run(shard_dir, tmp_path / "next", steps=2)))
    assert after.status == "finished"


@pytest.mark.parametrize("losses, diverges_at", [
    ([4.0, 3.0, 5.9, 6.1], 4),  # L0 = 4: threshold 4 + max(2, 2) = 6
    ([10.0, 9.0, 14.9, 15.1], 4),  # L0 = 10: threshold 10 + max(2, 5) = 15
    ([4.0, float("nan")], 2),
    ([4.0, float("inf")], 2),
    ([float("nan")], 1),
    ([4.0, 2.0, 5.5, 2.0], None),  # a spike that stays below the threshold is not divergence
])  # fmt: skip
def test_rule(losses, diverges_at):
    guard = DivergenceGuard()
    at = next((i + 1 for i, loss in enumerate(losses) if guard.check(loss)), None)
    assert at == diverges_at
