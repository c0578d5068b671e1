"""Real training under --smoke: `quick` (every optimizer of the library) and one ablation suite
(variants, `clip=None`). The other suites are checked without training in test_suites.py (every
cell's settings build), which keeps this folder inside its CPU time budget."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from optarena import optim
from optarena.bench import ResultsDB, load_suite, run_suite, smoke
from optarena.bench.cells import data_info, resolve_groups
from optarena.bench.smoke import SMOKE_TRAIN, SMOKE_WARMUP
from optarena.train.config import ScheduleSection


@pytest.mark.parametrize("name", ["quick", "stable-momentum-clip"])
def test_smoke_run_records_every_cell(name, shard_dir, tmp_path):
    suite = smoke(load_suite(name, data=str(shard_dir)))
    if name != "quick":  # one run per variant is what this one checks
        suite = dataclasses.replace(suite, lr_mults=suite.lr_mults[:1], seeds=1)
    summary = run_suite(suite, tmp_path / "out", jobs=0, stream=None)
    db = ResultsDB(tmp_path / "out")
    runs = db.runs()
    assert summary.counts == {"finished": len(runs)}, [r["error"] for r in db.runs("failed")]
    assert {r["optimizer"] for r in runs} == {v.name for v in suite.variants}
    for r in runs:
        assert r["final_val_loss"] > r["loss_floor"] > 0
        assert r["opt_state_bytes"] > 0 and r["opt_step_s"] > 0 and r["tokens_per_s"] > 0
        assert r["params_total"] > r["params_non_embedding"] > 0 and r["flops_per_token"] > 0
        assert r["steps"] * 256 == r["tokens"]
        assert json.loads(r["record_json"])["status"] == "finished"
        assert json.loads(r["config_json"])["optim"]["name"] == r["optimizer_name"]
        curve = db.curves(r["id"])
        assert len(curve) == r["steps"] and math.isfinite(curve[-1]["val_loss"])  # the prefix; the final: whole set
    assert len(db.choices()) == len(suite.variants)
    assert not any((tmp_path / "out" / "runs").glob("*/checkpoint.pt"))  # deleted once recorded
    if name == "quick":
        assert sorted({r["optimizer"] for r in runs}) == optim.names()
        assert sorted(r["seed"] for r in runs if r["optimizer"] == "adamw") == [0, 1]


@pytest.mark.parametrize("name, steps", [("svrm-134m", 1000), ("grams-pretrain", 50)])
def test_smoke_replaces_a_warmup_in_steps(name, steps, shard_dir):
    """--full --smoke: a paper's warmup in steps is longer than smoke's 8-12 steps (which the trainer
    refuses), so smoke warms up over a fraction of its run instead; the cells then plan."""
    full = load_suite(name, full=True, data=str(shard_dir))
    assert dict(full.train)["schedule.warmup"] == steps
    with pytest.raises(ValueError, match=f"schedule.warmup={steps} steps is longer"):
        resolve_groups(dataclasses.replace(smoke(full), train=full.train + SMOKE_TRAIN), data_info(full.data))
    suite = smoke(full)
    assert dict(suite.train)["schedule.warmup"] == SMOKE_WARMUP
    groups = resolve_groups(suite, data_info(suite.data))
    assert groups and all(8 <= g.steps <= 12 for g in groups)


def test_smoke_warmup_keeps_fractions_and_shortens_a_variants_steps():
    quick = load_suite("quick")
    v = dataclasses.replace(quick.variants[0], train=(("schedule.warmup", 100), ("grad_clip", 0.5)))
    suite = smoke(dataclasses.replace(quick, variants=(v, *quick.variants[1:]),
                                      train=(("schedule.warmup", 0.05), ("schedule.kind", "wsd"))))
    assert dict(suite.train)["schedule.warmup"] == 0.05 and dict(suite.train)["schedule.kind"] == "wsd"
    assert suite.variants[0].train == (("schedule.warmup", SMOKE_WARMUP), ("grad_clip", 0.5))
    assert SMOKE_WARMUP == ScheduleSection.warmup  # the schedule's default fraction


def test_smoke_of_a_full_suite_with_a_warmup_in_steps_runs(shard_dir, tmp_path):
    suite = smoke(load_suite("svrm-134m", full=True, data=str(shard_dir)))
    suite = dataclasses.replace(suite, budgets=suite.budgets[:1], lr_mults=suite.lr_mults[:1], seeds=1)
    summary = run_suite(suite, tmp_path / "out", jobs=0, stream=None)
    runs = ResultsDB(tmp_path / "out").runs()
    assert summary.counts == {"finished": len(runs)} and {r["optimizer"] for r in runs} == {"adamw", "svrm"}
