"""StableMomentum against a per-tensor reference from its docstring (the paper's eqs. 1–3 + our v_t)."""

import math

import pytest
import torch

from optarena.optim.adam import AdamFamily
from optarena.optim.stable_momentum import StableMomentum

from .helpers import X_STAR, minimise, quadratic_grad, random_params, rosenbrock_grad, run

SCALE = 0.3  # gradient scale: per-tensor norms fall both above and below clip = 1 (asserted below)


def clip(g, c):
    """Per-tensor L2 clipping with torch's guard: g·min(1, c/(‖g‖ + 1e-6))."""
    return g if c is None else g * min(1.0, c / (g.norm().item() + 1e-6))


def reference(p0, history, *, betas=(0.9, 0.95), eps=1e-8, clip_norm=1.0, weight_decay=0.0):
    b1, b2 = betas
    p, m, v = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0)
    for t, (lr, g) in enumerate(history, start=1):
        p = p * (1 - lr * weight_decay)
        g = clip(g, clip_norm)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)  # "η_t incorporates bias correction"
        p = p - lr_t * m / (v.sqrt() + eps)
    return p, m, v


CASES = {
    "paper": dict(),
    "no-clip": dict(clip=None),
    "clip-0.5-wd": dict(clip=0.5, weight_decay=0.1),
    "eps-betas": dict(eps=1e-6, betas=(0.8, 0.99)),
}


def reference_kwargs(kw):
    ref = {k: v for k, v in kw.items() if k != "clip"}
    return ref | dict(clip_norm=kw.get("clip", 1.0))


@pytest.mark.parametrize("case", CASES)
def test_matches_reference_fp64(case):
    kw = CASES[case]
    params = random_params()
    p0 = [p.detach().clone() for p in params]
    opt = StableMomentum(params, lr=1e-2, **kw)
    history = run(opt, params, steps=12, peak=1e-2, scale=SCALE)
    norms = [g.norm().item() for _, gs in history for g in gs]
    assert min(norms) < 0.5 and max(norms) > 1.0  # clipping both active and inactive
    for i, p in enumerate(params):
        rp, rm, rv = reference(p0[i], [(lr, g[i]) for lr, g in history], **reference_kwargs(kw))
        torch.testing.assert_close(p.detach(), rp, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(opt.state[p]["exp_avg"], rm, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(opt.state[p]["exp_avg_sq"], rv, rtol=1e-12, atol=1e-14)


def test_bf16_params_track_fp64_reference():
    params = random_params(dtype=torch.bfloat16)
    p0 = [p.detach().double() for p in params]
    opt = StableMomentum(params, lr=1e-2)
    history = run(opt, params, steps=10, peak=1e-2, scale=SCALE)
    for i, p in enumerate(params):
        rp, _, _ = reference(p0[i], [(lr, g[i].double()) for lr, g in history])
        assert p.dtype == torch.bfloat16 and opt.state[p]["exp_avg"].dtype == torch.float32
        torch.testing.assert_close(p.detach().double(), rp, rtol=2e-2, atol=2e-2)


def test_without_clipping_is_adam_with_bias_correction_in_the_step_size():
    """Composition identity: clip=None is AdamFamily(eps_style="hf"), state included."""
    a, b = random_params(), random_params()
    ours = StableMomentum(a, lr=3e-3, betas=(0.9, 0.95), eps=1e-8, clip=None, weight_decay=0.1)
    adam = AdamFamily(b, lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, eps_style="hf")
    run(ours, a, steps=10, peak=3e-3, scale=3.0)
    run(adam, b, steps=10, peak=3e-3, scale=3.0)
    for x, y in zip(a, b):  # the same pieces in the same order: bit for bit
        assert torch.equal(x, y)
        assert all(torch.equal(ours.state[x][k], adam.state[y][k]) for k in ("exp_avg", "exp_avg_sq"))


def test_two_state_buffers():
    params = random_params()
    opt = StableMomentum(params)
    run(opt, params, steps=1, peak=1e-3)
    assert all(sum(torch.is_tensor(v) for v in opt.state[p].values()) == 2 for p in params)


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(lr=-1e-3), "lr=-0.001"),
    (dict(betas=(1.0, 0.95)), "betas[0]=1.0"),
    (dict(betas=(0.9, -0.5)), "betas[1]=-0.5"),
    (dict(eps=0.0), "eps=0.0; expected a number in (0, inf)"),
    (dict(clip=-1.0), "clip=-1.0; expected a number in (0, inf)"),
    (dict(weight_decay=-0.1), "weight_decay=-0.1; expected a number in [0, inf)"),
])
def test_rejects_bad_hyperparameters(kwargs, fragment):
    with pytest.raises(ValueError) as e:
        StableMomentum(random_params(), **kwargs)
    assert fragment in str(e.value) and "expected" in str(e.value)


# --- convergence with a constant lr ---------------------------------------------------------------
def test_converges_on_quadratic():
    # Adam-normalised steps: with a constant lr the iterate settles within ~lr/10 of x*, not at it
    x = minimise(StableMomentum, quadratic_grad, torch.zeros(10, dtype=torch.float64), steps=500, lr=1e-2)
    assert (x - X_STAR).norm() < 1e-2


def test_converges_on_rosenbrock():
    x = minimise(StableMomentum, rosenbrock_grad, torch.tensor([-1.0, 1.0], dtype=torch.float64), steps=800, lr=1e-2)
    assert (x - 1.0).norm() < 1e-2
