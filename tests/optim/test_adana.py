"""ADana, Dana-MK4, Dana-Star, Dana-Star-MK4 against per-tensor references written from the authors' code.

The reference follows the sources' own arithmetic (mlexpos/adana@3eef26f ``src/optim/adana.py``, ``dana_star_mk4.py``): sign(m)·min(a, c) rather
than the implementation's clamp, 1/D and √r/D as the code writes them, and each source's decay order.
"""

import math
import re

import pytest
import torch

from optarena.optim.adana import ADana

from .helpers import cosine_quadratic_distance, lr_at, random_grads, random_params, run

SHAPES = [(7, 5), (11,), (), (3, 4, 2)]  # a 0-d tensor and a 2-D one among them
T = 60
TOL = dict(rtol=1e-12, atol=1e-14)


def reference(p0, history, *, peak, kappa=0.85, delta=8.0, omega=4.0, eps=1e-8, clipsnr=None,
              tau=False, gamma3_factor=1.0, total_steps=T):
    """One tensor; returns (p, m, v, τ or None). ``history`` is [(lr, g)], one entry per update."""
    g3 = gamma3_factor
    p, m, v, tau_buf = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0), torch.zeros_like(p0)
    for t, (lr, g) in enumerate(history, start=1):
        c = delta / (delta + t)
        m = (1 - c) * m + c * g
        v = (1 - c) * v + c * g * g
        D = v.sqrt() + eps
        lam = omega * (lr / peak) / (total_steps // 10 + t)
        if clipsnr is None and not tau:  # README form, paper-era DANA_STAR_NO_TAU: decay, then step
            p = p * (1 - lam)
            p = p - lr * (g + g3 * (1 + t) ** (1 - kappa) * m) / D
            continue
        if tau:  # dana_star_mk4.py
            tau_buf = (1 - c) * tau_buf + c * g.abs() / (g.abs() + D)
            capped = tau_buf.clamp(max=0.5)
            r = torch.maximum(capped / (1 - capped), torch.full_like(p0, 1 / (1 + t)))
            t_eff = (tau_buf * t).clamp(min=1.0)
            N = r.sqrt() / D
        else:  # adana.py with clipsnr
            r, t_eff, N = torch.ones_like(p0), torch.full_like(p0, 1.0 + t), 1.0 / D
        a = t_eff ** (1 - kappa) * m.abs() * N / r
        if clipsnr is not None:
            a = a.clamp(max=clipsnr)
        p = p - lr * (g * N + g3 * torch.sign(m) * (r * a + m.abs() * N))
        p = p * (1 - lam)
    return p, m, v, (tau_buf if tau else None)


CASES = {
    "adana": dict(),
    "adana-kappa-gamma3": dict(kappa=0.6, gamma3_factor=0.7, delta=5.0),
    "dana-mk4": dict(clipsnr=1.0),
    "dana-star": dict(tau=True),
    "dana-star-mk4": dict(tau=True, clipsnr=1.0),
    "dana-star-mk4-gamma3": dict(tau=True, clipsnr=0.5, kappa=0.75, gamma3_factor=1.5),
}


def sparse_grads(params, step, seed=1):
    """Random gradients with about half the entries zero, so τ moves and its cap and floor engage."""
    gen = torch.Generator().manual_seed(7000 + step)
    return [g * (torch.rand(g.shape, generator=gen, dtype=torch.float64) < 0.5)
            for g in random_grads(params, step, seed)]


def drive(opt, params, steps, peak, grads_fn=sparse_grads, skip=None):
    """Step with a warmup/cosine lr; parameter ``skip`` gets no gradient on odd steps (uneven t)."""
    history = [[] for _ in params]
    for t in range(steps):
        lr = lr_at(t, peak, steps)
        for group in opt.param_groups:
            group["lr"] = lr
        for i, (p, g) in enumerate(zip(params, grads_fn(params, t))):
            p.grad = None if (i == skip and t % 2) else g.clone()
            if p.grad is not None:
                history[i].append((lr, g))
        opt.step()
    return history


@pytest.mark.parametrize("case", CASES)
def test_matches_reference_fp64(case):
    kw = CASES[case]
    params = random_params(shapes=SHAPES)
    p0 = [p.detach().clone() for p in params]
    peak = 3e-2
    opt = ADana(params, lr=peak, total_steps=T, **kw)
    history = drive(opt, params, steps=14, peak=peak)
    for i, p in enumerate(params):
        rp, rm, rv, rtau = reference(p0[i], history[i], peak=peak, **kw)
        state = opt.state[p]
        torch.testing.assert_close(p.detach(), rp, **TOL)
        torch.testing.assert_close(state["m"], rm, **TOL)
        torch.testing.assert_close(state["v"], rv, **TOL)
        if rtau is not None:
            torch.testing.assert_close(state["tau"], rtau, **TOL)


def test_uneven_step_counts_in_one_group():
    """A parameter that misses updates has its own t (the per-tensor coefficient lists)."""
    kw = dict(tau=True, clipsnr=0.5)
    params = random_params(shapes=SHAPES)
    p0 = [p.detach().clone() for p in params]
    opt = ADana(params, lr=1e-2, total_steps=T, **kw)
    history = drive(opt, params, steps=12, peak=1e-2, skip=1)
    assert opt.state[params[1]]["step"] == 6 and opt.state[params[0]]["step"] == 12
    for i, p in enumerate(params):
        rp, _, _, rtau = reference(p0[i], history[i], peak=1e-2, **kw)
        torch.testing.assert_close(p.detach(), rp, **TOL)
        torch.testing.assert_close(opt.state[p]["tau"], rtau, **TOL)


@pytest.mark.parametrize("case", ["dana-mk4", "dana-star-mk4", "dana-star-mk4-gamma3"])
def test_clip_binds_in_the_reference_cases(case):
    """Guards the cases above: the clip must change the run, else MK4 is not tested."""
    runs = []
    for clipsnr in (CASES[case]["clipsnr"], math.inf):
        params = random_params(shapes=SHAPES)
        drive(ADana(params, lr=3e-2, total_steps=T, **(CASES[case] | {"clipsnr": clipsnr})), params, 14, 3e-2)
        runs.append(params)
    assert all(not torch.allclose(a, b, rtol=1e-6, atol=0) for a, b in zip(*runs))


@pytest.mark.parametrize("case", ["adana", "dana-star-mk4"])
def test_bf16_parameters_close_to_fp64_reference(case):
    kw = CASES[case]
    p64 = random_params(shapes=SHAPES)
    params = [p.detach().to(torch.bfloat16).requires_grad_() for p in p64]
    opt = ADana(params, lr=1e-2, total_steps=T, **kw)

    def grads_bf16(_, t):
        return [g.to(torch.bfloat16) for g in sparse_grads(p64, t)]

    history = drive(opt, params, 10, 1e-2, grads_fn=grads_bf16)
    for i, p in enumerate(params):
        assert p.dtype == torch.bfloat16 and opt.state[p]["m"].dtype == torch.float32
        start = p64[i].detach().to(torch.bfloat16).double()
        rp, *_ = reference(start, [(lr, g.double()) for lr, g in history[i]], peak=1e-2, **kw)
        torch.testing.assert_close(p.double(), rp, rtol=0, atol=2e-2 * max(1.0, rp.abs().max().item()))


@pytest.mark.parametrize("kw, buffers", [(dict(), {"m", "v"}), (dict(clipsnr=2.0), {"m", "v"}),
                                         (dict(tau=True), {"m", "v", "tau"}),
                                         (dict(tau=True, clipsnr=2.0), {"m", "v", "tau"})])
def test_state_holds_only_what_the_algorithm_needs(kw, buffers):
    params = random_params(shapes=SHAPES)
    opt = ADana(params, lr=1e-2, total_steps=T, **kw)
    run(opt, params, steps=2, peak=1e-2)
    for p in params:
        state = opt.state[p]
        assert {k for k, x in state.items() if torch.is_tensor(x)} == buffers
        assert set(state) == buffers | {"step"} and state["step"] == 2


def test_kappa_one_is_long_adam_nesterov():
    """κ = 1, ω = 0: ADana is the undamped log-time Nesterov p ← p − γ(g + m)/(√v + ε) (spec §1.8)."""
    params = random_params(shapes=SHAPES)
    p0 = [p.detach().clone() for p in params]
    opt = ADana(params, lr=1e-2, kappa=1.0, omega=0.0)
    history = run(opt, params, steps=12, peak=1e-2)
    for i, p in enumerate(params):
        x, m, v = p0[i].clone(), torch.zeros_like(p0[i]), torch.zeros_like(p0[i])
        for t, (lr, grads) in enumerate(history, start=1):
            g, beta = grads[i], t / (8.0 + t)
            m, v = beta * m + (1 - beta) * g, beta * v + (1 - beta) * g * g
            x = x - lr * (g + m) / (v.sqrt() + 1e-8)
        torch.testing.assert_close(p.detach(), x, **TOL)


def test_infinite_clip_is_todays_adana_code():
    """clipsnr = inf is mlexpos/adana@3eef26f adana.py unclipped: γ[g + ((1+t)^(1−κ) + 1)m]/D, decay after."""
    params = random_params(shapes=SHAPES)
    p0 = [p.detach().clone() for p in params]
    opt = ADana(params, lr=1e-2, clipsnr=math.inf, total_steps=T)
    history = run(opt, params, steps=12, peak=1e-2)
    for i, p in enumerate(params):
        x, m, v = p0[i].clone(), torch.zeros_like(p0[i]), torch.zeros_like(p0[i])
        for t, (lr, grads) in enumerate(history, start=1):
            g, c = grads[i], 8.0 / (8.0 + t)
            m, v = (1 - c) * m + c * g, (1 - c) * v + c * g * g
            x = x - lr * (g + ((1 + t) ** 0.15 + 1) * m) / (v.sqrt() + 1e-8)
            x = x * (1 - 4.0 * (lr / 1e-2) / (T // 10 + t))
        torch.testing.assert_close(p.detach(), x, **TOL)


BAD = [
    (dict(lr=-1.0), "lr", "[0, inf)"),
    (dict(kappa=0.0), "kappa", "(0, 1]"),
    (dict(kappa=1.5), "kappa", "(0, 1]"),
    (dict(delta=0.0), "delta", "(0, inf)"),
    (dict(omega=-0.1), "omega", "[0, inf)"),
    (dict(eps=0.0), "eps", "(0, inf)"),
    (dict(clipsnr=0.0), "clipsnr", "(0, inf]"),
    (dict(clipsnr=-2.0), "clipsnr", "(0, inf]"),
    (dict(gamma3_factor=-1.0), "gamma3_factor", "[0, inf)"),
    (dict(tau="yes"), "tau", "False, True"),
    (dict(total_steps=None), "total_steps", "integer >= 1"),
    (dict(total_steps=0), "total_steps", "integer >= 1"),
    (dict(total_steps=2.5), "total_steps", "integer >= 1"),
]


@pytest.mark.parametrize("kw, name, valid", BAD)
def test_bad_hyperparameters_are_rejected(kw, name, valid):
    with pytest.raises(ValueError, match=rf"{name}=.*{re.escape(valid)}"):
        ADana(random_params(), **(dict(lr=1e-3, total_steps=T) | kw))


def test_bad_param_group_is_rejected_and_omega_zero_needs_no_total_steps():
    opt = ADana(random_params(), lr=1e-3, omega=0.0)  # no decay, so no run length needed
    with pytest.raises(ValueError, match=r"param group 1.*kappa=2.*\(0, 1\]"):
        opt.add_param_group(dict(params=[torch.zeros(3, requires_grad=True)], kappa=2.0))


@pytest.mark.parametrize("name", ["adana", "dana-mk4", "dana-star", "dana-star-mk4"])
def test_registry_entries_build_and_converge_on_a_quadratic(name):
    assert cosine_quadratic_distance(name, total_steps=400, omega=0.0) < 1e-2
