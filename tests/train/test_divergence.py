"""A broken run stops with status "diverged" at a step, with its reason, and nothing is raised: an
absurd learning rate, a NaN gradient, non-finite weights, a model destroyed to the uniform output."""

from __future__ import annotations

import json
import math

import pytest

from optarena.cli import main
from optarena.train import load_config, loop, train
from optarena.train.build import build
from optarena.train.divergence import DivergenceGuard

from .helpers import tiny_run


def test_absurd_lr_diverges_without_an_exception(shard_dir, tmp_path):
    result = train(load_config(None, tiny_run(shard_dir, tmp_path / "boom", lr=1e4, steps=50, warmup=0)))
    assert result.status == "diverged"
    assert 1 < result.diverged_at_step < 50 and result.final_val_loss is None
    record = json.loads((tmp_path / "boom" / "run.json").read_text())
    assert record["status"] == "diverged" and record["diverged_at_step"] == result.diverged_at_step
    assert record["final_val_loss"] is None and record["steps"] == result.diverged_at_step
    last = json.loads((tmp_path / "boom" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == result.diverged_at_step  # the diverging step is logged
    assert not (tmp_path / "boom" / "checkpoint.pt").exists()  # no checkpoint of a broken state

    # the process goes on: the next run of a suite trains normally
    after = train(load_config(None, tiny_run(shard_dir, tmp_path / "next", steps=2)))
    assert after.status == "finished"


@pytest.mark.parametrize("losses, diverges_at", [
    ([4.0, 3.0, 5.9, 6.1], 4),  # L0 = 4: threshold 4 + max(2, 2) = 6
    ([10.0, 9.0, 14.9, 15.1], 4),  # L0 = 10: threshold 10 + max(2, 5) = 15
    ([4.0, float("nan")], 2),
    ([4.0, float("inf")], 2),
    ([float("nan")], 1),
    ([4.0, 2.0, 5.5, 2.0], None),  # a spike that stays below the threshold is not divergence
])  # fmt: skip
def test_rule(losses, diverges_at):
    guard = DivergenceGuard()
    at = next((i + 1 for i, loss in enumerate(losses) if guard.check(loss)), None)
    assert at == diverges_at


@pytest.mark.parametrize("grad_norm", [math.nan, math.inf])
def test_a_non_finite_gradient_is_divergence(grad_norm):
    guard = DivergenceGuard()
    assert guard.check(4.0, 1.0) is None
    assert guard.check(3.0, grad_norm) == "non-finite gradient"
    assert guard.check(math.nan, grad_norm) == "non-finite loss"  # the loss is the cause, when it is one


def test_non_finite_parameters_are_divergence():
    guard = DivergenceGuard(uniform_loss=U)
    assert guard.check_point(3.0, 12.5) is None
    assert guard.check_point(3.0, math.inf) == "non-finite parameters"
    assert guard.check_point(3.0, math.nan) == "non-finite parameters"


U = math.log(64)


@pytest.mark.parametrize("losses, diverges_at", [
    ([U, U - 0.6, U, U + 5e-4, U - 5e-4], 5),  # learned, then uniform output at 3 log points in a row
    ([U, U - 0.6, U, U, 3.0, U, U, U], 8),  # the count restarts when the loss leaves ln V
    ([U, U, U, U, U, U], None),  # an untrained model is uniform: not divergence
    ([U, U - 0.4, U, U, U, U], None),  # never 0.5 nats below ln V
    ([U, U - 0.6, U + 2e-3, U + 2e-3, U + 2e-3], None),  # near ln V but not within 1e-3
])  # fmt: skip
def test_loss_stuck_at_ln_v_after_learning_is_divergence(losses, diverges_at):
    guard = DivergenceGuard(uniform_loss=U)
    reasons = [guard.check_point(loss, 1.0) for loss in losses]
    at = next((i + 1 for i, r in enumerate(reasons) if r), None)
    assert at == diverges_at
    if at:
        assert reasons[at - 1] == "loss stuck at ln(V) = 4.1589 (uniform output) for 3 log points"


def diverged(out, reason):
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "diverged" and record["diverged_reason"] == reason
    assert record["final_val_loss"] is None and record["steps"] == record["diverged_at_step"]
    assert not (out / "checkpoint.pt").exists()
    return record["diverged_at_step"]


def test_lion_at_an_absurd_lr_is_not_finished(shard_dir, tmp_path):
    """Lion at lr 1e30: ±1e30 weights, loss ln V, NaN gradients; it once ended "finished"."""
    result = train(load_config(None, tiny_run(shard_dir, tmp_path, name="lion", lr=1e30, steps=20, warmup=0)))
    assert result.status == "diverged" and result.diverged_reason == "non-finite gradient"
    assert diverged(tmp_path, "non-finite gradient") == result.diverged_at_step == 2


@pytest.mark.parametrize("name", ["lion", "cautious-lion"])
def test_a_nan_gradient_stops_the_run_before_the_step(shard_dir, tmp_path, monkeypatch, name):
    """One NaN gradient would make Lion's momentum NaN and, sign(NaN) being 0, freeze those weights
    for good with a finite loss: the trainer stops at that step instead, and does not take it."""
    built = []

    def build_with_a_nan_gradient_at_step_3(*args, **kwargs):
        parts = build(*args, **kwargs)
        calls = []
        weight = next(parts.model.parameters())
        weight.register_hook(lambda g: calls.append(1) or (g * math.nan if len(calls) == 3 else g))
        built.append(parts)
        return parts

    monkeypatch.setattr(loop, "build", build_with_a_nan_gradient_at_step_3)
    result = train(load_config(None, tiny_run(shard_dir, tmp_path, name=name, lr=1e-3, steps=6)))
    assert result.status == "diverged" and diverged(tmp_path, "non-finite gradient") == 3
    opt = built[0].optimizer
    assert all(opt.state[p]["step"] == 2 for p in built[0].model.parameters())  # step 3 not taken
    assert all(opt.state[p]["exp_avg"].isfinite().all() for p in built[0].model.parameters())


SABOTEUR = "tests.train.helpers:Saboteur"


def test_non_finite_weights_after_the_last_step_are_divergence(shard_dir, tmp_path):
    """The last step writes inf into the weights: the final evaluation would have scored NaN."""
    cfg = load_config(None, tiny_run(shard_dir, tmp_path, name=SABOTEUR, steps=6, log_every=3,
                                     **{"optim.hp.at_step": 6, "optim.hp.fill": math.inf}))
    result = train(cfg)
    assert result.status == "diverged" and result.diverged_reason == "non-finite parameters"
    assert diverged(tmp_path, "non-finite parameters") == 6


def test_a_destroyed_model_stuck_at_ln_v_is_divergence(shard_dir, tmp_path):
    """AdamW learns to below ln V − 0.5 by step 10; step 12 zeroes every weight: uniform output, loss
    exactly ln 64, finite gradients, never above the loss threshold: it once ended "finished"."""
    cfg = load_config(None, tiny_run(shard_dir, tmp_path, name=SABOTEUR, lr=1e-2, steps=20, warmup=0,
                                     **{"optim.hp.at_step": 12}))
    result = train(cfg)
    reason = "loss stuck at ln(V) = 4.1589 (uniform output) for 3 log points"
    assert result.status == "diverged" and diverged(tmp_path, reason) == 15
    assert min(e["train_loss"] for e in result.history) < U - 0.5


def test_cli_prints_the_reason(shard_dir, tmp_path, capsys):
    assert main(["train", "--data", str(shard_dir), "--seq-len", "32", "--batch-tokens", "256", "--steps", "5",
                 "--warmup", "0", "--optimizer", "lion", "--lr", "1e30", "--out", str(tmp_path),
                 "--progress", "off"]) == 0  # a diverged run is a result, not an error
    assert capsys.readouterr().out.startswith("diverged at step 2 (non-finite gradient): final_val_loss -")
