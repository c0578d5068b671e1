"""Checkpoint pieces: every registry optimizer's state survives a weights_only round trip; RNG states too."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from optarena import optim
from optarena.train import checkpoint, load_config, make_plan
from optarena.train.build import make_model, make_optimizer


def one_step(opt, model):
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.01)
    opt.step()


@pytest.mark.parametrize("name", optim.names())
def test_optimizer_state_round_trips(name, tmp_path):
    cfg = load_config(None, {"preset": "tiny", "name": name, "lr": 1e-3, "seq_len": 16, "batch_tokens": 32,
                             "steps": 10})
    plan = make_plan(cfg, data_vocab=64)
    model = make_model(plan, seed=0)
    opt = make_optimizer(cfg, model, plan.total_steps)
    one_step(opt, model)
    path = tmp_path / "ckpt.pt"
    checkpoint.save(path, {"optimizer": opt.state_dict(), "model": model.state_dict()})
    state = checkpoint.load(path, torch.device("cpu"), required={})  # weights_only=True
    fresh_model = make_model(plan, seed=1)
    fresh_model.load_state_dict(state["model"])
    fresh = make_optimizer(cfg, fresh_model, plan.total_steps)
    fresh.load_state_dict(state["optimizer"])
    one_step(opt, model)
    one_step(fresh, fresh_model)
    for a, b in zip(model.parameters(), fresh_model.parameters()):
        assert torch.equal(a, b)


def test_rng_state_round_trips(tmp_path):
    checkpoint.save(tmp_path / "rng.pt", {"rng": checkpoint.rng_state()})
    want = (torch.rand(3), random.random(), np.random.rand())
    checkpoint.set_rng_state(checkpoint.load(tmp_path / "rng.pt", torch.device("cpu"), required={})["rng"])
    got = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(want[0], got[0]) and want[1:] == got[1:]


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    checkpoint.save(path, {"step": 1})

    def broken_save(obj, f):
        with open(f, "wb") as half:
            half.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        checkpoint.save(path, {"step": 2})
    assert checkpoint.load(path, torch.device("cpu"), required={}) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left


def _state(step: int) -> dict:
    return {"step": step, "config": {}, "scheduler": {}, "loader": {}, "rng": checkpoint.rng_state(),
            "elapsed_s": 0.0, "history": []}


@pytest.mark.filterwarnings("ignore:torch.distributed is disabled")
def test_a_sharded_save_cut_short_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    """The sharded form (one process here: DCP without a process group): `latest` moves only once a
    step's shards, metadata and trainer state are all written; an unfinished step is removed."""
    import torch.distributed.checkpoint as dcp

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    moment = opt.state[model.weight]["exp_avg"].clone()
    checkpoint.save_sharded(tmp_path, model, opt, _state(1), True, lambda: None)
    opt.step()  # the state moves on; the next save dies half-way through writing its shards

    def dies(state_dict, checkpoint_id):
        checkpoint_id.mkdir(parents=True)
        (checkpoint_id / "__0_0.distcp").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(dcp, "save", dies)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_sharded(tmp_path, model, opt, _state(2), True, lambda: None)
    assert checkpoint.find(tmp_path) == tmp_path / "checkpoint" / "step-000000001"
    checkpoint.remove_unfinished(tmp_path)
    assert sorted(d.name for d in (tmp_path / "checkpoint").iterdir()) == ["latest", "step-000000001"]

    fresh = torch.nn.Linear(4, 3)
    fresh_opt = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    path = checkpoint.find(tmp_path)
    assert checkpoint.load_trainer_state(path, torch.device("cpu"))["step"] == 1
    checkpoint.load_sharded(path, fresh, fresh_opt)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert torch.equal(fresh_opt.state[fresh.weight]["exp_avg"], moment)
    checkpoint.remove(tmp_path)
    assert checkpoint.find(tmp_path) is None


def test_an_incomplete_step_directory_is_a_clear_error(tmp_path):
    (tmp_path / "step-000000001").mkdir()
    with pytest.raises(ValueError, match="not a complete sharded checkpoint"):
        checkpoint.load_trainer_state(tmp_path / "step-000000001", torch.device("cpu"))
