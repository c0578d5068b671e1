"""LR factor shapes at their key points, and their use through LambdaLR (log-time optimizers too)."""

from __future__ import annotations

import math

import pytest
import torch

from optarena import optim
from optarena.train.config import ScheduleSection
from optarena.train.schedule import lr_factor, warmup_steps

T = 1000


def factor(**kw):
    return lr_factor(ScheduleSection(**kw), T)


def test_authors_cosine_matches_their_formula():
    """mlexpos/adana@3eef26f src/optim/schedule.py: W = int(T/50); s = t/W + (1 - t/W)/100 in warmup; cosine 1 -> 0.1."""
    s, W = factor(), T // 50
    assert warmup_steps(ScheduleSection(), T) == W == 20
    for t in range(0, T + 1, 7):
        if t < W:
            want = t / W + (1 - t / W) / 100
        else:
            want = 0.1 + 0.5 * (1 - 0.1) * (1 + math.cos(math.pi * (t - W) / (T - W)))
        assert s(t) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("kind", ["cosine", "linear", "wsd", "constant"])
def test_warmup_is_linear_from_start_to_one(kind):
    s = factor(kind=kind, warmup=100, warmup_start=0.0)
    assert s(0) == 0.0 and s(50) == pytest.approx(0.5) and s(99) == pytest.approx(0.99) and s(100) == 1.0


def test_key_points():
    W = 100
    cos = factor(kind="cosine", warmup=W, final_lr_frac=0.1)
    assert cos(W + (T - W) // 2) == pytest.approx(0.55) and cos(T) == pytest.approx(0.1)
    lin = factor(kind="linear", warmup=W, final_lr_frac=0.1)
    assert lin(W + (T - W) // 2) == pytest.approx(0.55) and lin(T) == pytest.approx(0.1)
    wsd = factor(kind="wsd", warmup=W, final_lr_frac=0.0, decay_frac=0.2)  # decays over [800, 1000]
    assert wsd(799) == 1.0 and wsd(800) == 1.0 and wsd(900) == pytest.approx(0.5) and wsd(T) == 0.0
    const = factor(kind="constant", warmup=W)
    assert const(W) == const(T) == 1.0


def test_no_warmup_starts_at_the_peak():
    assert factor(warmup=0)(0) == 1.0


@pytest.mark.parametrize("kind", ["cosine", "linear", "wsd"])
def test_monotone_after_warmup(kind):
    s = factor(kind=kind)
    values = [s(t) for t in range(20, T + 1)]
    assert all(a >= b - 1e-15 for a, b in zip(values, values[1:]))


def test_lambdalr_sets_lr_and_log_time_optimizers_read_s_of_t():
    model = torch.nn.Linear(4, 4)
    opt = optim.create("adana", model, lr=0.01, total_steps=T)
    s = factor()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, s)
    for t in range(30):
        for group in opt.param_groups:
            assert group["lr"] == pytest.approx(0.01 * s(t))
            assert group["lr"] / group["peak_lr"] == pytest.approx(s(t))  # what ADana's s(t) reads
        model.weight.grad = torch.ones_like(model.weight)
        model.bias.grad = torch.ones_like(model.bias)
        opt.step()
        sched.step()
