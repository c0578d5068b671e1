"""SVRM against a per-tensor reference written from the paper's eqs. 2–5."""

import math

import pytest
import torch

from optarena import optim
from optarena.optim.svrm import SVRM

from .helpers import TinyDecoder, X_STAR, minimise, quadratic_grad, random_grads, random_params, rosenbrock_grad, run


def reference(p0, history, *, betas=(0.85, 0.98), gamma=0.3, eps=1e-8, weight_decay=0.1,
              bias_correction=False):
    b1, b2 = betas
    p, m, v = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0)
    g_prev = history[0][1]  # g_0 := g_1: no correction on the first step
    for t, (lr, g) in enumerate(history, start=1):
        p = p * (1 - lr * weight_decay)
        g_vr = g + gamma * (b1 / (1 - b1)) * (g - g_prev)
        m = b1 * m + (1 - b1) * g_vr
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = (1 - b1**t, 1 - b2**t) if bias_correction else (1.0, 1.0)
        p = p - lr * (m / bc1) / (v.sqrt() / math.sqrt(bc2) + eps)
        g_prev = g
    return p, m, v, g_prev


def adam_without_bias_correction(p0, history, *, betas, eps, weight_decay):
    b1, b2 = betas
    p, m, v = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0)
    for lr, g in history:
        p = p * (1 - lr * weight_decay)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * m / (v.sqrt() + eps)
    return p


CASES = {
    "paper": dict(),
    "bias-correction": dict(bias_correction=True),
    "strong-gamma-no-wd": dict(gamma=0.5, weight_decay=0.0),
    "betas-eps": dict(betas=(0.9, 0.99), gamma=0.1, eps=1e-6),
}


@pytest.mark.parametrize("case", CASES)
def test_matches_reference_fp64(case):
    kw = CASES[case]
    params = random_params()
    p0 = [p.detach().clone() for p in params]
    opt = SVRM(params, lr=1e-2, **kw)
    history = run(opt, params, steps=12, peak=1e-2)
    for i, p in enumerate(params):
        rp, rm, rv, rg = reference(p0[i], [(lr, g[i]) for lr, g in history], **kw)
        torch.testing.assert_close(p.detach(), rp, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(opt.state[p]["exp_avg"], rm, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(opt.state[p]["exp_avg_sq"], rv, rtol=1e-12, atol=1e-14)
        assert torch.equal(opt.state[p]["prev_grad"], rg)


def test_bf16_params_track_fp64_reference():
    params = random_params(dtype=torch.bfloat16)
    p0 = [p.detach().double() for p in params]
    opt = SVRM(params, lr=1e-2)
    history = run(opt, params, steps=10, peak=1e-2)
    for i, p in enumerate(params):
        rp, _, _, _ = reference(p0[i], [(lr, g[i].double()) for lr, g in history])
        assert p.dtype == torch.bfloat16 and opt.state[p]["prev_grad"].dtype == torch.float32
        torch.testing.assert_close(p.detach().double(), rp, rtol=2e-2, atol=2e-2)


def test_first_step_has_no_correction():
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = SVRM([x], betas=(0.85, 0.98))
    x.grad = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    opt.step()
    torch.testing.assert_close(opt.state[x]["exp_avg"], 0.15 * x.grad, rtol=1e-15, atol=0.0)


def test_gamma_zero_is_adam_without_bias_correction():
    params = random_params()
    p0 = [p.detach().clone() for p in params]
    opt = SVRM(params, lr=1e-2, gamma=0.0, weight_decay=0.05)
    history = run(opt, params, steps=12, peak=1e-2)
    for i, p in enumerate(params):
        rp = adam_without_bias_correction(p0[i], [(lr, g[i]) for lr, g in history], betas=(0.85, 0.98),
                                          eps=1e-8, weight_decay=0.05)
        torch.testing.assert_close(p.detach(), rp, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("foreach", [False, True])
def test_gamma_zero_with_bias_correction_is_torch_adamw(foreach):
    """Composition identity: SVRM(γ=0, bias_correction=True) == torch.optim.AdamW."""
    a, b = random_params(), random_params()
    ours = SVRM(a, lr=3e-3, betas=(0.9, 0.95), gamma=0.0, weight_decay=0.1, bias_correction=True)
    theirs = torch.optim.AdamW(b, lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, foreach=foreach)
    run(ours, a, steps=10, peak=3e-3)
    run(theirs, b, steps=10, peak=3e-3)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)


def test_three_state_buffers_and_prev_grad_is_a_copy():
    params = random_params()
    opt = SVRM(params)
    grads = random_grads(params, 0)
    for p, g in zip(params, grads):
        p.grad = g.clone()
    opt.step()
    for p, g in zip(params, grads):
        state = opt.state[p]
        assert sum(torch.is_tensor(v) for v in state.values()) == 3
        assert state["prev_grad"].untyped_storage().data_ptr() != p.grad.untyped_storage().data_ptr()
        p.grad.zero_()
        assert torch.equal(state["prev_grad"], g)


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(lr=-1e-3), "lr=-0.001; expected a number in [0, inf)"),
    (dict(betas=(0.85, 1.0)), "betas[1]=1.0; expected a number in [0, 1)"),
    (dict(gamma=-0.3), "gamma=-0.3; expected a number in [0, inf)"),
    (dict(eps=0.0), "eps=0.0; expected a number in (0, inf)"),
    (dict(weight_decay=-0.1), "weight_decay=-0.1; expected a number in [0, inf)"),
    (dict(bias_correction="yes"), "bias_correction='yes'"),
])
def test_rejects_bad_hyperparameters(kwargs, fragment):
    with pytest.raises(ValueError) as e:
        SVRM(random_params(), **kwargs)
    assert fragment in str(e.value) and "expected" in str(e.value)


def test_create_scales_attention_lr():
    groups = {g["role"]: g for g in optim.create("svrm", TinyDecoder(), lr=1e-3).param_groups}
    assert groups["attention"]["lr"] == pytest.approx(1.1e-3) and groups["mlp"]["lr"] == 1e-3
    assert groups["attention"]["weight_decay"] == 0.1 == groups["mlp"]["weight_decay"]


# --- convergence with a constant lr ---------------------------------------------------------------
# weight_decay=0: the paper's default 0.1 (decoupled) moves the fixed point away from x*.
def test_converges_on_quadratic():
    x = minimise(SVRM, quadratic_grad, torch.zeros(10, dtype=torch.float64), steps=500, lr=1e-2, weight_decay=0.0)
    assert (x - X_STAR).norm() < 1e-2


def test_converges_on_rosenbrock():
    x = minimise(SVRM, rosenbrock_grad, torch.tensor([-1.0, 1.0], dtype=torch.float64), steps=2500, lr=5e-3,
                 weight_decay=0.0)
    assert (x - 1.0).norm() < 1e-2
