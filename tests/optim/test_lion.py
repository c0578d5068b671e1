"""Lion and cautious Lion against per-tensor references."""

import pytest
import torch

from optarena import optim
from optarena.optim.lion import Lion

from .helpers import random_params, run


def reference(p0, history, *, betas, wd=0.0, caution=False, mask_norm="count"):
    b1, b2 = betas
    p, m = p0.clone(), torch.zeros_like(p0)
    for lr, g in history:
        p = p * (1 - lr * wd)
        u = torch.sign(b1 * m + (1 - b1) * g)
        if caution:
            mask = (u * g > 0).to(u.dtype)
            if mask_norm == "count":
                mask = mask * mask.numel() / (mask.sum() + 1)
            elif mask_norm == "mean":
                mask = mask / mask.mean().clamp(min=1e-3)
            u = u * mask
        p = p - lr * u
        m = b2 * m + (1 - b2) * g
    return p, m


@pytest.mark.parametrize("kw", [dict(), dict(weight_decay=0.3), dict(caution=True),
                                dict(caution=True, mask_norm="mean", weight_decay=0.1)])
def test_matches_reference_fp64(kw):
    params = random_params()
    p0 = [p.detach().clone() for p in params]
    opt = Lion(params, lr=1e-3, betas=(0.9, 0.99), **kw)
    history = run(opt, params, steps=12, peak=1e-3)
    for i, p in enumerate(params):
        rp, rm = reference(p0[i], [(lr, g[i]) for lr, g in history], betas=(0.9, 0.99),
                           wd=kw.get("weight_decay", 0.0), caution=kw.get("caution", False),
                           mask_norm=kw.get("mask_norm", "count"))
        torch.testing.assert_close(p.detach(), rp, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(opt.state[p]["exp_avg"], rm, rtol=1e-12, atol=1e-14)


def test_cautious_lion_entry_uses_c_optim_settings():
    opt = optim.create("cautious-lion", random_params(), lr=1e-4)
    g = opt.param_groups[0]
    assert g["caution"] and g["mask_norm"] == "count" and g["betas"] == (0.95, 0.98)


def test_one_state_buffer():
    params = random_params()
    opt = Lion(params)
    run(opt, params, steps=1, peak=1e-3)
    assert all(sum(torch.is_tensor(v) for v in opt.state[p].values()) == 1 for p in params)


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(lr=-1e-4), "lr=-0.0001"), (dict(betas=(0.9, 1.5)), "betas[1]=1.5"),
    (dict(weight_decay=-1), "weight_decay=-1"), (dict(mask_norm="x"), "mask_norm='x'"),
])
def test_rejects_bad_hyperparameters(kwargs, fragment):
    with pytest.raises(ValueError) as e:
        Lion(random_params(), **kwargs)
    assert fragment in str(e.value)
