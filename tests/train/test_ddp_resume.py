"""Kill and resume under torchrun (two Gloo processes): the resumed run equals the uninterrupted one.

Muon shards its momentum across ranks (each rank holds the momentum of the matrices it updates); a
checkpoint of rank 0's state alone resumed to a different run (8.69193 against 8.69341 after 24 steps).
The checkpoint is now sharded (torch.distributed.checkpoint): every rank writes the state it holds,
Muon's momentum included, and reads its own back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .helpers import tiny_run
from .test_ddp import flags, free_port

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = dict(steps=10, batch_tokens=512, micro_batch=4, eval_every=0, checkpoint_every=4)


def torchrun(module_args: list[str], crash_at: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if sys.platform == "linux":  # Gloo on the loopback: a sandbox's hostname may not resolve
        env["GLOO_SOCKET_IFNAME"] = "lo"
    if crash_at is not None:
        env["OPTARENA_TEST_CRASH_AT"] = str(crash_at)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", *module_args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240, cwd=ROOT)


def metrics(out: Path) -> list[tuple]:
    entries = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(e["step"], e["train_loss"], e["grad_norm"], e.get("val_loss")) for e in entries]


@pytest.mark.parametrize("optimizer, lr", [("muon", 1e-2), ("adamw", 3e-3), ("adana", 3e-3)])
def test_ddp_resume_equals_uninterrupted(shard_dir, tmp_path, optimizer, lr):
    settings = dict(SETTINGS, name=optimizer, lr=lr)
    whole = torchrun(["optarena", "train", *flags(tiny_run(shard_dir, tmp_path / "whole", **settings))])
    assert whole.returncode == 0, whole.stderr[-3000:]
    parts = tmp_path / "parts"
    crashed = torchrun(["tests.train.crash_at", *flags(tiny_run(shard_dir, parts, **settings))], crash_at=7)
    assert crashed.returncode != 0 and "simulated crash in step 7" in crashed.stderr
    step = parts / "checkpoint" / "step-000000004"  # the last save before the crash
    assert (parts / "checkpoint" / "latest").read_text().strip() == step.name
    assert torch.load(step / "trainer.pt", weights_only=True)["step"] == 4
    if optimizer == "muon":  # each rank wrote the momentum of the matrices it updates, and only those
        assert writers_of(step, "momentum_buffer") == {"__0_0.distcp", "__1_0.distcp"}
    resumed = torchrun(["optarena", "train", *flags(tiny_run(shard_dir, parts, resume=True, **settings))])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = (json.loads((d / "run.json").read_text()) for d in (tmp_path / "whole", parts))
    assert a["status"] == b["status"] == "finished"
    assert b["final_val_loss"] == a["final_val_loss"]
    assert metrics(parts) == metrics(tmp_path / "whole")


def writers_of(step: Path, key_part: str) -> set[str]:
    """The shard files that hold the checkpoint's tensors whose name contains `key_part`."""
    from torch.distributed.checkpoint import FileSystemReader

    storage = FileSystemReader(step).read_metadata().storage_data
    return {info.relative_path for index, info in storage.items() if key_part in index.fqn}
