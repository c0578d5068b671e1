"""A sweep's database -> an LR table (tune-table) -> the centre LRs of a fixed-LR suite."""

from __future__ import annotations

import functools
import json
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


TUNED_SWEEP = """
tokens = [512]
lr_mults = [0.5, 1, 2]
max_extend = 0
seeds = 1
[tune]
weight_decay = [0.0, 0.01, 0.03, 0.1]
[optimizers]
adamw = 1e-3
lion = { lr = 1e-4, tune = { weight_decay = [0.0, 0.1, 0.3, 1.0] } }
"""


def test_tune_table_carries_the_tuned_weight_decay(write_suite, tmp_path, capsys):
    """A sweep that tuned the weight decay after the LR: the table pairs each LR with the decay tuned at
    it, and a fixed suite reading the table runs both (a row that tunes the decay itself keeps its own)."""
    sweep = write_suite(TUNED_SWEEP, name="sweep")
    train_fn = functools.partial(fake_train, targets={"adamw": 1e-3, "lion": 1e-4},
                                 wd_targets={"adamw": 0.03, "lion": 2.0})  # lion's best is beyond its grid
    run_suite(load_suite(sweep), tmp_path / "sweep", jobs=0, stream=None, train_fn=train_fn)
    assert main(["bench", "tune-table", str(tmp_path / "sweep")]) == 0
    text = capsys.readouterr().out
    assert "adamw = { lr = 0.001, tuned = { weight_decay = 0.03 }, at_edge = false" in text
    assert "lion = { lr = 0.0001, tuned = { weight_decay = 1.0 }," in text
    assert "# lion: its search chose weight_decay = 1.0 at the edge of its grid" in text
    assert "# adamw: its search" not in text
    table = tmp_path / "t_lrs.toml"
    table.write_text(text)

    fixed = f'lr_table = "{table}"\ntokens = [512]\nlr_mults = [1]\nseeds = 1\n[optimizers]\nadamw = 1e-3\nlion = 1e-4\n'
    v = {v.name: v for v in load_suite(write_suite(fixed, name="fixed")).variants}
    assert v["adamw"].opt == {"weight_decay": 0.03} and v["lion"].opt == {"weight_decay": 1.0}
    run_suite(load_suite(write_suite(fixed, name="fixed")), tmp_path / "fixed", jobs=0, stream=None,
              train_fn=train_fn)
    runs = {r["optimizer"]: r for r in ResultsDB(tmp_path / "fixed").runs()}
    assert json.loads(runs["adamw"]["opt_json"])["weight_decay"] == 0.03  # what the trainer was given
    assert math.isclose(runs["adamw"]["final_val_loss"], 3.0)  # the sweep's optimum, run again
    # A suite that tunes the decay itself searches from each row's own start, in its own grid.
    retune = fixed.replace("[optimizers]", "[tune]\nweight_decay = [0.0, 0.01, 0.03, 0.1]\n[optimizers]")
    v = {v.name: v for v in load_suite(write_suite(retune, name="retune")).variants}
    assert "weight_decay" not in v["adamw"].opt and "weight_decay" not in v["lion"].opt
    assert [t.start for t in v["adamw"].tune] == [0.01]  # torch's default, not the table's 0.03


def test_a_table_tuned_per_model_must_agree_for_a_row_of_several_models(tmp_path):
    table = tmp_path / "t_lrs.toml"
    table.write_text('tuned = true\n[tiny]\nadamw = { lr = 1e-3, tuned = { weight_decay = 0.1 }, n_lr_points = 3 }\n'
                     '[mini]\nadamw = { lr = 5e-4, tuned = { weight_decay = 0.3 }, n_lr_points = 3 }\n')
    path = tmp_path / "two.toml"
    path.write_text(f'description = "d"\nmodels = ["tiny", "mini"]\ndata = "embedded"\nlr_table = "{table}"\n'
                    'tokens = [512]\n[optimizers]\nadamw = 1e-3\n')
    with pytest.raises(ValueError, match=r"'adamw' was tuned to different weight_decay per model "
                                         r"\(tiny: 0.1, mini: 0.3\)"):
        load_suite(path)
    table.write_text(table.read_text().replace("0.3", "0.1"))
    v = load_suite(path).variants[0]
    assert v.opt == {"weight_decay": 0.1} and v.lr == {"tiny": 1e-3, "mini": 5e-4}
    table.write_text(table.read_text().replace(", tuned = { weight_decay = 0.1 }, n_lr_points = 3 }\n[mini]",
                                               ", n_lr_points = 3 }\n[mini]"))
    with pytest.raises(ValueError, match=r"tiny: not tuned, mini: 0.1"):
        load_suite(path)
