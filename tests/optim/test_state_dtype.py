"""bf16 optimizer state (``state_dtype``): the stochastic rounding, every optimizer's buffers, resume,
per-role settings and bad input."""

import copy

import pytest
import torch

from optarena import optim
from optarena.optim._lowp import stochastic_round_
from optarena.optim.base import ArenaOptimizer
from optarena.optim.registry import get_spec

from .helpers import TinyDecoder, random_grads
from .test_contract import drive, make, matrix_params

ARENA = [n for n in optim.names() if issubclass(get_spec(n).resolve(), ArenaOptimizer)]


def bf16_neighbours(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The bf16 values just below and above |x| (truncation, and truncation plus one ulp), signed."""
    bits = x.float().view(torch.int32) & -(1 << 16)
    down = bits.view(torch.float32)
    up = (bits + (1 << 16)).view(torch.float32)
    exact = (x.float().view(torch.int32) & 0xFFFF) == 0
    return down, torch.where(exact, down, up)


def test_stochastic_rounding_lands_on_a_neighbour_and_is_unbiased():
    gen = torch.Generator().manual_seed(1)
    x = torch.tensor([1.0 + 0.3 * 2 ** -7, -(3.0 + 0.75 * 2 ** -6), 0.1, 1.5, float("inf")])
    draws = torch.empty(20000, x.numel(), dtype=torch.bfloat16)
    for i in range(draws.shape[0]):
        stochastic_round_(draws[i], x.clone(), gen)
    down, up = bf16_neighbours(x)
    d = draws.float()
    assert ((d == down) | (d == up)).all()
    assert torch.equal(d[:, 3], torch.full_like(d[:, 3], 1.5))  # a bf16 value stays itself
    assert torch.isinf(d[:, 4]).all() and (d[:, 4] > 0).all()
    # P(away from zero) = the fraction of an ulp: 0.3 for the first, 0.75 for the (negative) second
    away = (d[:, :2].abs() == up[:2].abs()).double().mean(0)
    torch.testing.assert_close(away, torch.tensor([0.3, 0.75], dtype=torch.float64), atol=0.015, rtol=0)
    torch.testing.assert_close(d[:, :3].double().mean(0), x[:3].double(), rtol=2e-4, atol=0)


def test_stochastic_rounding_is_unbiased_in_every_lane_of_a_random_word():
    """The noise for four neighbouring elements comes from one 64-bit draw: each 16-bit lane (the
    element's index mod 4) must round up with probability equal to the fraction of an ulp, and an odd
    length (a partial last word) and a 2-D shape must work."""
    gen = torch.Generator().manual_seed(2)
    frac = 0.3
    x = torch.full((1001, 203), 1.0 + frac * 2 ** -7)  # 203,203 elements: not a multiple of 4
    out = torch.empty_like(x, dtype=torch.bfloat16)
    stochastic_round_(out, x.clone(), gen)
    up = (out.float() > 1.0).double().flatten()
    lanes = up[: up.numel() // 4 * 4].view(-1, 4).mean(0)
    torch.testing.assert_close(lanes, torch.full((4,), frac, dtype=torch.float64), atol=0.008, rtol=0)
    assert ((out.float() == 1.0) | (out.float() == 1.0 + 2 ** -7)).all()


def test_slow_ema_does_not_stall_in_bf16_state():
    """Adam's v with β2 = 0.999 under a constant gradient 1 follows 1 − 0.999^t in bf16 state, where
    round-to-nearest (the reference loop below) freezes far short of it."""
    steps = 2000
    p = torch.zeros(4096, requires_grad=True)
    opt = optim.create("grams", [p], lr=0.0, betas=(0.9, 0.999), state_dtype="bfloat16")
    for _ in range(steps):
        p.grad = torch.ones_like(p)
        opt.step()
    v = opt.state[p]["exp_avg_sq"]
    assert v.dtype == torch.bfloat16
    target = 1 - 0.999 ** steps  # 0.8648
    assert abs(v.float().mean().item() - target) < 0.01
    nearest = torch.zeros((), dtype=torch.bfloat16)
    for _ in range(steps):
        nearest = (0.999 * nearest.float() + 0.001).to(torch.bfloat16)
    assert nearest.item() < target - 0.2  # the premise: plain bf16 rounding stalls


@pytest.mark.parametrize("name", ARENA)
def test_bf16_state_halves_memory_and_tracks_fp32_state(name):
    p32 = matrix_params(dtype=torch.float32)
    p16 = [p.detach().clone().requires_grad_() for p in p32]
    o32, o16 = make(name, p32, lr=1e-2), make(name, p16, lr=1e-2, state_dtype="bfloat16")
    for t in range(8):
        for a, b, g in zip(p32, p16, random_grads(p32, t)):
            a.grad, b.grad = g.float(), g.float()
        o32.step()
        o16.step()

    def buffers(opt):
        return [v for s in opt.state.values() for v in s.values() if torch.is_tensor(v) and v.dim() > 0]

    assert {v.dtype for v in buffers(o16)} == {torch.bfloat16}
    nbytes = sum(v.nbytes for v in buffers(o16))
    assert nbytes * 2 == sum(v.nbytes for v in buffers(o32)) > 0
    for a, b in zip(p32, p16):
        assert b.dtype == torch.float32
        torch.testing.assert_close(b.detach(), a.detach(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("name", ["grams", "dana-star-mk4", "muon", "svrm"])
def test_bf16_state_round_trip_continues_identically(name):
    """The rounding generators travel in the state_dict, so a resumed run rounds as the original."""
    a = matrix_params(dtype=torch.float32)
    opt_a = make(name, a, lr=1e-2, state_dtype="bf16")
    drive(opt_a, a, 4)
    saved_params = [p.detach().clone() for p in a]
    saved_state = copy.deepcopy(opt_a.state_dict())
    assert "rounding_rng" in saved_state
    drive(opt_a, a, 4, start=4)

    b = [p.detach().clone().requires_grad_() for p in saved_params]
    opt_b = make(name, b, lr=1e-2, state_dtype="bf16")
    opt_b.load_state_dict(saved_state)
    drive(opt_b, b, 4, start=4)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_state_dtype_per_role():
    model = TinyDecoder()
    opt = optim.create("grams", model, lr=1e-3, roles={"attention": {"state_dtype": "bfloat16"}})
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    roles = {group["role"]: group for group in opt.param_groups}
    assert roles["attention"]["state_dtype"] == torch.bfloat16 and roles["mlp"]["state_dtype"] is None
    assert opt.state[model.layers[0].attn.q_proj.weight]["exp_avg"].dtype == torch.bfloat16
    assert opt.state[model.layers[0].mlp.up_proj.weight]["exp_avg"].dtype == torch.float32


@pytest.mark.parametrize("bad", ["float16", torch.float16, "float32", torch.float64, "bogus", 16])
def test_bad_state_dtype_is_refused(bad):
    with pytest.raises(ValueError, match=r"state_dtype must be None \(the default.*'bfloat16'"):
        optim.create("grams", matrix_params(), state_dtype=bad)


@pytest.mark.parametrize("name", ["adamw-logtime-wd", "muon"])
def test_bf16_state_with_fp64_and_bf16_parameters(name):
    """The update runs in the parameters' working precision (fp64; fp32 for bf16 weights)."""
    for dtype in (torch.float64, torch.bfloat16):
        params = [p.detach().to(dtype).requires_grad_() for p in matrix_params()]
        opt = make(name, params, lr=1e-2, state_dtype=torch.bfloat16)
        drive(opt, [p for p in params], 3)
        assert all(p.dtype == dtype for p in params)
        assert {v.dtype for s in opt.state.values() for v in s.values() if torch.is_tensor(v) and v.dim()} \
            == {torch.bfloat16}
