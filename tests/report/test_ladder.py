"""Ladders found in the cells, fitted with optarena.scaling: the multipliers the synthetic data were built with."""

import sqlite3

import pytest

from optarena.report.ladder import find_ladders, fit_ladder
from optarena.report.results import load_results
from optarena.report.standings import build_leaderboards
from optarena.scaling import compute_multiplier
from tests.report.helpers import OPTIMIZERS, write_db


def _ladders(path, **kwargs):
    write_db(path, **kwargs)
    return find_ladders(build_leaderboards(load_results(path)))


def test_one_budget_per_model_is_one_ladder_with_the_true_multipliers(tmp_path):
    (ladder,) = _ladders(tmp_path, sizes=("tiny", "small", "medium"))
    assert [c.key.model for c in ladder.boards] == ["tiny", "small", "medium"]
    assert set(ladder.points) == set(OPTIMIZERS)  # lion diverged at one size but has 2 points
    fit_ladder(ladder, num_bootstrap=0)
    C = max(c for c, _ in ladder.points["adamw"])
    for name in ("dms", "stable-momentum"):  # not muon: its best LR is off its optimum, so it loses a bit more
        k = OPTIMIZERS[name][2]  # losses were made as AdamW's law at k times the compute
        assert compute_multiplier(ladder.fit, name, [C])[0] == pytest.approx(k, rel=0.05)


def test_several_budgets_group_by_tokens_per_parameter(tmp_path):
    ladders = _ladders(tmp_path, tokens_per_param=(8, 16))
    assert [lad.rule for lad in ladders] == ["D/N ≈ 8 tokens per parameter", "D/N ≈ 16 tokens per parameter"]
    assert all(len(lad.boards) == 2 for lad in ladders)


def test_one_size_is_no_ladder(tmp_path):
    assert _ladders(tmp_path, sizes=("tiny",)) == []


def test_the_entropy_floor_bounds_the_saturation(tmp_path):
    (ladder,) = _ladders(tmp_path, sizes=("tiny", "small", "medium"), loss_floor=1.2)
    assert fit_ladder(ladder, num_bootstrap=0).fit.a >= 1.2


def test_no_multiplier_when_adamw_loss_rises_with_compute(tmp_path):
    write_db(tmp_path)
    con = sqlite3.connect(tmp_path / "results.db")
    con.execute("UPDATE runs SET final_val_loss = final_val_loss + 1 WHERE model = 'small' AND optimizer = 'adamw'")
    con.commit()
    con.close()
    (ladder,) = find_ladders(build_leaderboards(load_results(tmp_path)))
    fit_ladder(ladder, num_bootstrap=5)
    assert ladder.fit is not None and ladder.compared == [] and not ladder.bands
    assert "does not fall with compute for `adamw`" in ladder.problem
