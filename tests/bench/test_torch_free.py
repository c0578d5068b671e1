"""Commands that only read files start without torch (1.5 s of the 1.9 s `bench --list` took), and the
unchecked suite reading they use counts the same cells as the checked one."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from optarena.bench import load_suite, named_suites
from optarena.bench.files import suite_path
from optarena.cli import COMMANDS


# `python -m MODULE ARGS`, reporting sys.modules at exit (-X importtime would miss importlib's imports)
PROBE = ("import atexit, runpy, sys\n"
         "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sys.modules) + '\\n'))\n"
         "sys.argv = sys.argv[1:]\n"
         "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n")


def imported(*args: str, module: str = "optarena") -> tuple[set[str], str]:
    """The modules `python -m MODULE ARGS` has imported when it exits (status 0), and its stdout."""
    proc = subprocess.run([sys.executable, "-c", PROBE, module, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(proc.stderr.rsplit("\nMODULES ", 1)[1].split()), proc.stdout


def test_the_probe_sees_torch():
    names, _ = imported(module="optarena.model.transformer")
    assert "torch" in names and "optarena.model.config" in names


def test_bench_list_does_not_import_torch():
    names, out = imported("bench", "--list")
    assert "torch" not in names and "optarena.bench.suite" in names
    assert set(named_suites()) == {line.split()[0] for line in out.splitlines()}


@pytest.mark.parametrize("args", [["models"], ["--help"]] + [[c, "--help"] for c in COMMANDS])
def test_models_and_every_help_do_not_import_torch(args):
    names, out = imported(*args)
    assert "torch" not in names and out


@pytest.mark.parametrize("full", [False, True])
def test_unchecked_suites_count_what_checked_ones_do(full):
    for name in (n for n in named_suites() if not full or "[full" in suite_path(n).read_text()):
        checked, unchecked = load_suite(name, full=full), load_suite(name, full=full, check=False)
        assert (unchecked.planned_cells(), unchecked.max_cells()) == (checked.planned_cells(), checked.max_cells())
        assert unchecked.description == checked.description
        for a, b in zip(checked.variants, unchecked.variants, strict=True):
            assert [(t.name, t.grid) for t in a.tune] == [(t.name, t.grid) for t in b.tune]
            assert dataclasses.replace(a, tune=()) == dataclasses.replace(b, tune=())


def test_an_unchecked_suite_is_not_checked(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\ndescription = "d"\nmodels = ["nope"]\ndata = "embedded"\ntokens = [512]\n'
                    '[optimizers]\nadamw = { lr = 1e-3, tune = { nonsense = [1, 2] } }\n')
    with pytest.raises(ValueError, match="nonsense"):
        load_suite(path)
    suite = load_suite(path, check=False)
    assert suite.variants[0].tune[0].grid == (1, 2) and suite.models == ("nope",)
