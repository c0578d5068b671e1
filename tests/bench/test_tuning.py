"""Fair tuning through the runner, with a fake trainer whose best LR is known (fakes.py)."""

from __future__ import annotations

import functools
import json
import math
import sqlite3
from pathlib import Path

import pytest

from optarena.bench import ResultsDB, load_suite, run_suite
from optarena.bench.cells import Group
from optarena.bench.suite import Budget, Suite, Variant
from optarena.bench.tuning import INF, plan_group

from .fakes import fake_train


def run(path, out, targets, **fake):
    calls: list[str] = []
    train_fn = functools.partial(fake_train, targets=targets, log=calls, **fake)
    summary = run_suite(load_suite(path), out, jobs=0, train_fn=train_fn, stream=None)
    return summary, calls, ResultsDB(out)


def choice(db, optimizer):
    return next(c for c in db.choices() if c["optimizer"] == optimizer)


SUITE = """
tokens = [512]
lr_mults = [0.5, 1, 2]
max_extend = {max_extend}
seeds = 3
[optimizers]
adamw = 1e-3
lion = 1e-4
"""


@pytest.mark.parametrize("factor, max_extend, best_mult, at_edge, n_points", [
    (1.0, 2, 1.0, 0, 3),  # best inside the grid: no extension
    (8.0, 2, 8.0, 1, 5),  # best beyond the top: two extensions (x4, x8), then exhausted at the edge
    (8.0, 3, 8.0, 0, 6),  # a third extension (x16) brackets it
    (1 / 8, 3, 1 / 8, 0, 6),  # the same downwards
    (8.0, 0, 2.0, 1, 3),  # extension off: the edge is flagged
])  # fmt: skip
def test_grid_extends_towards_the_best_lr(write_suite, tmp_path, factor, max_extend, best_mult, at_edge, n_points):
    path = write_suite(SUITE.format(max_extend=max_extend))
    _, _, db = run(path, tmp_path / "out", {"adamw": 1e-3 * factor, "lion": 1e-4})
    c = choice(db, "adamw")
    assert math.isclose(c["best_lr"], 1e-3 * best_mult, rel_tol=1e-5)
    assert (c["at_edge"], c["n_lr_points"]) == (at_edge, n_points)
    sweep = [r for r in db.runs() if r["optimizer"] == "adamw" and r["seed"] == 0]
    assert len(sweep) == n_points
    assert sum(r["phase"] == "extend" for r in sweep) == n_points - 3
    assert choice(db, "lion")["n_lr_points"] == 3  # lion's best is inside: it needs no more points


def test_finalists_rerun_with_three_seeds(write_suite, tmp_path):
    _, _, db = run(write_suite(SUITE.format(max_extend=2)), tmp_path / "out", {"adamw": 2e-3, "lion": 1e-4})
    for opt, best in (("adamw", 2e-3), ("lion", 1e-4)):
        seeds = [r for r in db.runs() if r["optimizer"] == opt and math.isclose(r["lr"], best)]
        assert sorted(r["seed"] for r in seeds) == [0, 1, 2]
        assert sorted(r["phase"] for r in seeds) == ["seeds", "seeds", "sweep"]
    assert all(r["status"] == "finished" for r in db.runs())


def test_every_optimizer_gets_the_same_grid(write_suite, tmp_path):
    _, _, db = run(write_suite(SUITE.format(max_extend=0)), tmp_path / "out", {"adamw": 1e-3, "lion": 1e-4})
    sweeps = {opt: sorted(r["lr_mult"] for r in db.runs() if r["optimizer"] == opt and r["phase"] == "sweep")
              for opt in ("adamw", "lion")}
    assert sweeps["adamw"] == sweeps["lion"] == [0.5, 1.0, 2.0]


def test_diverged_runs_lose_and_all_diverged_extends_down(write_suite, tmp_path):
    _, _, db = run(write_suite(SUITE.format(max_extend=2)), tmp_path / "out", {"adamw": 4e-3, "lion": 1e-4},
                   diverge_above=1.5e-3)
    adamw = {round(r["lr"], 8): r for r in db.runs() if r["optimizer"] == "adamw" and r["seed"] == 0}
    assert adamw[2e-3]["status"] == "diverged" and adamw[2e-3]["final_val_loss"] is None
    assert adamw[2e-3]["diverged_at_step"] == 3
    assert math.isclose(choice(db, "adamw")["best_lr"], 1e-3)  # the largest LR that did not diverge
    # lion: every LR at or above 1.5e-3 diverges, which is none of its grid; now all of adamw's:
    _, _, db = run(write_suite(SUITE.format(max_extend=1), name="all"), tmp_path / "all",
                   {"adamw": 1e-3, "lion": 1e-4}, diverge_above=1e-4 * 0.4)
    lion = sorted(r["lr_mult"] for r in db.runs() if r["optimizer"] == "lion" and r["seed"] == 0)
    assert lion == [0.25, 0.5, 1.0, 2.0]  # extended downwards
    c = choice(db, "lion")  # only the extension's LR survived: chosen, and flagged as at the edge
    assert math.isclose(c["best_lr"], 2.5e-5) and c["at_edge"] == 1


def test_fixed_lr_suite_runs_each_optimizer_once(write_suite, tmp_path):
    body = "tokens = [512]\nseeds = { default = 1, adamw = 3 }\n[optimizers]\nadamw = 1e-3\nlion = 1e-4\n"
    _, calls, db = run(write_suite(body), tmp_path / "out", {"adamw": 5e-3, "lion": 1e-4})
    assert len(calls) == 4  # adamw x 3 seeds, lion x 1
    assert {r["phase"] for r in db.runs() if r["seed"] == 0} == {"fixed"}
    assert choice(db, "adamw")["n_lr_points"] == 1 and choice(db, "adamw")["at_edge"] is None


RESULTS = Path(__file__).parents[2] / "docs" / "results"


@pytest.mark.parametrize("name", ["quick-sweep", "quick-seeds"])
def test_a_shipped_database_resumes_unchanged(name):
    """Every cell the planner asks of a suite that tunes nothing besides the LR is already in a database
    made before the coordinate search existed, under its key, and the choice is the one recorded."""
    con = sqlite3.connect(f"file:{RESULTS / name / 'results.db'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    s = json.loads(dict(con.execute("SELECT key, value FROM meta").fetchall())["suite_json"])
    variants = {v["name"]: Variant(**{**v, "scale": tuple(v["scale"])}) for v in s["variants"]}
    suite = Suite(s["name"], s["description"], tuple(s["models"]), s["data"], (Budget(**s["budgets"][0]),),
                  tuple(variants.values()), tuple(s["lr_mults"]), s["max_extend"], s["seeds"])
    runs = {r["cell"]: r for r in con.execute("SELECT cell, status, final_val_loss FROM runs")}
    losses = {k: r["final_val_loss"] if r["status"] == "finished" else INF for k, r in runs.items()}
    choices = con.execute("SELECT * FROM choices").fetchall()
    assert len(choices) == len(variants)
    for c in choices:
        group = Group(c["model"], variants[c["optimizer"]], suite.budgets[0], c["tokens"], 0, c["data"], 0.0, 0, None)
        plan = plan_group(suite, group, losses)
        assert plan.settled and {cell.key for cell in plan.cells} <= set(runs)
        assert math.isclose(group.variant.centre(group.model) * plan.best_mult, c["best_lr"], rel_tol=1e-6)
        assert (plan.n_points, plan.at_edge) == (c["n_lr_points"], bool(c["at_edge"]))
