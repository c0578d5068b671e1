"""A suite's metrics mirrors write into one place: every cell's TensorBoard log directory under
SUITE_OUT/tensorboard, every cell's W&B run in one project and group, named by its cell's key, with its
settings as config (optarena.bench.cells.Cell.mirror_overrides). W&B is faked (no package, no network);
TensorBoard runs where torch.utils.tensorboard imports."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

import pytest

from optarena.bench import ResultsDB, load_suite, run_suite
from optarena.bench.cells import Mirrors, wandb_group
from optarena.bench.runner import settings_hash
from optarena.cli import main

from .fakes import fake_train

SUITE = """
tokens = [512]
lr_mults = [1]
max_extend = 0
seeds = 1
[optimizers]
adamw = 1e-3
lion = 1e-4
"""


class FakeRun:
    def __init__(self, kwargs):
        self.kwargs, self.logged, self.finished = kwargs, [], False

    def log(self, scalars, step):
        self.logged.append((step, scalars))

    def finish(self):
        self.finished = True


@pytest.fixture
def fake_wandb(monkeypatch):
    """A `wandb` module that records each init's arguments (the spec lets find_spec see it installed)."""
    module = types.ModuleType("wandb")
    module.__spec__ = importlib.machinery.ModuleSpec("wandb", None)
    module.runs = []

    def init(**kwargs):
        module.runs.append(FakeRun(kwargs))
        return module.runs[-1]

    module.init = init
    monkeypatch.setitem(sys.modules, "wandb", module)
    return module


def keys(out: Path) -> set[str]:
    with ResultsDB(out) as db:
        return {r["cell"] for r in db.runs("finished")}


def test_bench_wandb_puts_every_cell_in_one_group(write_suite, tmp_path, fake_wandb, capsys):
    out = tmp_path / "out"
    code = main(["bench", str(write_suite(SUITE)), "--out", str(out), "--jobs", "0", "--no-report",
                 "--wandb", "my-project"])
    assert code == 0, capsys.readouterr().err
    runs = [r.kwargs for r in fake_wandb.runs]
    assert len(runs) == 2 and {r["name"] for r in runs} == keys(out)  # one run per cell, named by its key
    assert {r["project"] for r in runs} == {"my-project"}
    assert {r["group"] for r in runs} == {wandb_group("t", out)} == {f"t@{out.resolve()}"}
    assert len({r["id"] for r in runs}) == 2
    for r in runs:  # the config is the cell's own settings
        assert r["config"]["log"]["wandb_name"] == r["name"]
        assert r["config"]["optim"]["name"] == r["name"].split("|")[1]
        assert r["config"]["optim"]["lr"] == float(r["name"].split("|")[2])
    assert all(run.finished and run.logged for run in fake_wandb.runs)


def test_the_suite_settings_turn_the_mirror_on_in_the_same_layout(write_suite, tmp_path, fake_wandb):
    suite = load_suite(write_suite(SUITE.replace("lion = 1e-4\n", "")), train=(("log.wandb", True),))  # --set
    run_suite(suite, tmp_path / "out", jobs=0, stream=None)
    (run,) = fake_wandb.runs
    assert run.kwargs["project"] == "optarena" and run.kwargs["group"] == wandb_group("t", tmp_path / "out")
    assert run.kwargs["name"] in keys(tmp_path / "out")


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_bench_tensorboard_writes_one_log_dir_per_cell_under_the_suite(write_suite, tmp_path):
    out = tmp_path / "out"
    summary = run_suite(load_suite(write_suite(SUITE)), out, jobs=0, stream=None, mirrors=Mirrors(tensorboard=True))
    assert summary.counts == {"finished": 2}
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert sorted(p.name for p in (out / "tensorboard").iterdir()) == runs
    for name in runs:
        assert list((out / "tensorboard" / name).glob("events.out.tfevents.*"))
        assert not (out / "runs" / name / "tensorboard").exists()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed")
def test_a_missing_mirror_package_is_refused_before_any_cell(write_suite, tmp_path):
    with pytest.raises(ValueError, match=r"log.tensorboard=true needs the 'tensorboard' package"):
        run_suite(load_suite(write_suite(SUITE)), tmp_path / "out", jobs=0, stream=None,
                  mirrors=Mirrors(tensorboard=True))
    assert not (tmp_path / "out").exists()


def test_cells_say_where_their_mirrors_write(write_suite, tmp_path, fake_wandb):
    from optarena.bench.cells import Cell, resolve_groups, data_info
    from optarena.train import load_config

    suite = load_suite(write_suite(SUITE))
    cells = [Cell(g, 1.0, 0, "sweep") for g in resolve_groups(suite, data_info(suite.data))]
    logs = [load_config(None, c.overrides(suite, tmp_path)).log for c in cells]
    assert not any(log.tensorboard or log.wandb for log in logs)  # off unless asked for
    assert [log.tensorboard_dir for log in logs] == [str(tmp_path / "tensorboard" / c.out_dir(tmp_path).name)
                                                     for c in cells]
    assert [log.wandb_name for log in logs] == [c.key for c in cells]
    on = load_config(None, cells[0].overrides(suite, tmp_path, Mirrors(tensorboard=True, wandb_project="p"))).log
    assert (on.tensorboard, on.wandb, on.wandb_project) == (True, True, "p")
    # the mirrors are not the suite's settings: a suite resumes with or without them
    assert settings_hash(suite) == settings_hash(load_suite(write_suite(SUITE)))
    run_suite(suite, tmp_path / "o", jobs=0, stream=None, train_fn=lambda job: fake_train(job, {"adamw": 1e-3,
                                                                                                   "lion": 1e-4}))
    again = run_suite(suite, tmp_path / "o", jobs=0, stream=None, mirrors=Mirrors(tensorboard=False,
                                                                                  wandb_project="p"))
    assert again.ran == 0 and again.counts == {"finished": 2}  # resumed: not refused as a changed suite


def test_the_suite_may_not_set_where_a_cell_mirrors(write_suite):
    path = write_suite(SUITE)
    path.write_text(path.read_text().replace("[train]\n", '[train]\nwandb_group = "mine"\n'))
    with pytest.raises(ValueError, match=r"'wandb_group' is set per run by the suite"):
        load_suite(path)


def test_wandb_group_keeps_the_name_and_fits_128_characters(tmp_path):
    deep = tmp_path.joinpath(*["d" * 30] * 6)
    group = wandb_group("quick-sweep", deep)
    assert len(group) == 128 and group.startswith("quick-sweep@…") and group.endswith(str(deep.resolve())[-60:])
    assert wandb_group("quick", tmp_path) == f"quick@{tmp_path.resolve()}"


def test_bench_wandb_needs_a_project_name(write_suite, tmp_path, capsys):
    assert main(["bench", str(write_suite(SUITE)), "--out", str(tmp_path / "out"), "--wandb", " "]) == 2
    assert "--wandb PROJECT must name a project" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
