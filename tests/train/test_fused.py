"""The trainer's fused optimizer step (optim.fused): when it is on, that it trains like the eager step,
that a resumed fused run equals an uninterrupted one, and that a failed compilation falls back."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from optarena import optim
from optarena.train import load_config, train
from optarena.train.build import CPU_FUSE_PAYS, fuse_pays
from optarena.train.loop import Trainer

from .helpers import tiny_run
from .test_resume import Crash, crash_at, losses


def test_fuse_pays_follows_the_setting_and_the_parameter_steps():
    model = nn.Linear(100, 100)  # 10,100 parameters
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    steps = int(CPU_FUSE_PAYS // 10_100) + 1
    assert fuse_pays("on", model, 1, cpu) and not fuse_pays("off", model, 10**9, cuda)
    assert fuse_pays("auto", model, steps, cpu) and not fuse_pays("auto", model, steps - 2, cpu)
    assert fuse_pays("auto", model, 1, cuda)


def test_a_bad_fused_setting_is_refused_naming_the_key(shard_dir, tmp_path):
    with pytest.raises(ValueError, match="optim.fused"):
        load_config(None, tiny_run(shard_dir, tmp_path, fused="sometimes"))


def test_fused_run_trains_like_the_eager_run(shard_dir, tmp_path):
    settings = dict(steps=6, name="grams", lr=3e-3)
    eager = train(load_config(None, tiny_run(shard_dir, tmp_path / "eager", fused="off", **settings)))
    fused = train(load_config(None, tiny_run(shard_dir, tmp_path / "fused", fused="on", **settings)))
    assert eager.status == fused.status == "finished"
    a, b = losses(eager.out), losses(fused.out)
    assert [s for s, *_ in a] == [s for s, *_ in b]
    for (_, loss_a, *_), (_, loss_b, *_) in zip(a, b):
        assert loss_b == pytest.approx(loss_a, rel=1e-4)  # fp32: inductor reassociates
    assert fused.final_val_loss == pytest.approx(eager.final_val_loss, rel=1e-4)


def test_fused_run_resumes_like_the_uninterrupted_one(shard_dir, tmp_path, monkeypatch):
    settings = dict(steps=6, checkpoint_every=3, name="adana", lr=3e-3, fused="on")
    whole = train(load_config(None, tiny_run(shard_dir, tmp_path / "whole", **settings)))
    parts = tmp_path / "parts"
    with monkeypatch.context() as m:
        crash_at(m, 5)
        with pytest.raises(Crash):
            train(load_config(None, tiny_run(shard_dir, parts, **settings)))
    resumed = train(load_config(None, tiny_run(shard_dir, parts, resume=True, **settings)))
    assert resumed.final_val_loss == whole.final_val_loss  # the same graphs on the same numbers
    assert losses(parts) == losses(whole.out)


def test_fused_is_on_in_the_trainer_only_when_asked_or_when_it_pays(shard_dir, tmp_path, monkeypatch):
    seen = []
    original = Trainer._train_step

    def spy(self):
        seen.append(self.parts.optimizer.fused)
        return original(self)

    monkeypatch.setattr(Trainer, "_train_step", spy)
    train(load_config(None, tiny_run(shard_dir, tmp_path / "auto", steps=2, name="lion", lr=1e-3)))
    train(load_config(None, tiny_run(shard_dir, tmp_path / "on", steps=2, name="lion", lr=1e-3, fused="on")))
    assert seen == [False, False, True, True]  # auto: a tiny CPU run is far below CPU_FUSE_PAYS
    assert json.loads((tmp_path / "on" / "run.json").read_text())["status"] == "finished"


def test_a_failed_compilation_warns_and_steps_eagerly():
    from torch._inductor import config as inductor_config

    torch.manual_seed(0)
    params = [torch.randn(8, 4, requires_grad=True)]
    eager_params = [params[0].detach().clone().requires_grad_()]
    fused = optim.create("grams", params, lr=1e-2).fuse()
    eager = optim.create("grams", eager_params, lr=1e-2)
    with inductor_config.patch({"cpp.cxx": ("/nonexistent-c++-compiler",), "fx_graph_cache": False}):
        for step in range(2):
            for p, q in zip(params, eager_params):
                p.grad = q.grad = torch.full_like(p, 0.1 * (step + 1))
            if step == 0:
                with pytest.warns(UserWarning, match="could not be compiled.*steps eagerly"):
                    fused.step()
            else:
                fused.step()  # no second attempt, no second warning
            eager.step()
    assert torch.equal(params[0], eager_params[0])
    assert fused._fused == {0: None}
