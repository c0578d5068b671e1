"""Contract every registry optimizer honours, parametrized over ``optim.names()``.

State round trip, closure, read-only gradients, bf16 parameters, construction errors, and convergence
to a tolerance on a quadratic and on Rosenbrock (optax's style), each with its own tuned settings.
"""

import copy
import math

import pytest
import torch

from optarena import optim

from .helpers import random_grads, random_params

NAMES = optim.names()
T = 400  # the run length handed to methods whose schedule needs it

# Settings that make each optimizer well-defined on these problems (log-time methods need T).
BASE = {name: {} for name in NAMES}
for _name in ("adana", "dana-mk4", "dana-star", "dana-star-mk4", "ademamix-logtime", "adamw-logtime-wd"):
    BASE[_name] = dict(total_steps=T)
BASE["muon"] = dict(adamw_lr=2e-2)  # 1-D problems (Rosenbrock) run entirely on the inner AdamW


def make(name, params, **kw):
    return optim.create(name, params, **{**BASE[name], **kw})


def matrix_params(seed=0, dtype=torch.float64):
    # a mix that exercises every routing: matrices (Muon), a vector and a scalar-like tensor
    return random_params(seed, dtype, shapes=[(6, 4), (6, 4), (5,), (1,)])


def drive(opt, params, steps, start=0):
    for t in range(start, start + steps):
        for p, g in zip(params, random_grads(params, t)):
            p.grad = g
        opt.step()


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_identically(name):
    a = matrix_params()
    opt_a = make(name, a, lr=1e-2)
    drive(opt_a, a, 5)
    saved_params = [p.detach().clone() for p in a]
    saved_state = copy.deepcopy(opt_a.state_dict())
    drive(opt_a, a, 5, start=5)

    b = [p.detach().clone().requires_grad_() for p in saved_params]
    opt_b = make(name, b, lr=1e-2)
    opt_b.load_state_dict(saved_state)
    drive(opt_b, b, 5, start=5)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


@pytest.mark.parametrize("name", NAMES)
def test_closure_is_called_with_grad_enabled(name):
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    opt = make(name, [x], lr=1e-2)

    def closure():
        opt.zero_grad()
        loss = (x**2).sum()
        loss.backward()
        return loss

    before = x.detach().clone()
    loss = opt.step(closure)
    assert torch.is_tensor(loss) and loss.item() == pytest.approx((before**2).sum().item())
    assert not torch.equal(x.detach(), before)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_are_not_modified(name):
    params = matrix_params()
    opt = make(name, params, lr=1e-2)
    for t in range(3):
        grads = random_grads(params, t)
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
        for p, g in zip(params, grads):
            assert torch.equal(p.grad, g)


@pytest.mark.parametrize("name", NAMES)
def test_bf16_parameters_track_fp32(name):
    """bf16 weights stay bf16, and after a few steps sit close to the same run in fp32."""
    p32 = matrix_params(dtype=torch.float32)
    p16 = [p.detach().to(torch.bfloat16).requires_grad_() for p in p32]
    o32, o16 = make(name, p32, lr=1e-2), make(name, p16, lr=1e-2)
    for t in range(5):
        grads = random_grads(p32, t)
        for a, b, g in zip(p32, p16, grads):
            a.grad, b.grad = g.float(), g.to(torch.bfloat16)
        o32.step()
        o16.step()
    for a, b in zip(p32, p16):
        assert b.dtype == torch.bfloat16
        torch.testing.assert_close(b.float(), a.detach(), rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_hyperparameter_is_rejected(name):
    with pytest.raises(ValueError, match="unknown hyperparameter.*accepted"):
        make(name, matrix_params(), lr_typo=1.0)


ARENA = [name for name in NAMES if issubclass(optim.get_spec(name).resolve(), optim.ArenaOptimizer)]


def test_only_the_torch_baselines_are_not_arena_optimizers():
    assert sorted(set(NAMES) - set(ARENA)) == ["adam", "adamw", "rmsprop"]  # these support complex


@pytest.mark.parametrize("name", ARENA)
def test_complex_parameters_are_refused(name):
    """The update rules are real (sign, max, sqrt of v): a complex parameter would lose its imaginary part."""
    z = torch.zeros(2, 3, dtype=torch.complex64, requires_grad=True)
    message = (r"do not support complex parameters \(parameter 1 of shape \(2, 3\), dtype complex64\); "
               r"store it as a real tensor with torch.view_as_real")
    with pytest.raises(ValueError, match=rf"param group 0\): optarena optimizers {message}"):
        make(name, [torch.zeros(3, requires_grad=True), z])
    opt = make(name, [torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match=r"param group 1\): optarena optimizers do not support complex"):
        opt.add_param_group({"params": [torch.zeros(3, requires_grad=True), z]})


# --- convergence to a tolerance ---------------------------------------------------------------------
# Each problem runs with warmup + cosine decay to zero, the schedule of the arena: sign-like and
# normalised methods (Lion, Grams, Muon, ...) move by ~lr per step, so only a decaying lr lets them
# settle; the log-time methods read that schedule through s(t). Settings: (lr, steps).
# name -> (lr, steps, extra settings); tuned once with these tests' own driver (see docs/optimizers.md).
QUADRATIC = {name: (1e-1, T, {}) for name in NAMES}
ROSENBROCK = {name: (1e-1, 1000, {}) for name in NAMES}
ROSENBROCK.update({
    "lion": (3e-2, 2000, {}),
    "cautious-lion": (3e-2, 1000, {}),
    "grams": (3e-1, 1000, {}),
    "rmsprop": (1e-3, 2000, {"momentum": 0.9}),  # plain RMSprop crawls along the valley
    "svrm": (3e-2, 2000, {}),
    **{name: (1e-2, 2000, {}) for name in ("adana", "dana-mk4", "dana-star", "dana-star-mk4")},
})


def cosine(total, warmup=10):
    def factor(t):
        if t < warmup:
            return (t + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (t - warmup) / (total - warmup))))
    return factor


def minimise(name, x, loss_fn, lr, steps, **kw):
    """Minimise with the optimizer's own settings, but no weight decay (it would move the optimum)."""
    accepted = optim.accepted_hyperparameters(type(make(name, [x.detach().clone()])))
    no_decay = {k: 0.0 for k in ("weight_decay", "omega") if k in accepted}
    opt = make(name, [x], lr=lr, **({"total_steps": steps} if "total_steps" in BASE[name] else {}),
               **no_decay, **kw)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine(steps))
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(x).backward()
        opt.step()
        sched.step()
    return x.detach()


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_quadratic(name):
    torch.manual_seed(0)
    target = torch.randn(4, 4, dtype=torch.float64)
    h = torch.logspace(0, 1, 16, dtype=torch.float64).reshape(4, 4)  # condition number 10
    x = torch.zeros(4, 4, dtype=torch.float64, requires_grad=True)
    lr, steps, kw = QUADRATIC[name]
    final = minimise(name, x, lambda x: 0.5 * (h * (x - target) ** 2).sum(), lr, steps, **kw)
    assert (final - target).norm() < 1e-2


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_rosenbrock(name):
    x = torch.tensor([-1.0, 1.0], dtype=torch.float64, requires_grad=True)
    lr, steps, kw = ROSENBROCK[name]
    final = minimise(name, x, lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2, lr, steps, **kw)
    assert (final - torch.ones(2, dtype=torch.float64)).norm() < 3e-2


def _saved(name, **kw):
    params = matrix_params()
    opt = make(name, params, lr=1e-2, **kw)
    drive(opt, params, 2)
    return copy.deepcopy(opt.state_dict())


@pytest.mark.parametrize("name", ARENA)
def test_load_state_dict_refuses_an_invalid_hyperparameter_like_the_constructor(name):
    saved = _saved(name)
    saved["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"load_state_dict \(param group 0\): invalid lr=-1.0; expected"):
        make(name, matrix_params(), lr=1e-2).load_state_dict(saved)


@pytest.mark.parametrize("name", ["grams", "lion", "svrm", "adana", "dms"])
def test_load_state_dict_names_another_optimizers_state(name):
    other = "lion" if name != "lion" else "grams"
    with pytest.raises(ValueError, match="another optimizer"):
        make(name, matrix_params(), lr=1e-2).load_state_dict(_saved(other))


@pytest.mark.parametrize("name", ["grams", "lion", "ademamix", "stable-momentum"])
def test_load_state_dict_refuses_a_wrong_shape_at_load_not_at_step(name):
    saved = _saved(name)
    state = saved["state"][0]
    key = next(k for k, v in state.items() if torch.is_tensor(v) and v.shape == (6, 4))
    state[key] = torch.zeros(4, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match=rf"parameter 0 of shape \(6, 4\): state '{key}' has shape \(4, 6\), "
                                         r"expected \(6, 4\)"):
        make(name, matrix_params(), lr=1e-2).load_state_dict(saved)


def test_load_state_dict_refuses_what_is_not_a_state_dict():
    opt = make("grams", matrix_params(), lr=1e-2)
    with pytest.raises(ValueError, match="expected an optimizer state_dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"model": {}})
