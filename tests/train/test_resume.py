"""Stop a run after a checkpoint, resume it: the result equals the uninterrupted run, bit for bit.

The interrupted run crashes two steps after its checkpoint, so metrics.jsonl holds entries the
resumed run must redo; they are dropped, not duplicated.
"""

from __future__ import annotations

import json

import pytest
import torch

from optarena.train import load_config, train
from optarena.train.loop import Trainer

from .helpers import tiny_run

STEPS, CHECKPOINT_AT, CRASH_AT = 8, 4, 7


class Crash(Exception):
    pass


def crash_at(monkeypatch, step: int) -> None:
    original = Trainer._train_step

    def step_or_crash(self):
        if self.step + 1 == step:
            raise Crash(f"simulated crash in step {step}")
        return original(self)

    monkeypatch.setattr(Trainer, "_train_step", step_or_crash)


def losses(out):
    entries = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(e["step"], e["train_loss"], e["grad_norm"], e["lr"], e.get("val_loss")) for e in entries]


def assert_equal_states(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if torch.is_tensor(a[key]):
            assert torch.equal(a[key], b[key]), key
        elif isinstance(a[key], dict):
            assert_equal_states(a[key], b[key])
        else:
            assert a[key] == b[key], key


# adamw: torch.optim; adana: a log-time optimizer that reads total_steps and s(t) = lr / peak_lr;
# muon: two update rules in one object, on role-routed parameter groups.
@pytest.mark.parametrize("optimizer, lr", [("adamw", 3e-3), ("adana", 3e-3), ("muon", 1e-2)])
def test_resume_equals_uninterrupted(shard_dir, tmp_path, monkeypatch, optimizer, lr):
    settings = dict(steps=STEPS, checkpoint_every=CHECKPOINT_AT, eval_every=3, name=optimizer, lr=lr,
                    micro_batch=4)
    whole = train(load_config(None, tiny_run(shard_dir, tmp_path / "whole", **settings)))

    parts = tmp_path / "parts"
    with monkeypatch.context() as m:
        crash_at(m, CRASH_AT)
        with pytest.raises(Crash):
            train(load_config(None, tiny_run(shard_dir, parts, **settings)))
    assert [s for s, *_ in losses(parts)] == list(range(1, CRASH_AT))  # beyond the checkpoint
    assert torch.load(parts / "checkpoint.pt", weights_only=True)["step"] == CHECKPOINT_AT
    crashed = json.loads((parts / "run.json").read_text())
    assert crashed["status"] == "failed" and "simulated crash in step 7" in crashed["error"]
    resumed = train(load_config(None, tiny_run(shard_dir, parts, resume=True, **settings)))

    assert resumed.status == whole.status == "finished"
    assert resumed.final_val_loss == whole.final_val_loss
    assert losses(parts) == losses(whole.out)  # steps 1..8 once each, identical numbers
    a = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    b = torch.load(parts / "checkpoint.pt", weights_only=True)
    for key in ("model", "optimizer", "scheduler", "loader"):
        assert_equal_states(a[key], b[key])
    record = json.loads((parts / "run.json").read_text())
    assert [r["step"] for r in record["resumes"]] == [CHECKPOINT_AT]
    assert record["status"] == "finished" and record["started_at"] == crashed["started_at"]


def test_resume_refuses_a_changed_experiment(shard_dir, tmp_path):
    train(load_config(None, tiny_run(shard_dir, tmp_path, steps=2)))
    with pytest.raises(ValueError, match=r"config differs.*optim.lr: 0.001 -> 0.002"):
        train(load_config(None, tiny_run(shard_dir, tmp_path, steps=2, lr=2e-3, resume=True)))


def test_resuming_a_finished_run_returns_its_result(shard_dir, tmp_path):
    first = train(load_config(None, tiny_run(shard_dir, tmp_path, steps=2)))
    again = train(load_config(None, tiny_run(shard_dir, tmp_path, steps=2, resume=True)))
    assert (again.status, again.final_val_loss, again.steps) == (first.status, first.final_val_loss, 2)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


def test_an_existing_run_is_not_overwritten(shard_dir, tmp_path):
    train(load_config(None, tiny_run(shard_dir, tmp_path, steps=1)))
    with pytest.raises(ValueError, match="already holds a run.*--resume"):
        train(load_config(None, tiny_run(shard_dir, tmp_path, steps=1)))
