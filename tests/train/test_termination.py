"""Every way a run ends is recorded: SIGTERM and SIGHUP mark run.json failed (not "running" forever),
and checkpoint temporaries left by a killed process are cleaned up on the next start."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optarena.train import load_config, train

from .helpers import tiny_run

SCRIPT = """
import json, sys
from optarena.train import load_config, train
train(load_config(None, json.loads(sys.argv[1])))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_run_is_recorded_as_failed_with_its_signal(shard_dir, tmp_path, signum):
    out = tmp_path / "run"
    settings = tiny_run(shard_dir, out, steps=100_000, log_every=1)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(settings)],
                            cwd=Path(__file__).parents[2], stderr=subprocess.PIPE)
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-2000:]
        time.sleep(0.1)
    proc.send_signal(signum)
    proc.wait(timeout=60)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "failed"
    assert record["error"] == f"Terminated: terminated by {signal.Signals(signum).name}"
    assert proc.returncode != 0


def test_a_dead_processes_checkpoint_temporary_is_removed_and_a_live_ones_kept(shard_dir, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale, live = out / f".checkpoint.pt.{dead}.tmp", out / f".checkpoint.pt.{sleeper.pid}.tmp"
        stale.write_bytes(b"half a checkpoint")
        live.write_bytes(b"being written by another process")
        train(load_config(None, tiny_run(shard_dir, out, steps=2)))
        assert not stale.exists() and live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
