"""optarena.cli.usage_error: every command says a user's mistake the same way, one line on stderr
(``optarena COMMAND: error: ...``), and exits 2."""

from __future__ import annotations

import pytest

from optarena.cli import USAGE_ERROR, main, usage_error


def test_usage_error_says_one_line_and_gives_2(capsys):
    assert usage_error("bench", ValueError("no such suite 'x'")) == USAGE_ERROR == 2
    assert usage_error("data prepare", "--val-fraction must be in (0, 1)") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["optarena bench: error: no such suite 'x'",
                                         "optarena data prepare: error: --val-fraction must be in (0, 1)"]


@pytest.mark.parametrize("argv, line", [
    (["report", "@", "--bootstrap", "-1"], "optarena report: error: --bootstrap must be >= 0"),
    (["report", "@/missing"], "optarena report: error: "),
    (["export", "@/missing"], "optarena export: error: "),
    (["bench"], "optarena bench: error: name a suite (optarena bench --list shows them)"),
    (["data", "prepare", "@/missing.txt", "--out", "@/shards"], "optarena data prepare: error: "),
    (["train", "--set", "schedule.kind=cosin"], "optarena train: error: "),
])
def test_commands_exit_2_through_it(tmp_path, capsys, argv, line):
    code = main([a.replace("@", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(line.replace("@", str(tmp_path))), err
