"""The fault table (cases.py), run: every bad input or fault gives its exact outcome.

CLI cases call `optarena.cli.main(argv)` in this process (a SystemExit from argparse is its exit
status), so the table runs in seconds; only the signal cases start processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optarena.cli import main

from .cases import CASES, SIGNALS, TRAIN, Case, Exit, Raises, Status, Workspace, substitute

ROOT = Path(__file__).parents[2]


def _param(case: Case):
    marks = [pytest.mark.xfail(reason=case.xfail, strict=True)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's usage errors
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_fault(case: Case, workspace: Workspace, capsys):
    if case.setup is not None:
        case.setup(workspace)
    if isinstance(case.expect, Raises):
        with pytest.raises(case.expect.error) as info:
            case.run(workspace)
        message = str(info.value)
        assert all(s in message for s in case.expect.says), message
        return
    argv = substitute(case.run, workspace)
    if isinstance(case.expect, Exit):
        code, _, err = _cli(argv, capsys)
        assert "Traceback" not in err, err
        lines = err.strip().splitlines()
        errors = [line for line in lines if "error:" in line]
        assert len(errors) == 1 and lines[-1] == errors[0], err  # one line, the last, naming the culprit
        assert all(s in errors[0] for s in case.expect.says), errors[0]
        if case.expect.warns:
            assert any(all(s in line for s in case.expect.warns) for line in lines if "warning:" in line), err
        assert code == case.expect.code, err
        return
    expect: Status = case.expect
    try:
        code, _, err = _cli(argv, capsys)
    except Exception:  # what the interpreter turns into exit status 1 and a traceback
        code = 1
    assert code == expect.code
    record = json.loads((workspace.w / "run" / "run.json").read_text())
    assert record["status"] == expect.status, record.get("error")
    said = record.get("error") or record.get("diverged_reason") or ""
    assert all(s in said for s in expect.says), said
    if expect.steps is not None:
        assert record["steps"] == expect.steps


def test_the_table_is_large_enough():
    assert len(CASES) + len(SIGNALS) + 1 >= 150  # + the kill -9 and resume case below


# -- signals: each run in its own process ----------------------------------------------------------------
def _start(ws: Workspace, *flags: str) -> subprocess.Popen:
    """TRAIN's run, long, in a subprocess; returns once it has logged two steps."""
    argv = substitute((*TRAIN, "--steps", "100000", *flags), ws)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "optarena", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metrics = ws.w / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-2000:]
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize("name, signum, code, error", SIGNALS, ids=[s[0] for s in SIGNALS])
def test_signal(name, signum, code, error, workspace: Workspace):
    proc = _start(workspace)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    record = json.loads((workspace.w / "run" / "run.json").read_text())
    assert record["status"] == "failed" and record["error"].startswith(error), record


def test_signal_kill9_then_resume(workspace: Workspace, capsys):
    """kill -9 cannot be recorded (run.json stays "running"), but --resume continues from the last
    checkpoint and ends "finished", all steps done, the resume recorded."""
    steps = ("--steps", "300", "--checkpoint-every", "1")
    proc = _start(workspace, *steps)
    while not (workspace.w / "run" / "checkpoint.pt").exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    record = json.loads((workspace.w / "run" / "run.json").read_text())
    assert record["status"] == "running" and record["steps"] < 300
    code, _, err = _cli(substitute((*TRAIN, "--steps", "300", "--resume"), workspace), capsys)
    assert code == 0, err
    record = json.loads((workspace.w / "run" / "run.json").read_text())
    assert record["status"] == "finished" and record["steps"] == 300 and len(record["resumes"]) == 1
    assert not list((workspace.w / "run").glob(".*.tmp"))  # the killed process's temporaries are gone
