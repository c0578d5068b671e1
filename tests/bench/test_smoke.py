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
