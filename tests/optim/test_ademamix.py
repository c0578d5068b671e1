"""AdEMAMix and log-time AdEMAMix against a per-tensor reference written from the sources' code.

apple/ml-ademamix@c3d73c0 pytorch/ademamix.py and mlexpos/adana@3eef26f src/optim/ademamix_decaying_wd.py.
"""

import math
import re

import pytest
import torch

from optarena.optim.ademamix import AdEMAMix

from .helpers import cosine_quadratic_distance, random_params, run

SHAPES = [(7, 5), (11,), (), (3, 4, 2)]  # a 0-d tensor and a 2-D one among them
TOL = dict(rtol=1e-12, atol=1e-14)


def half_life_warmup(t, beta_end, beta_start, warmup):
    """apple/ml-ademamix linear_hl_warmup_scheduler, as written there (1e-8 inside the log included)."""
    if t >= warmup:
        return beta_end

    def f(beta):
        return math.log(0.5) / math.log(beta + 1e-8) - 1

    a = t / warmup
    return 0.5 ** (1 / ((1 - a) * f(beta_start) + a * f(beta_end) + 1))


def reference(p0, history, *, betas=(0.9, 0.999, 0.9999), alpha=2.0, alpha_warmup=None, beta3_warmup=None,
              eps=1e-8, weight_decay=0.0, logtime=None):
    """One tensor; returns (p, m1, m2, ν). ``logtime`` = dict(T, delta, kappa, omega, peak): Ademamix (DW)."""
    b1, b2, b3 = betas
    if logtime is not None:
        T = logtime["T"]
        b3, alpha, alpha_warmup, beta3_warmup = 1 - logtime["delta"] / T, T ** (1 - logtime["kappa"]), T, T
    p, m1, m2, nu = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0), torch.zeros_like(p0)
    for t, (lr, g) in enumerate(history, start=1):
        a_t = alpha * min(t / alpha_warmup, 1.0) if alpha_warmup else alpha
        b3_t = half_life_warmup(t, b3, b1, beta3_warmup) if beta3_warmup else b3
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b3_t * m2 + (1 - b3_t) * g
        nu = b2 * nu + (1 - b2) * g * g
        u = (m1 / (1 - b1**t) + a_t * m2) / (nu.sqrt() / math.sqrt(1 - b2**t) + eps)
        if logtime is None:
            p = p - lr * (u + weight_decay * p)  # Apple's coupled form
        else:  # ademamix_decaying_wd.py: p.mul_(1 − λ) precedes p.add_(−lr·u)
            p = p * (1 - logtime["omega"] * (lr / logtime["peak"]) / (T // 10 + t))
            p = p - lr * u
    return p, m1, m2, nu


CASES = {
    "plain": dict(weight_decay=0.1),
    "warmups": dict(alpha=5.0, alpha_warmup=6, beta3_warmup=9, weight_decay=0.05),
    "beta1-zero": dict(betas=(0.0, 0.99, 0.999), alpha=3.0, alpha_warmup=4, beta3_warmup=20),
    "logtime": dict(logtime=True, total_steps=60),
    "logtime-past-T": dict(logtime=True, total_steps=10, kappa=0.75, delta=4.0, omega=2.0),
}


def reference_kwargs(kw, peak):
    if not kw.get("logtime"):
        return kw
    return dict(logtime=dict(T=kw["total_steps"], delta=kw.get("delta", 8.0), kappa=kw.get("kappa", 0.85),
                             omega=kw.get("omega", 4.0), peak=peak))


def check_against_reference(opt, params, p0, history, kw, peak, **tol):
    for i, p in enumerate(params):
        rp, rm1, rm2, rnu = reference(p0[i], [(lr, g[i]) for lr, g in history], **reference_kwargs(kw, peak))
        state = opt.state[p]
        torch.testing.assert_close(p.detach().double(), rp, **tol)
        if tol == TOL:
            if kw.get("betas", (0.9,))[0] != 0:
                torch.testing.assert_close(state["exp_avg_fast"], rm1, **tol)
            torch.testing.assert_close(state["exp_avg_slow"], rm2, **tol)
            torch.testing.assert_close(state["exp_avg_sq"], rnu, **tol)


@pytest.mark.parametrize("case", CASES)
def test_matches_reference_fp64(case):
    kw = CASES[case]
    params = random_params(shapes=SHAPES)
    p0 = [p.detach().clone() for p in params]
    opt = AdEMAMix(params, lr=1e-2, **kw)
    history = run(opt, params, steps=14, peak=1e-2)  # warmup + cosine lr: s(t) changes every step
    check_against_reference(opt, params, p0, history, kw, peak=1e-2, **TOL)


@pytest.mark.parametrize("case", ["warmups", "logtime"])
def test_bf16_parameters_close_to_fp64_reference(case):
    kw = CASES[case]
    params = [p.detach().to(torch.bfloat16).requires_grad_() for p in random_params(shapes=SHAPES)]
    p0 = [p.detach().double() for p in params]
    opt = AdEMAMix(params, lr=1e-2, **kw)
    history = run(opt, params, steps=10, peak=1e-2)
    history = [(lr, [g.double() for g in grads]) for lr, grads in history]
    for p in params:
        assert p.dtype == torch.bfloat16 and opt.state[p]["exp_avg_sq"].dtype == torch.float32
    check_against_reference(opt, params, p0, history, kw, peak=1e-2, rtol=0, atol=3e-2)


def test_uneven_step_counts_in_one_group():
    kw = CASES["logtime"]
    params = random_params(shapes=SHAPES)
    p0 = [p.detach().clone() for p in params]
    opt = AdEMAMix(params, lr=1e-2, **kw)
    history = [[] for _ in params]
    for lr, grads in run(opt, params[:1], steps=3, peak=1e-2):  # only the first tensor moves
        history[0].append((lr, grads[0]))
    for lr, grads in run(opt, params, steps=8, peak=1e-2):
        for i, g in enumerate(grads):
            history[i].append((lr, g))
    for i, p in enumerate(params):
        rp, *_ = reference(p0[i], history[i], **reference_kwargs(kw, 1e-2))
        torch.testing.assert_close(p.detach(), rp, **TOL)


@pytest.mark.parametrize("betas, buffers", [
    ((0.9, 0.999, 0.9999), {"exp_avg_fast", "exp_avg_slow", "exp_avg_sq"}),
    ((0.0, 0.999, 0.9999), {"exp_avg_slow", "exp_avg_sq"}),  # Apple's code keeps no m1 when β1 = 0
])
def test_state_holds_only_what_the_algorithm_needs(betas, buffers):
    params = random_params(shapes=SHAPES)
    opt = AdEMAMix(params, lr=1e-2, betas=betas)
    run(opt, params, steps=2, peak=1e-2)
    for p in params:
        assert set(opt.state[p]) == buffers | {"step"}


def test_alpha_zero_is_adamw():
    """α = 0 removes the slow EMA: AdEMAMix is torch.optim.AdamW (decoupled decay before the step)."""
    params = random_params(shapes=SHAPES)
    twins = [p.detach().clone().requires_grad_() for p in params]
    ours = AdEMAMix(params, lr=1e-2, betas=(0.8, 0.99, 0.999), alpha=0.0, eps=1e-7, weight_decay=0.1)
    adamw = torch.optim.AdamW(twins, lr=1e-2, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.1)
    for lr, grads in run(ours, params, steps=12, peak=1e-2):
        for group in adamw.param_groups:
            group["lr"] = lr
        for p, g in zip(twins, grads):
            p.grad = g.clone()
        adamw.step()
    for p, q in zip(params, twins):
        torch.testing.assert_close(p.detach(), q.detach(), **TOL)


def test_logtime_is_ademamix_with_the_derived_hyperparameters():
    """ω = 0: logtime=True is plain AdEMAMix with β3 = 1 − δ/T, α = T^(1−κ), T_α = T_β3 = T (spec §1.7),
    so at t ≥ T it runs with exactly those values; given betas[2] and alpha are overridden."""
    T, delta, kappa = 10, 8.0, 0.85
    a, b = random_params(shapes=SHAPES), random_params(shapes=SHAPES)
    log = AdEMAMix(a, lr=1e-2, betas=(0.9, 0.999, 0.5), alpha=123.0, logtime=True, omega=0.0, total_steps=T)
    plain = AdEMAMix(b, lr=1e-2, betas=(0.9, 0.999, 1 - delta / T), alpha=T ** (1 - kappa),
                     alpha_warmup=T, beta3_warmup=T)
    run(log, a, steps=14, peak=1e-2)
    run(plain, b, steps=14, peak=1e-2)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


BAD = [
    (dict(lr=-1.0), "lr", "[0, inf)"),
    (dict(betas=(0.9, 0.999, 1.0)), r"betas\[2\]", "[0, 1)"),
    (dict(betas=(-0.1, 0.999, 0.9999)), r"betas\[0\]", "[0, 1)"),
    (dict(betas=(0.9, 0.999)), "betas", "3 numbers in [0, 1)"),
    (dict(alpha=-1.0), "alpha", "[0, inf)"),
    (dict(alpha_warmup=0), "alpha_warmup", "[1, inf)"),
    (dict(beta3_warmup=-5), "beta3_warmup", "[1, inf)"),
    (dict(eps=0.0), "eps", "(0, inf)"),
    (dict(weight_decay=-0.1), "weight_decay", "[0, inf)"),
    (dict(logtime=1.5), "logtime", "False, True"),
    (dict(logtime=True), "total_steps", "integer >= 1"),
    (dict(logtime=True, total_steps=0), "total_steps", "integer >= 1"),
    (dict(logtime=True, total_steps=100, kappa=0.0), "kappa", "(0, 1]"),
    (dict(logtime=True, total_steps=100, delta=0.0), "delta", "(0, inf)"),
    (dict(logtime=True, total_steps=100, delta=150.0), "delta", "(0, 100]"),
    (dict(logtime=True, total_steps=100, omega=-1.0), "omega", "[0, inf)"),
    (dict(logtime=True, total_steps=100, weight_decay=0.1), "weight_decay", "0 with logtime=True"),
]


@pytest.mark.parametrize("kw, name, valid", BAD)
def test_bad_hyperparameters_are_rejected(kw, name, valid):
    with pytest.raises(ValueError, match=rf"{name}=.*{re.escape(valid)}"):
        AdEMAMix(random_params(), **(dict(lr=1e-3) | kw))


@pytest.mark.parametrize("name, kw", [("ademamix", dict(betas=(0.9, 0.999, 0.99), alpha=2.0)),
                                      ("ademamix-logtime", dict(total_steps=400, omega=0.0))])
def test_registry_entries_build_and_converge_on_a_quadratic(name, kw):
    assert cosine_quadratic_distance(name, **kw) < 1e-2
