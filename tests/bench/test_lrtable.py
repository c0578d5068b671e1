"""A sweep's database -> an LR table (tune-table) -> the centre LRs of a fixed-LR suite."""

from __future__ import annotations

import functools
import math

import pytest

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


def test_a_row_with_lr_table_false_keeps_its_own_centre(write_suite, tmp_path):
    table = tmp_path / "t_lrs.toml"
    table.write_text('tuned = true\n[tiny]\nadamw = { lr = 5e-3, at_edge = true, n_lr_points = 5 }\n'
                     'lion = { lr = 2e-4, at_edge = false, n_lr_points = 5 }\n')
    body = f'lr_table = "{table}"\ntokens = [512]\n[optimizers]\nadamw = {{ lr = 7e-4, lr_table = false }}\nlion = 1e-4\n'
    v = {v.name: v for v in load_suite(write_suite(body)).variants}
    assert math.isclose(v["adamw"].centre("tiny"), 7e-4) and v["adamw"].at_edge is None
    assert math.isclose(v["lion"].centre("tiny"), 2e-4)  # the others still read the table
    with pytest.raises(ValueError, match="`lr_table` must be true or false"):
        load_suite(write_suite(body.replace("lr_table = false", 'lr_table = "no"')))
