"""The coordinate search over the LR and weight decay (tuning.py) through the runner, with a fake trainer
whose loss surface over (lr, wd) has a known optimum (fakes.py); and what the report makes of it."""

from __future__ import annotations

import functools
import json
import math

import pytest

from optarena.bench import ResultsDB, load_suite, run_suite
from optarena.cli import main

from .fakes import fake_train

SUITE = """
tokens = [512]
lr_mults = [0.5, 1, 2]
max_extend = {max_extend}
seeds = 3
tune_rounds = {rounds}
[tune]
weight_decay = {grid}
[optimizers]
adamw = 1e-3
{lion}
"""
LION = "lion = { lr = 1e-4, tune = { weight_decay = [0.0, 0.1, 0.3, 1.0] } }"
WD_GRID = "[0.0, 0.01, 0.03, 0.1]"  # adamw starts at torch's 0.01, lion at its 0


def suite(write_suite, max_extend=1, rounds=1, grid=WD_GRID, lion=LION, name="t"):
    return write_suite(SUITE.format(max_extend=max_extend, rounds=rounds, grid=grid, lion=lion), name=name)


def run(path, out, targets, wd_targets, **fake):
    calls: list[str] = []
    train_fn = functools.partial(fake_train, targets=targets, wd_targets=wd_targets, log=calls, **fake)
    summary = run_suite(load_suite(path), out, jobs=0, train_fn=train_fn, stream=None)
    return summary, calls, ResultsDB(out)


def sweeps(db, optimizer):
    """The choice's last sweep of each coordinate, by name."""
    choice = next(c for c in db.choices() if c["optimizer"] == optimizer)
    return {s["name"]: s for s in json.loads(choice["tuned_json"])}


def wd_of(row):
    return json.loads(row["tuned_json"])["weight_decay"]


def test_the_search_finds_the_best_lr_and_weight_decay(write_suite, tmp_path):
    _, calls, db = run(suite(write_suite), tmp_path / "out", {"adamw": 2e-3, "lion": 1e-4},
                       {"adamw": 0.03, "lion": 0.3})
    adamw, lion = sweeps(db, "adamw"), sweeps(db, "lion")
    assert list(adamw) == ["lr", "weight_decay"]  # the LR's sweep first, in search order
    assert adamw["lr"] == {"name": "lr", "value": 0.002, "at_edge": False, "n_points": 4,  # x4 brackets it
                           "at": {"weight_decay": 0.01}}  # the LR sweep ran at adamw's own weight decay
    assert adamw["weight_decay"] == {"name": "weight_decay", "value": 0.03, "at_edge": False, "n_points": 4,
                                     "at": {"lr": 0.002}}
    assert (lion["lr"]["value"], lion["weight_decay"]["value"]) == (1e-4, 0.3)
    best = [r for r in db.runs() if r["optimizer"] == "adamw" and math.isclose(r["lr"], 2e-3) and wd_of(r) == 0.03]
    assert sorted((r["seed"], r["phase"]) for r in best) == [(0, "sweep"), (1, "seeds"), (2, "seeds")]
    assert json.loads(best[1]["opt_json"])["weight_decay"] == 0.03  # what the trainer was given
    assert len(calls) == len(set(calls)) == 9 + 8  # adamw: 3 LRs + 1 extension + 3 new WDs + 2 seeds; lion: 8


def test_every_optimizer_gets_as_many_weight_decays(write_suite, tmp_path):
    _, _, db = run(suite(write_suite, max_extend=0), tmp_path / "out", {"adamw": 1e-3, "lion": 1e-4},
                   {"adamw": 0.03, "lion": 0.3})
    tried = {opt: sorted(wd_of(r) for r in db.runs() if r["optimizer"] == opt and r["seed"] == 0
                         and math.isclose(r["lr"], {"adamw": 1e-3, "lion": 1e-4}[opt]))
             for opt in ("adamw", "lion")}
    assert tried == {"adamw": [0.0, 0.01, 0.03, 0.1], "lion": [0.0, 0.1, 0.3, 1.0]}
    with pytest.raises(ValueError, match="as many values each .*adamw: weight_decay x4; lion: weight_decay x3"):
        load_suite(suite(write_suite, lion=LION.replace("0.3, ", ""), name="unfair"))


@pytest.mark.parametrize("grid, wd_target, max_extend, chosen, at_edge, n_points", [
    (WD_GRID, 0.3, 1, 0.333333, True, 5),  # past the top: 0.1 x (0.1 / 0.03), still the edge
    (WD_GRID, 0.3, 2, 0.333333, False, 6),  # a second step (1.11) brackets it
    (WD_GRID, 0.0, 2, 0.0, False, 4),  # a best of 0 is the bottom of any weight decay: no extension
    ("[0.01, 0.03, 0.1]", 0.001, 1, 0.00333333, True, 4),  # a grid from a positive value extends down
])  # fmt: skip
def test_the_weight_decay_grid_extends_at_its_edge(write_suite, tmp_path, grid, wd_target, max_extend, chosen,
                                                   at_edge, n_points):
    path = suite(write_suite, max_extend=max_extend, grid=grid, lion="")
    _, _, db = run(path, tmp_path / "out", {"adamw": 1e-3}, {"adamw": wd_target})
    wd = sweeps(db, "adamw")["weight_decay"]
    assert (wd["value"], wd["at_edge"], wd["n_points"]) == (chosen, at_edge, n_points)
    extended = [r for r in db.runs() if r["phase"] == "extend"]
    assert len(extended) == n_points - len(json.loads(grid))
    assert all(r["cell"].endswith(f"|weight_decay={wd_of(r):.6g}") for r in extended)


def test_a_killed_search_resumes_with_the_same_cells(write_suite, tmp_path):
    path = suite(write_suite)
    targets, wd_targets = {"adamw": 2e-3, "lion": 1e-4}, {"adamw": 0.03, "lion": 0.3}
    _, whole, _ = run(path, tmp_path / "whole", targets, wd_targets)
    seen: list[str] = []

    def killed(job):
        seen.append(job.cell.key)
        if len(seen) == 9:  # inside the weight-decay sweeps
            raise KeyboardInterrupt
        return fake_train(job, targets, wd_targets=wd_targets)

    summary = run_suite(load_suite(path), tmp_path / "out", jobs=0, train_fn=killed, stream=None)
    assert summary.interrupted and any("weight_decay=" in k for k in seen[:8])
    _, rest, db = run(path, tmp_path / "out", targets, wd_targets)
    assert sorted(seen[:8] + rest) == sorted(whole)  # the cut cell once more, nothing twice
    assert sorted(r["cell"] for r in db.runs()) == sorted(whole)
    assert db.choices() == ResultsDB(tmp_path / "whole").choices()
    assert run(path, tmp_path / "out", targets, wd_targets)[1] == []


def test_a_second_round_sweeps_the_lr_again_at_the_chosen_weight_decay(write_suite, tmp_path):
    """lr*(wd) = 1e-3 (1 + 10 wd): the LR swept at wd 0.01 is 1e-3; at the chosen wd 0.1 it is 2e-3."""
    fake = {"targets": {"adamw": 1e-3}, "wd_targets": {"adamw": 0.1}, "coupling": 10.0}
    _, one, db = run(suite(write_suite, lion=""), tmp_path / "one", **fake)
    assert (sweeps(db, "adamw")["lr"]["value"], sweeps(db, "adamw")["weight_decay"]["value"]) == (1e-3, 0.1)
    _, two, db = run(suite(write_suite, rounds=2, lion="", name="two"), tmp_path / "two", **fake)
    lr, wd = sweeps(db, "adamw")["lr"], sweeps(db, "adamw")["weight_decay"]
    assert (lr["value"], lr["at"], wd["value"], wd["at"]) == (2e-3, {"weight_decay": 0.1}, 0.1, {"lr": 2e-3})
    assert math.isclose(db.choices()[0]["best_val_loss"], 3.0)
    # round 2: the LR at 0.5x, 2x, 4x; the WD at 2e-3: 0, 0.03, 0.333 (0.01 there is round 1's LR-sweep cell)
    assert len(one) == 7 + 2 and len(two) == 7 + 3 + 3 + 2


def test_a_second_round_where_nothing_moved_runs_nothing_more(write_suite, tmp_path):
    fake = {"targets": {"adamw": 1e-3}, "wd_targets": {"adamw": 0.01}}
    _, one, _ = run(suite(write_suite, lion=""), tmp_path / "one", **fake)
    _, two, _ = run(suite(write_suite, rounds=2, lion="", name="two"), tmp_path / "two", **fake)
    assert sorted(one) == sorted(two)


def test_cells_at_the_starts_keep_the_untuned_key(write_suite, tmp_path):
    _, _, db = run(suite(write_suite), tmp_path / "out", {"adamw": 1e-3, "lion": 1e-4}, {"adamw": 0.03, "lion": 0.3})
    for r in db.runs():
        plain = f"{r['model']}|{r['optimizer']}|{r['lr']:.6g}|{r['seed']}|{r['tokens']}|{r['data']}"
        start = {"adamw": 0.01, "lion": 0.0}[r["optimizer"]]
        assert r["cell"] == plain + ("" if wd_of(r) == start else f"|weight_decay={wd_of(r):.6g}")


def test_dry_run_shows_the_tuned_grids(write_suite, capsys):
    assert main(["bench", str(suite(write_suite)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "coordinate search" in out and "weight_decay 0, 0.01*, 0.03, 0.1" in out
    assert "weight_decay 0*, 0.1, 0.3, 1" in out
    assert "16 cells" in out and "may add up to 4 cells" in out  # 2 x (3 LRs + 3 WDs + 2 seeds); 2 x (1 + 1)


def test_the_report_shows_the_chosen_point_and_each_sensitivity(write_suite, tmp_path):
    from optarena.report.leaderboard import leaderboard_table
    from optarena.report.results import load_results
    from optarena.report.sensitivity import sensitivity_table
    from optarena.report.standings import build_leaderboards

    run(suite(write_suite), tmp_path / "out", {"adamw": 2e-3, "lion": 1e-4}, {"adamw": 0.03, "lion": 0.3})
    results = load_results(tmp_path / "out")
    (board,) = build_leaderboards(results)
    adamw = board.get("adamw")
    assert adamw.tuned == (("weight_decay", 0.03),) and math.isclose(adamw.best_lr, 2e-3)
    assert {r.seed for r in adamw.best_runs} == {0, 1, 2} and all(r.tuned == {"weight_decay": 0.03}
                                                                   for r in adamw.best_runs)
    assert [p.lr for p in adamw.lr_points] == pytest.approx([5e-4, 1e-3, 2e-3, 4e-3])  # the LR sweep, at wd 0.01
    table = leaderboard_table(board)
    best = {row[1]: row[table.header.index("best LR")] for row in table.rows}
    assert best["`adamw`"] == "0.002 · weight_decay 0.03" and best["`lion`"] == "0.0001 · weight_decay 0.3"
    rows = {(r[0], r[1]): r for r in sensitivity_table(board, results).rows}
    wd = rows[("`adamw`", "weight_decay")]
    assert wd[2] == "lr 0.002"
    assert wd[3].split(" · ")[2].startswith("**0.03: 3.00") and wd[3].count("·") == 3
    assert rows[("`adamw`", "lr")][2] == "weight_decay 0.01"


@pytest.mark.parametrize("body, message", [
    ("[tune]\nweight_decai = [0.0, 0.1]\n[optimizers]\nadamw = 1e-3\n",
     "optimizer 'adamw' tunes 'weight_decai', which adamw does not take \\(did you mean 'weight_decay'\\?\\)"),
    ("[tune]\nweight_decay = []\n[optimizers]\nadamw = 1e-3\n",
     "optimizer 'adamw' tunes 'weight_decay' over \\[\\]: give a list of at least 2 values"),
    ("[tune]\nweight_decay = [0.0, 0.01]\n[optimizers]\nadamw = 1e-3\nadana = 1e-3\n",
     "optimizer 'adana' tunes 'weight_decay', which adana does not take"),  # ADANA's decay is omega
    ("[optimizers]\nadamw = { lr = 1e-3, tune = { lr = [1e-3, 2e-3] } }\n", "the LR is tuned by `lr_mults`"),
    ("[tune]\nweight_decay = [0.0, 0.1]\n[optimizers]\nadamw = 1e-3\n",
     "'weight_decay' from 0.01 .*which its grid \\['0', '0.1'\\] lacks"),  # torch's default is not in it
    ("[tune]\nweight_decay = [0.0, 0.01, 0]\n[optimizers]\nadamw = 1e-3\n", "a value appears twice"),
    ("[optimizers]\nmuon = { lr = 0.02, opt = { adamw_lr = 3e-3 }, scale = ['adamw_lr'], "
     "tune = { adamw_lr = [1e-3, 3e-3] } }\n", "'adamw_lr', which its `scale` moves with the LR multiplier"),
    ("tune = ['weight_decay']\n[optimizers]\nadamw = 1e-3\n", "`tune` must be a table"),
    ("tune_rounds = 0\n[optimizers]\nadamw = 1e-3\n", "tune_rounds must be >= 1"),
    ("[optimizers]\nadamw = { lr = 1e-3, tune = { weight_decay = [0.0, 0.01] } }\nlion = 1e-4\n",
     "adamw: weight_decay x2; lion: nothing"),
])  # fmt: skip
def test_a_bad_tune_entry_fails_at_load(write_suite, body, message):
    with pytest.raises(ValueError, match=message):
        load_suite(write_suite("tokens = [512]\n" + body))


def test_the_report_picks_the_point_itself_before_the_bench_has(write_suite, tmp_path):
    """Mid-search (no choice yet) the report's own pick is a point, not a mixture of weight decays at one LR."""
    import sqlite3

    from optarena.report.results import load_results
    from optarena.report.standings import build_leaderboards

    run(suite(write_suite), tmp_path / "out", {"adamw": 2e-3, "lion": 1e-4}, {"adamw": 0.03, "lion": 0.3})
    con = sqlite3.connect(tmp_path / "out" / "results.db")
    con.execute("DELETE FROM choices")
    con.commit()
    con.close()
    (board,) = build_leaderboards(load_results(tmp_path / "out"))
    adamw = board.get("adamw")
    assert (adamw.picked_by, adamw.tuned) == ("report", (("weight_decay", 0.03),))
    assert [p.lr for p in adamw.lr_points] == pytest.approx([2e-3]) and len(adamw.best_runs) == 3


def test_the_trainer_is_given_each_cells_weight_decay(write_suite, tmp_path):
    """Two real (seconds-long) runs: the tuned value reaches the optimizer the trainer builds."""
    body = "tokens = [512]\nseeds = 1\n[tune]\nweight_decay = [0.0, 0.01]\n[optimizers]\nadamw = 3e-3\n"
    summary = run_suite(load_suite(write_suite(body)), tmp_path / "out", jobs=0, stream=None)
    assert summary.counts == {"finished": 2}
    runs = ResultsDB(tmp_path / "out").runs()
    given = {wd_of(r): json.loads(r["config_json"])["optim"]["hp"]["weight_decay"] for r in runs}
    assert given == {0.0: 0.0, 0.01: 0.01}
