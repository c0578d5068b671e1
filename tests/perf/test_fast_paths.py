"""The optimizers' fast paths compute the reference step: CPU pieces bitwise, the compiled update to
rounding, without recompiling as the LR and the step change (optarena.optim.base)."""

import pytest
import torch
from torch._dynamo.utils import counters

from optarena import optim
from optarena.optim.base import ArenaOptimizer, _piece_limit

ARENA = [n for n in optim.names() if issubclass(optim.get_spec(n).resolve(), ArenaOptimizer)]
# sizes around the piece size used below (128): smaller, larger, not multiples, several of one shape
SHAPES = [(37, 29), (29,), (4, 5, 7), (300,), (1,), (64, 16), (64, 16), (128,)]


def make(name, params, **kw):
    accepted = optim.accepted_hyperparameters(optim.get_spec(name).resolve())
    if "total_steps" in accepted:
        kw["total_steps"] = 50
    if "weight_decay" in accepted and name != "ademamix-logtime":
        kw["weight_decay"] = 0.1
    return optim.create(name, params, lr=1e-2, **kw)


def trajectory(name, dtype, steps=4, skip=None, configure=lambda opt: None, **kw):
    """Params and optimizer after ``steps`` steps with a new LR each; ``skip`` = (param index, step) at
    which that parameter has no gradient, so that a group holds two step counts afterwards."""
    torch.manual_seed(0)
    params = [torch.randn(s, dtype=dtype).requires_grad_() for s in SHAPES]
    opt = make(name, params, **kw)
    configure(opt)
    for t in range(steps):
        g = torch.Generator().manual_seed(100 + t)
        for i, p in enumerate(params):
            p.grad = None if skip == (i, t) else torch.randn(p.shape, generator=g, dtype=dtype)
        for group in opt.param_groups:
            group["lr"] = 1e-2 * (1 + t) / steps
        opt.step()
    return params, opt


def state_tensors(params, opt):
    return [v for p in params for v in opt.state[p].values() if torch.is_tensor(v)]


def set_pieces(numel):
    def configure(opt):
        opt.cpu_piece_numel = numel
    return configure


@pytest.mark.parametrize("name", ARENA)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_pieces_equal_whole_lists_bitwise(name, dtype):
    """Cutting the work into pieces (tensors cut into flat slices where the update is per coordinate)
    runs the same ops on the same numbers. Pieces are multiples of 64 elements, as the default's are,
    so the vectorised loops' scalar tails fall on the same elements."""
    whole = trajectory(name, dtype, skip=(1, 2), configure=set_pieces(None))
    pieces = trajectory(name, dtype, skip=(1, 2), configure=set_pieces(128))
    for x, y in zip(whole[0] + state_tensors(*whole), pieces[0] + state_tensors(*pieces)):
        assert torch.equal(x, y)


def test_default_piece_size_cuts_a_large_tensor():
    """The default CPU path really splits: a tensor of scope-"coordinate" AdamW larger than a piece is
    updated through slices, and still matches the whole-list update bitwise."""
    n = ArenaOptimizer.cpu_piece_numel
    assert n % 64 == 0
    limit = _piece_limit(n)  # elements per piece at this torch thread count
    results = []
    for piece in (n, None):
        p = torch.linspace(-1, 1, 2 * limit + 5).requires_grad_()
        opt = optim.create("adamw-logtime-wd", [p], lr=1e-2, total_steps=10)
        opt.cpu_piece_numel = piece
        for t in range(3):
            p.grad = torch.sin(torch.arange(p.numel()) * (t + 1.0))
            opt.step()
        results.append(p.detach())
    assert torch.equal(*results)


# the update code with the most branches on scalars: Dana-Star-MK4 (τ, clip, pow, log-time decay),
# AdEMAMix with its warm-ups (β3 and α schedules read the step), cautious AdamW (per-tensor reduction).
@pytest.mark.parametrize(("name", "kw"), [("dana-star-mk4", {}),
                                          ("ademamix", dict(alpha_warmup=3, beta3_warmup=3)),
                                          ("cautious-adamw", {})], ids=["dana-star-mk4", "ademamix", "cautious"])
def test_compiled_update_equals_eager_fp64_without_recompiling(name, kw):
    graphs = []  # graphs compiled so far in this process, after each step

    def count_graphs(opt):
        step = opt.step

        def counted_step(*args, **kwargs):
            out = step(*args, **kwargs)
            graphs.append(counters["stats"]["unique_graphs"])
            return out
        opt.step = counted_step
        opt.compile_update()

    eager = trajectory(name, torch.float64, steps=5, **kw)
    compiled = trajectory(name, torch.float64, steps=5, configure=count_graphs, **kw)
    for x, y in zip(eager[0] + state_tensors(*eager), compiled[0] + state_tensors(*compiled)):
        torch.testing.assert_close(y, x, rtol=1e-12, atol=1e-14)
    assert graphs[0] >= 1 and graphs[1:] == [graphs[0]] * 4  # steps 2-5: new LR and step, same graphs


def test_compiled_update_equals_eager_fp32():
    eager = trajectory("lion", torch.float32, steps=3)
    compiled = trajectory("lion", torch.float32, steps=3, configure=lambda opt: opt.compile_update())
    for x, y in zip(eager[0] + state_tensors(*eager), compiled[0] + state_tensors(*compiled)):
        torch.testing.assert_close(y, x, rtol=1e-6, atol=1e-7)


def test_compiled_update_with_bf16_state_tracks_eager():
    """bf16 state on the compiled path: widened around the compiled update, rounded back the same way
    (the random bits are drawn in another order than the eager CPU pieces', hence bf16 tolerances)."""
    eager = trajectory("grams", torch.float32, steps=3, state_dtype="bfloat16")
    compiled = trajectory("grams", torch.float32, steps=3, state_dtype="bfloat16",
                          configure=lambda opt: opt.compile_update())
    assert {v.dtype for v in state_tensors(*compiled) if v.dim()} == {torch.bfloat16}
    for x, y in zip(eager[0] + state_tensors(*eager), compiled[0] + state_tensors(*compiled)):
        torch.testing.assert_close(y.float(), x.float(), rtol=2e-2, atol=1e-3)
