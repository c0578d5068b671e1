"""FSDP2 (run.parallel "fsdp") under torchrun with two Gloo processes: the same run as DDP and as one
process (to float32 rounding), for AdamW, an elementwise optarena optimizer and Muon (whose
Newton–Schulz runs on the gathered whole matrices); and kill-and-resume under FSDP2 equals the
uninterrupted run exactly (every rank saves and loads its own shards, torch.distributed.checkpoint)."""

from __future__ import annotations

import json

import pytest
import torch

from optarena.train import load_config, train

from .helpers import tiny_run
from .test_ddp import consolidated, flags
from .test_ddp_resume import metrics, torchrun

SETTINGS = dict(steps=6, batch_tokens=512, micro_batch=4, eval_every=3, checkpoint_every=3)


@pytest.mark.parametrize("optimizer, lr", [("adamw", 3e-3), ("grams", 3e-3), ("muon", 1e-2)])
def test_fsdp_matches_ddp_and_one_process(shard_dir, tmp_path, optimizer, lr):
    settings = dict(SETTINGS, name=optimizer, lr=lr)
    runs = {}
    for parallel in ("fsdp", "ddp"):
        out = tmp_path / parallel
        done = torchrun(["optarena", "train", *flags(tiny_run(shard_dir, out, parallel=parallel, **settings))])
        assert done.returncode == 0, done.stderr[-3000:]
        runs[parallel] = out
    single = train(load_config(None, tiny_run(shard_dir, tmp_path / "single", **settings)))
    fsdp = json.loads((runs["fsdp"] / "run.json").read_text())
    ddp = json.loads((runs["ddp"] / "run.json").read_text())
    assert fsdp["status"] == ddp["status"] == "finished"
    tol = 1e-4 if optimizer == "muon" else 1e-5  # Muon: a bf16 NS rounding may flip (measured 3e-5)
    assert fsdp["final_val_loss"] == pytest.approx(ddp["final_val_loss"], abs=tol)
    assert fsdp["final_val_loss"] == pytest.approx(single.final_val_loss, abs=tol)
    for (s, loss, *_), (t, ref, *_) in zip(metrics(runs["fsdp"]), metrics(runs["ddp"])):
        assert s == t and loss == pytest.approx(ref, abs=tol)
    a = consolidated(runs["fsdp"], tmp_path / "fsdp.pt")
    b = torch.load(tmp_path / "single" / "checkpoint.pt", weights_only=True)
    assert a["model"].keys() == b["model"].keys()  # the shards make whole tensors, of the same names
    if optimizer == "adamw":  # Grams' sign(g) and Muon's bf16 NS may flip on a rounding-level change of g
        for name, p in b["model"].items():
            torch.testing.assert_close(a["model"][name], p, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("optimizer, lr", [("muon", 1e-2), ("adamw", 3e-3)])
def test_fsdp_resume_equals_uninterrupted(shard_dir, tmp_path, optimizer, lr):
    settings = dict(SETTINGS, name=optimizer, lr=lr, parallel="fsdp", eval_every=0)
    whole = torchrun(["optarena", "train", *flags(tiny_run(shard_dir, tmp_path / "whole", **settings))])
    assert whole.returncode == 0, whole.stderr[-3000:]
    parts = tmp_path / "parts"
    crashed = torchrun(["tests.train.crash_at", *flags(tiny_run(shard_dir, parts, **settings))], crash_at=5)
    assert crashed.returncode != 0 and "simulated crash in step 5" in crashed.stderr
    resumed = torchrun(["optarena", "train", *flags(tiny_run(shard_dir, parts, resume=True, **settings))])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = (json.loads((d / "run.json").read_text()) for d in (tmp_path / "whole", parts))
    assert a["status"] == b["status"] == "finished"
    assert b["final_val_loss"] == a["final_val_loss"]
    assert metrics(parts) == metrics(tmp_path / "whole")


def test_a_sharded_checkpoint_is_one_file_per_rank_and_not_resumed_by_one_process(shard_dir, tmp_path):
    settings = dict(SETTINGS, name="adamw", lr=3e-3, parallel="fsdp", steps=3)
    done = torchrun(["optarena", "train", *flags(tiny_run(shard_dir, tmp_path, **settings))])
    assert done.returncode == 0, done.stderr[-3000:]
    step = tmp_path / "checkpoint" / "step-000000003"
    assert (tmp_path / "checkpoint" / "latest").read_text().strip() == step.name
    assert sorted(f.name for f in step.glob("*.distcp")) == ["__0_0.distcp", "__1_0.distcp"]
    assert not (tmp_path / "checkpoint.pt").exists()
    trainer = torch.load(step / "trainer.pt", weights_only=True)
    assert (trainer["step"], trainer["parallel"], trainer["world_size"]) == (3, "fsdp", 2)
    with pytest.raises(ValueError, match="saved by several ranks"):
        train(load_config(None, tiny_run(shard_dir, tmp_path, resume=True, **dict(settings, parallel="ddp"))))



def test_a_bad_parallel_setting_is_refused(shard_dir, tmp_path):
    with pytest.raises(ValueError, match="run.parallel"):
        load_config(None, tiny_run(shard_dir, tmp_path, parallel="zero3"))
