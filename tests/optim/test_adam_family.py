"""AdamFamily (adamw-like, grams, cautious-adamw, adamw-logtime-wd) against per-tensor references."""

import math

import pytest
import torch

from optarena import optim
from optarena.optim.adam import AdamFamily

from .helpers import random_params, run


def reference(p0, history, *, betas, eps, wd=0.0, eps_style="torch", grams=False, caution=False,
              mask_norm="mean", logtime=None):
    """The update of adam.py's docstring, one tensor, written from the formulas."""
    b1, b2 = betas
    p, m, v = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0)
    peak = history[0][0] if logtime is None else logtime["peak"]
    for t, (lr, g) in enumerate(history, start=1):
        if logtime is None:
            p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        if eps_style == "torch":
            u = (m / bc1) / (v.sqrt() / math.sqrt(bc2) + eps)
        else:
            u = math.sqrt(bc2) / bc1 * m / (v.sqrt() + eps)
        if grams:
            u = torch.sign(g) * u.abs()
        if caution:
            mask = (u * g > 0).to(u.dtype)
            if mask_norm == "mean":
                mask = mask / max(mask.mean().item(), 1e-3)
            elif mask_norm == "count":
                mask = mask * mask.numel() / (mask.sum().item() + 1)
            u = u * mask
        p = p - lr * u
        if logtime is not None:
            s = lr / logtime["peak"]
            p = p * (1 - logtime["omega"] * s / (logtime["T"] // 10 + t))
    return p, m, v


CASES = {
    "torch-eps": dict(eps_style="torch", weight_decay=0.1),
    "hf-eps": dict(eps_style="hf", weight_decay=0.05),
    "grams": dict(grams=True, eps_style="hf", eps=1e-6, weight_decay=0.1),
    "cautious-mean": dict(caution=True, eps_style="hf", eps=1e-6, weight_decay=0.1),
    "cautious-count": dict(caution=True, mask_norm="count", eps_style="hf", eps=1e-6),
    "cautious-none": dict(caution=True, mask_norm="none"),
}


@pytest.mark.parametrize("case", CASES)
def test_matches_reference_fp64(case):
    kw = dict(betas=(0.9, 0.99), eps=1e-8) | CASES[case]
    params = random_params()
    p0 = [p.detach().clone() for p in params]
    opt = AdamFamily(params, lr=1e-2, **kw)
    history = run(opt, params, steps=12, peak=1e-2)
    for i, p in enumerate(params):
        ref_kw = dict(betas=kw["betas"], eps=kw["eps"], wd=kw.get("weight_decay", 0.0),
                      eps_style=kw["eps_style"] if "eps_style" in kw else "torch",
                      grams=kw.get("grams", False), caution=kw.get("caution", False),
                      mask_norm=kw.get("mask_norm", "mean"))
        rp, rm, rv = reference(p0[i], [(lr, g[i]) for lr, g in history], **ref_kw)
        torch.testing.assert_close(p.detach(), rp, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(opt.state[p]["exp_avg"], rm, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(opt.state[p]["exp_avg_sq"], rv, rtol=1e-12, atol=1e-14)


def test_logtime_weight_decay_matches_reference():
    params = random_params()
    p0 = [p.detach().clone() for p in params]
    opt = optim.create("adamw-logtime-wd", params, lr=1e-2, omega=4.0, total_steps=40)
    history = run(opt, params, steps=15, peak=1e-2)
    for i, p in enumerate(params):
        rp, _, _ = reference(p0[i], [(lr, g[i]) for lr, g in history], betas=(0.9, 0.999), eps=1e-8,
                             logtime=dict(peak=1e-2, omega=4.0, T=40))
        torch.testing.assert_close(p.detach(), rp, rtol=1e-12, atol=1e-14)


def test_equals_torch_adamw():
    """Composition identity: the plain family member is torch.optim.AdamW (foreach and for-loop)."""
    for foreach in (False, True):
        a, b = random_params(), random_params()
        ours = AdamFamily(a, lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
        theirs = torch.optim.AdamW(b, lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, foreach=foreach)
        run(ours, a, steps=10, peak=3e-3)
        run(theirs, b, steps=10, peak=3e-3)
        for x, y in zip(a, b):
            torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)


def test_grams_leaves_zero_gradient_coordinates():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    opt = optim.create("grams", [x], lr=0.1)
    for _ in range(3):
        x.grad = torch.tensor([0.5, 0.0], dtype=torch.float64)
        opt.step()
    assert x[1].item() == 2.0 and x[0].item() < 1.0


def test_grams_direction_is_gradient_sign():
    """Grams moves against sign(g) even where the momentum points the other way."""
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = optim.create("grams", [x], lr=0.1)
    for g in (1.0, 1.0, 1.0, -0.1):
        before = x.item()
        x.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        assert math.copysign(1, before - x.item()) == math.copysign(1, g)


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(lr=-1.0), "lr=-1.0"),
    (dict(betas=(1.0, 0.9)), "betas[0]=1.0"),
    (dict(betas=(0.9, -0.1)), "betas[1]=-0.1"),
    (dict(betas=(0.9,)), "betas=(0.9,)"),
    (dict(eps=0.0), "eps=0.0"),
    (dict(weight_decay=-0.1), "weight_decay=-0.1"),
    (dict(eps_style="tf"), "eps_style='tf'"),
    (dict(mask_norm="max"), "mask_norm='max'"),
    (dict(wd_schedule="cosine"), "wd_schedule='cosine'"),
    (dict(wd_schedule="logtime"), "total_steps=None"),
    (dict(wd_schedule="logtime", total_steps=10, omega=-1.0), "omega=-1.0"),
])
def test_rejects_bad_hyperparameters(kwargs, fragment):
    with pytest.raises(ValueError) as e:
        AdamFamily(random_params(), **kwargs)
    assert fragment in str(e.value) and "expected" in str(e.value)


def test_rejects_bad_group_hyperparameters():
    a, b = random_params()[:2]
    with pytest.raises(ValueError, match=r"param group 1.*lr=-0.5"):
        AdamFamily([{"params": [a]}, {"params": [b], "lr": -0.5}])
