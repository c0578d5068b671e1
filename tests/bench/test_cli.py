"""`optarena bench` end to end on a one-optimizer suite of real (seconds-long) runs."""

from __future__ import annotations

from optarena.bench import ResultsDB
from optarena.cli import main

SUITE = """
tokens = [2048]
seeds = 1
[optimizers]
adamw = 3e-3
lion = {{ lr = 3e-4, opt = {{ {lion_opt} }} }}
"""


def test_bench_runs_resumes_and_reports_failures(write_suite, tmp_path, capsys):
    path = write_suite(SUITE.format(lion_opt="betas = [0.9, 0.99]"))
    out = tmp_path / "out"
    assert main(["bench", str(path), "--out", str(out), "--jobs", "0", "--no-report"]) == 0
    text = capsys.readouterr().out
    assert "[1/2]" in text and "[2/2]" in text and "val " in text and "2 finished" in text
    assert main(["bench", str(path), "--out", str(out), "--jobs", "0", "--no-report"]) == 0
    assert "0 cell(s) run now" in capsys.readouterr().out

    bad = write_suite(SUITE.format(lion_opt="betas = [0.9, 1.5]"), name="bad")  # beta2 > 1: lion refuses
    assert main(["bench", str(bad), "--out", str(tmp_path / "bad"), "--jobs", "0", "--no-report"]) == 1
    assert "FAILED" in capsys.readouterr().out
    (failed,) = ResultsDB(tmp_path / "bad").runs("failed")
    assert "betas" in failed["error"] and failed["optimizer"] == "lion"


def test_a_report_that_cannot_be_imported_is_a_failure_not_a_note(monkeypatch, capsys, tmp_path):
    import sys

    from optarena.cli import bench

    monkeypatch.setitem(sys.modules, "optarena.report", None)  # `from optarena.report import ...` fails
    assert bench.build_report(str(tmp_path)) is False
    assert "optarena bench: the report failed: ModuleNotFoundError" in capsys.readouterr().err
