"""A sweep's database -> an LR table (tune-table) -> the centre LRs of a fixed-LR suite."""

from __future__ import annotations

import functools
import math

from optarena.bench import ResultsDB, load_suite, run_suite
from optarena.cli import main

from .fakes import fake_train

SWEEP = """
tokens = [512]
lr_mults = [0.5, 1, 2]
max_extend = 0
seeds = 1
[optimizers]
adamw = 1e-3
muon = { lr = 0.02, opt = { adamw_lr = 3e-3 }, scale = ["adamw_lr"] }
"""


def test_tune_table_feeds_a_fixed_suite(write_suite, tmp_path, capsys):
    sweep = write_suite(SWEEP, name="sweep")
    targets = {"adamw": 1e-3, "muon": 0.08}  # muon's best is beyond its grid: at the edge
    train_fn = functools.partial(fake_train, targets=targets)
    run_suite(load_suite(sweep), tmp_path / "sweep", jobs=0, stream=None, train_fn=train_fn)
    assert main(["bench", "tune-table", str(tmp_path / "sweep")]) == 0
    table = tmp_path / "t_lrs.toml"
    table.write_text(capsys.readouterr().out)

    suite = load_suite(write_suite(f'lr_table = "{table}"\n' + SWEEP.replace("[0.5, 1, 2]", "[1]"), name="fixed"))
    v = {v.name: v for v in suite.variants}
    assert math.isclose(v["adamw"].centre("tiny"), 1e-3) and v["adamw"].at_edge is False
    assert math.isclose(v["muon"].centre("tiny"), 0.04) and v["muon"].at_edge is True
    assert math.isclose(v["muon"].opt["adamw_lr"], 6e-3)  # scaled with the LR it was tuned at
    assert suite.lr_table_tuned is True
    run_suite(suite, tmp_path / "fixed", jobs=0, stream=None, train_fn=train_fn)
    choices = {c["optimizer"]: c for c in ResultsDB(tmp_path / "fixed").choices()}
    assert (choices["muon"]["at_edge"], choices["adamw"]["at_edge"]) == (1, 0)
    assert choices["adamw"]["n_lr_points"] == 3  # the sweep's, not this suite's single point
    assert choices["adamw"]["lr_source"] == str(table)
