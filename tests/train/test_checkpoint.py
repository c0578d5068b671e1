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
