"""Two CPU processes under torchrun (Gloo) train the same model as one process with the same global batch.

Not bit for bit: one process accumulates the four micro-batch gradients of a step as
((g1 + g2) + g3) + g4, two ranks as (g1 + g2) + (g3 + g4) (DDP pre-divides each rank's gradient
by the world size and all-reduces the sum), and float addition is not associative. Kernels may
also split work differently (torchrun runs each rank with one thread). So parameters and losses
agree to a few float32 ulps per step, not exactly.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import torch

from optarena.train import load_config, train

from .helpers import tiny_run

SETTINGS = dict(steps=6, batch_tokens=512, micro_batch=4, eval_every=3, lr=3e-3)  # 16 sequences a step


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flags(settings: dict) -> list[str]:
    out = []
    for key, value in settings.items():
        out += ["--set", f"{key}={value}"]
    return out


def test_two_processes_match_one(shard_dir, tmp_path):
    ddp_out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           "-m", "optarena", "train", *flags(tiny_run(shard_dir, ddp_out, **SETTINGS))]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if sys.platform == "linux":  # Gloo on the loopback: a sandbox's hostname may not resolve
        env["GLOO_SOCKET_IFNAME"] = "lo"
    # The launch is mostly interpreter start-up: run the one-process reference meanwhile.
    launch = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        single = train(load_config(None, tiny_run(shard_dir, tmp_path / "single", **SETTINGS)))
        stdout, stderr = launch.communicate(timeout=180)
    finally:
        launch.kill()
    assert launch.returncode == 0, stderr[-4000:]
    assert stdout.count("finished") == 1  # rank 0 alone reports

    record = json.loads((ddp_out / "run.json").read_text())
    assert record["status"] == "finished" and record["hardware"]["world_size"] == 2
    assert record["plan"]["accum_steps"] == 2 and single_accum(tmp_path / "single") == 4
    a = torch.load(tmp_path / "single" / "checkpoint.pt", weights_only=True)
    b = consolidated(ddp_out, tmp_path / "ddp.pt")  # a sharded checkpoint, as one file
    for name, p in a["model"].items():
        torch.testing.assert_close(b["model"][name], p, rtol=1e-5, atol=1e-6, msg=name)
    ddp_history = [json.loads(line) for line in (ddp_out / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in ddp_history] == [e["step"] for e in single.history]
    for x, y in zip(single.history, ddp_history):
        assert abs(x["train_loss"] - y["train_loss"]) < 1e-5
        assert abs(x.get("val_loss", 0) - y.get("val_loss", 0)) < 1e-5
    assert abs(record["final_val_loss"] - single.final_val_loss) < 1e-5


def consolidated(out, path):
    """A sharded checkpoint's model and optimizer state as one torch.save file (DCP's own converter)."""
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    step = out / "checkpoint" / (out / "checkpoint" / "latest").read_text().strip()
    dcp_to_torch_save(step, path)
    return torch.load(path, weights_only=False)


def single_accum(out) -> int:
    return json.loads((out / "run.json").read_text())["plan"]["accum_steps"]


STALL = """
import os, sys, time, torch
import torch.distributed as td
from optarena.train import distributed
dist = distributed.init("cpu", timeout_s=float(sys.argv[1]))
if dist.rank == 1:
    time.sleep(30)  # a stalled peer
t0 = time.monotonic()
try:
    td.all_reduce(torch.ones(1))
except Exception as e:
    print(f"raised after {time.monotonic() - t0:.1f}s: {type(e).__name__}", flush=True)
    os._exit(3)  # not sys.exit: tearing down a group whose peer stalls may abort in gloo's threads
"""


def test_a_stalled_peer_fails_a_collective_after_the_configured_timeout():
    port = free_port()
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
        if sys.platform == "linux":
            env["GLOO_SOCKET_IFNAME"] = "lo"
        procs.append(subprocess.Popen([sys.executable, "-c", STALL, "2"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env))
    try:
        out, err = procs[0].communicate(timeout=25)  # far less than the 30 s stall: the timeout fired
    finally:
        for p in procs:
            p.kill()
    assert procs[0].returncode == 3, err[-2000:]
    assert out.startswith("raised after ") and float(out.split()[2].rstrip("s:")) < 15


def test_the_timeout_is_a_checked_setting():
    import pytest

    assert load_config(None, {"dist_timeout_s": 60}).run.dist_timeout_s == 60.0
    with pytest.raises(ValueError, match="run.dist_timeout_s must be > 0"):
        load_config(None, {"dist_timeout_s": 0})
