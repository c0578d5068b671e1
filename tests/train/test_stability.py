"""Stability metrics (optarena.train.stability): spikes and gradient-norm spread, by the rule's own arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from optarena.train import stability as S


def history(losses, norms=None, start=1):
    norms = norms if norms is not None else [1.0] * len(losses)
    return [{"step": start + i, "train_loss": float(l), "grad_norm": float(g)} for i, (l, g) in enumerate(zip(losses, norms))]


def test_a_smooth_decreasing_loss_has_no_spike():
    got = S.stability(history(np.linspace(3.0, 2.0, 60)))
    assert (got["spikes"], got["max_spike"], got["spike_frac"]) == (0, 0.0, 0.0)


def test_one_planted_spike_is_counted_with_its_size():
    rng = np.random.default_rng(0)
    losses = 2.0 + 0.01 * rng.standard_normal(60)
    losses[40] += 0.5
    got = S.stability(history(losses))
    window = losses[30:40]
    assert got["spikes"] == 1 and got["max_spike"] == pytest.approx(losses[40] - np.median(window))
    assert got["spike_frac"] == pytest.approx(1 / 50)


def test_batch_noise_alone_is_not_a_spike():
    """Large but ordinary noise (std 0.1 nats, as at 8-sequence batches) stays under 6 robust stds."""
    rng = np.random.default_rng(1)
    got = S.stability(history(2.0 + 0.1 * rng.standard_normal(400)))
    assert got["spikes"] <= 1


def test_warmup_points_are_skipped():
    losses = [9.0, 2.0, 9.0] + [2.0] * 30  # wild warmup, then flat
    assert S.stability(history(losses), warmup_steps=3)["spikes"] == 0
    assert S.stability(history(losses), warmup_steps=0)["spikes"] is not None


def test_grad_norm_spread_by_its_definition():
    norms = [1.0, 2.0, 3.0, 4.0, 100.0]
    got = S.stability(history([2.0] * 5, norms))
    assert got["grad_norm_cv"] == pytest.approx(np.std(norms, ddof=1) / np.mean(norms))
    assert got["grad_norm_p99_median"] == pytest.approx(np.percentile(norms, 99) / 3.0)


def test_too_short_a_run_gets_none_not_a_number():
    got = S.stability(history([2.0] * 5, [1.0]))
    assert got["spikes"] is None and got["grad_norm_cv"] is None
    assert S.stability([]) == {"spikes": None, "max_spike": None, "spike_frac": None,
                               "grad_norm_cv": None, "grad_norm_p99_median": None}


def test_non_finite_entries_are_left_out():
    losses = [2.0] * 20 + [float("nan")] + [2.0] * 10
    assert S.stability(history(losses))["spikes"] == 0
