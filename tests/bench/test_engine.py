"""Cells as engine jobs (optarena.bench.engine) through submitit's local executor, the twin of SLURM:
the same rows as the in-process runner, a killed driver that loses and duplicates nothing, a lost
"node" whose cells run again, a two-rank cell, and the sbatch script a SLURM suite would submit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("submitit")

from optarena.bench import ResultsDB, load_suite, run_suite  # noqa: E402
from optarena.bench.engine import EnginePool, EngineSpec  # noqa: E402

SUITE = """
tokens = [4096]
lr_mults = [1]
seeds = 1
[optimizers]
adamw = 1e-3
lion = 1e-4
muon = 0.02
"""


def losses(out: Path) -> dict[str, float]:
    return {r["cell"]: r["final_val_loss"] for r in ResultsDB(out).runs()}


def submitted(out: Path) -> int:
    """Jobs the engine was given: submitit leaves one <id>_submitted.pkl per job."""
    return len(list((out / "engine").glob("*_submitted.pkl")))


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, shard_dir):
    """The suite's rows from the runner's own process, the reference of every engine run here."""
    from .conftest import TRAIN

    path = tmp_path_factory.mktemp("ref") / "t.toml"
    path.write_text(f'description = "t"\nmodels = ["tiny"]\ndata = "{shard_dir}"\n{SUITE}{TRAIN}')
    out = path.parent / "out"
    summary = run_suite(load_suite(path), out, jobs=0, stream=None)
    assert summary.counts == {"finished": 3}
    return losses(out)


def test_local_engine_gives_the_in_process_rows(write_suite, tmp_path, in_process):
    out = tmp_path / "out"
    summary = run_suite(load_suite(write_suite(SUITE)), out, jobs=2, stream=None,
                        engine=EngineSpec("local", poll_s=0.2))
    assert summary.counts == {"finished": 3} and summary.ran == 3
    assert losses(out) == in_process  # bitwise: the same trainer, one thread, another process
    rows = ResultsDB(out).runs()
    assert all(json.loads(r["engine_job"])["engine"] == "local" for r in rows)
    assert {r["pid"] for r in rows} == {os.getpid()}  # the driver claimed and recorded every cell
    assert submitted(out) == 3


def _driver(suite: Path, out: Path) -> subprocess.Popen:
    """`optarena bench` with the local engine, in its own process group (a terminal, a login shell)."""
    cmd = [sys.executable, "-m", "optarena", "bench", str(suite), "--out", str(out), "--executor", "local",
           "--jobs", "3", "--no-report"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _until_submitted(out: Path, driver: subprocess.Popen, n: int) -> list[dict]:
    """Wait for the driver to have recorded n engine jobs; the rows then."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            rows = ResultsDB(out).runs() if (out / "results.db").exists() else []
        except ValueError:  # the driver has made the file but not yet its tables
            rows = []
        if sum(bool(r["engine_job"]) for r in rows) >= n:
            return rows
        assert driver.poll() is None, "the driver ended before its jobs were submitted"
        time.sleep(0.1)
    raise AssertionError("the driver did not submit its jobs in 120 s")


def test_a_killed_driver_loses_and_duplicates_nothing(write_suite, tmp_path, in_process):
    path, out = write_suite(SUITE), tmp_path / "out"
    driver = _driver(path, out)
    rows = _until_submitted(out, driver, 3)
    driver.send_signal(signal.SIGKILL)  # the driver alone: its jobs are detached, they go on
    driver.wait()
    assert not any(r["status"] == "finished" for r in rows)  # killed while every cell was in flight
    lines: list[str] = []
    summary = run_suite(load_suite(path), out, jobs=3, stream=_Lines(lines), engine=EngineSpec("local", poll_s=0.2))
    assert summary.counts == {"finished": 3}
    assert any("reattached" in line for line in lines), lines
    assert losses(out) == in_process
    assert submitted(out) == 3  # no cell was trained twice


def test_cells_whose_jobs_are_lost_run_again(write_suite, tmp_path, in_process):
    path, out = write_suite(SUITE), tmp_path / "out"
    driver = _driver(path, out)
    _until_submitted(out, driver, 3)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its jobs at once, as when a node is lost
    driver.wait()
    time.sleep(0.5)
    lines: list[str] = []
    summary = run_suite(load_suite(path), out, jobs=3, stream=_Lines(lines), engine=EngineSpec("local", poll_s=0.2))
    assert summary.counts == {"finished": 3}, ([r["error"] for r in ResultsDB(out).runs()], lines)
    assert any("gone without a result" in line for line in lines), lines
    assert losses(out) == in_process
    assert submitted(out) == 6


def test_another_executor_leaves_the_engine_cells_alone(write_suite, tmp_path):
    path, out = write_suite(SUITE), tmp_path / "out"
    driver = _driver(path, out)
    _until_submitted(out, driver, 3)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    lines: list[str] = []
    summary = run_suite(load_suite(path), out, jobs=0, stream=_Lines(lines))  # the in-process runner
    assert summary.ran == 0 and summary.unsettled == 3  # it waits on them, it does not train them twice
    assert any("--executor local" in line for line in lines), lines
    summary = run_suite(load_suite(path), out, jobs=3, stream=None, engine=EngineSpec("local", poll_s=0.2))
    assert summary.counts == {"finished": 3} and submitted(out) == 3


def test_a_job_that_dies_is_a_failed_cell_with_the_engines_account(write_suite, tmp_path):
    """A job that ends without an outcome (its process died: out of memory, a node failure) is a failed
    cell whose error is the engine's message; the next invocation runs it again."""
    import functools

    from .fakes import fake_train

    path, out = write_suite("tokens = [512]\nlr_mults = [1, 2]\nseeds = 1\n[optimizers]\nadamw = 1e-3\n"), tmp_path / "out"
    dying = functools.partial(fake_train, targets={"adamw": 1e-3}, die_at=2e-3)
    summary = run_suite(load_suite(path), out, jobs=2, stream=None, train_fn=dying,
                        engine=EngineSpec("local", poll_s=0.2))
    assert summary.counts.get("failed") == 1  # the x2 LR's job; the others (x1, an edge extension) finish
    (error,) = [r["error"] for r in ResultsDB(out).runs("failed")]
    assert error.startswith("local job ") and "has not produced any output" in error
    well = functools.partial(fake_train, targets={"adamw": 1e-3})
    summary = run_suite(load_suite(path), out, jobs=2, stream=None, train_fn=well, engine=EngineSpec("local", poll_s=0.2))
    assert summary.ran >= 1 and set(summary.counts) == {"finished"}


def test_a_two_rank_cell_is_one_ddp_run(write_suite, tmp_path, in_process):
    """gpus_per_cell 2: two tasks of one job form a world of 2 (gloo on CPU here, NCCL on GPUs)."""
    out = tmp_path / "out"
    suite = load_suite(write_suite(SUITE.replace("lion = 1e-4\nmuon = 0.02\n", "")))
    summary = run_suite(suite, out, jobs=1, stream=None, engine=EngineSpec("local", gpus_per_cell=2, poll_s=0.2))
    assert summary.counts == {"finished": 1}
    (row,) = ResultsDB(out).runs()
    assert json.loads(row["record_json"])["hardware"]["world_size"] == 2
    assert row["final_val_loss"] == pytest.approx(in_process[row["cell"]], abs=2e-4)  # DDP: a sum in another order


def test_slurm_jobs_carry_the_engine_options(tmp_path, monkeypatch):
    """The sbatch script of a SLURM suite (submitit needs `srun` on PATH to build one: a stand-in here)."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    spec = EngineSpec("slurm", partition="gpu", gpus_per_cell=4, time_limit_min=90, slurm=(("account", "lab"),))
    pool = EnginePool(spec, tmp_path / "engine", threads=8)
    try:
        script = pool.executor._executor._make_submission_file_text("CMD", "uid")
    finally:
        pool.shutdown()
    for line in ("--partition=gpu", "--gpus-per-node=4", "--ntasks-per-node=4", "--cpus-per-task=8", "--time=90",
                 "--account=lab", "--nodes=1"):
        assert f"#SBATCH {line}" in script


def test_slurm_without_a_cluster_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun
    with pytest.raises(ValueError, match="--executor slurm: .*srun"):
        EnginePool(EngineSpec("slurm"), tmp_path / "engine")


def test_slurm_without_srun_is_refused_before_anything_is_made(write_suite, tmp_path):
    cmd = [sys.executable, "-m", "optarena", "bench", str(write_suite(SUITE)), "--out", str(tmp_path / "o"),
           "--executor", "slurm"]
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # python, no srun
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and 'no "srun" on PATH' in done.stderr, done.stderr
    assert not (tmp_path / "o").exists() and done.stdout == ""


@pytest.mark.parametrize("argv, message", [
    (["--partition", "gpu"], "options of --executor local|slurm"),
    (["--executor", "local", "--partition", "gpu"], "options of --executor slurm"),
    (["--executor", "slurm", "--slurm", "account"], "expected KEY=VALUE"),
    (["--executor", "local", "--jobs", "0"], "at least 1"),
    (["--executor", "local", "--time-limit", "0"], "at least 1 minute"),
])
def test_bad_engine_options_are_exit_2(write_suite, tmp_path, argv, message):
    cmd = [sys.executable, "-m", "optarena", "bench", str(write_suite(SUITE)), "--out", str(tmp_path / "o"), *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


class _Lines:
    """A stream that keeps what the runner says, line by line."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def write(self, text: str) -> int:
        self.lines.extend(t for t in text.splitlines() if t.strip())
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
