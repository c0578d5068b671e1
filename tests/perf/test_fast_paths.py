"""The optimizers' fast paths compute the reference step: CPU chunks bitwise, the compiled update to
rounding, without recompiling as the LR and the step change (optarena.optim.base)."""

import pytest
import torch
from torch._dynamo.utils import counters

from optarena import optim
from optarena.optim.base import ArenaOptimizer, _chunk_limit

ARENA = [n for n in optim.names() if issubclass(optim.get_spec(n).resolve(), ArenaOptimizer)]
# sizes around the chunk size used below (128): smaller, larger, not multiples, several of one shape, 0-d
SHAPES = [(37, 29), (29,), (4, 5, 7), (300,), (1,), (64, 16), (64, 16), (128,), ()]


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


def set_chunks(numel):
    def configure(opt):
        opt.cpu_chunk_numel = numel
    return configure


@pytest.mark.parametrize("name", ARENA)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_chunks_equal_whole_lists_bitwise(name, dtype):
    """Cutting the work into chunks (tensors cut into flat slices where the update is per coordinate)
    runs the same ops on the same numbers. Chunks are multiples of 64 elements, as the default's are,
    so the vectorised loops' scalar tails fall on the same elements."""
    whole = trajectory(name, dtype, skip=(1, 2), configure=set_chunks(None))
    chunks = trajectory(name, dtype, skip=(1, 2), configure=set_chunks(128))
    for x, y in zip(whole[0] + state_tensors(*whole), chunks[0] + state_tensors(*chunks)):
        assert torch.equal(x, y)


def test_default_chunk_size_cuts_a_large_tensor():
    """The default CPU path really splits: a tensor of scope-"coordinate" AdamW larger than a chunk is
    updated through slices, and still matches the whole-list update bitwise."""
    n = ArenaOptimizer.cpu_chunk_numel
    assert n % 64 == 0
    limit = _chunk_limit(n)  # elements per chunk at this torch thread count
    results = []
    for chunk in (n, None):
        p = torch.linspace(-1, 1, 2 * limit + 5).requires_grad_()
        opt = optim.create("adamw-logtime-wd", [p], lr=1e-2, total_steps=10)
        opt.cpu_chunk_numel = chunk
        for t in range(3):
            p.grad = torch.sin(torch.arange(p.numel()) * (t + 1.0))
            opt.step()
        results.append(p.detach())
    assert torch.equal(*results)


class GraphCounter:
    """Wraps ``opt.step`` to record dynamo's count of graphs compiled in this process after each step."""

    def __init__(self):
        self.after_step = []

    def __call__(self, opt):
        step = opt.step

        def counted_step(*args, **kwargs):
            out = step(*args, **kwargs)
            self.after_step.append(counters["stats"]["unique_graphs"])
            return out
        opt.step = counted_step
        opt.fuse()


FUSABLE = [n for n in ARENA if n != "muon"]  # Muon's Newton–Schulz groups stay eager (scope "list")
# AdEMAMix with its warm-ups: the β3 and α schedules read the step
EXTRA = {"ademamix": dict(alpha_warmup=3, beta3_warmup=3)}


@pytest.mark.parametrize("name", FUSABLE)
def test_fused_step_equals_eager_fp64_without_recompiling(name):
    """Every elementwise optimizer's fused step: the eager numbers (to inductor's reassociation), one
    graph compiled at the first step and none after it as the LR and the step change."""
    kw = EXTRA.get(name, {})
    count = GraphCounter()
    eager = trajectory(name, torch.float64, steps=5, **kw)
    fused = trajectory(name, torch.float64, steps=5, configure=count, **kw)
    for x, y in zip(eager[0] + state_tensors(*eager), fused[0] + state_tensors(*fused)):
        torch.testing.assert_close(y, x, rtol=1e-12, atol=1e-14)
    assert count.after_step[0] >= 1 and count.after_step[1:] == [count.after_step[0]] * 4


def test_fused_step_falls_back_to_eager_for_a_missing_gradient_without_recompiling():
    """A parameter without a gradient at step 2 (so two step counts from then on): those steps run
    eagerly, equal to the eager path bitwise there, and no second graph is ever compiled."""
    count = GraphCounter()
    eager = trajectory("grams", torch.float64, steps=4, skip=(1, 1))
    fused = trajectory("grams", torch.float64, steps=4, skip=(1, 1), configure=count)
    for x, y in zip(eager[0] + state_tensors(*eager), fused[0] + state_tensors(*fused)):
        torch.testing.assert_close(y, x, rtol=1e-12, atol=1e-14)
    assert count.after_step[1:] == [count.after_step[0]] * 3


def test_fused_step_equals_eager_fp32():
    eager = trajectory("lion", torch.float32, steps=3)
    fused = trajectory("lion", torch.float32, steps=3, configure=lambda opt: opt.fuse())
    for x, y in zip(eager[0] + state_tensors(*eager), fused[0] + state_tensors(*fused)):
        torch.testing.assert_close(y, x, rtol=1e-6, atol=1e-7)


def test_fused_step_with_bf16_state_tracks_eager():
    """bf16 state on the fused path: widened around the fused update, rounded back the same way
    (the random bits are drawn in another order than the eager CPU chunks', hence bf16 tolerances)."""
    eager = trajectory("grams", torch.float32, steps=3, state_dtype="bfloat16")
    fused = trajectory("grams", torch.float32, steps=3, state_dtype="bfloat16",
                       configure=lambda opt: opt.fuse())
    assert {v.dtype for v in state_tensors(*fused) if v.dim()} == {torch.bfloat16}
    for x, y in zip(eager[0] + state_tensors(*eager), fused[0] + state_tensors(*fused)):
        torch.testing.assert_close(y.float(), x.float(), rtol=2e-2, atol=1e-3)


def test_fused_and_eager_state_dicts_are_interchangeable():
    """The fused step keeps today's state format: an eager run's state_dict loads into a fused
    optimizer (and back), and the runs continue alike."""
    eager_params, eager = trajectory("adamw-logtime-wd", torch.float64, steps=2)
    fused_params, fused = trajectory("adamw-logtime-wd", torch.float64, steps=2, configure=lambda o: o.fuse())
    assert eager.state_dict()["param_groups"] == fused.state_dict()["param_groups"]
    for p, q in zip(eager_params, fused_params):
        assert set(eager.state[p]) == set(fused.state[q])
    restored = make("adamw-logtime-wd", [p.detach().clone().requires_grad_() for p in eager_params]).fuse()
    restored.load_state_dict(eager.state_dict())
    params = [p for p in restored.param_groups[0]["params"]]
    for opt, ps in ((eager, eager_params), (restored, params)):
        for p in ps:
            p.grad = torch.full_like(p, 0.5)
        opt.step()
    for p, q in zip(eager_params, params):
        torch.testing.assert_close(q, p, rtol=1e-12, atol=1e-14)


def _kernels_per_step(name, num_tensors):
    """Kernel calls in a fused step of ``name`` on ``num_tensors`` tensors, counted by torch.profiler
    (inductor's C++ kernels announce themselves with enable_kernel_profile), and the aten ops it runs."""
    from torch._inductor import config as inductor_config
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    params = [torch.randn(64, 48).requires_grad_() for _ in range(num_tensors)]
    opt = make(name, params).fuse()
    with inductor_config.patch({"cpp.enable_kernel_profile": True}):
        for t in range(3):
            for p in params:
                p.grad = torch.randn_like(p)
            if t < 2:
                opt.step()  # the first compiles; the profiled third must run what the second ran
                continue
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                opt.step()
    names = [e.name for e in prof.events()]
    kernels = [n for n in names if "cpp_fused" in n]  # graph_<n>_cpp_fused_<ops>_<k>
    return len(kernels), len(names)


@pytest.mark.parametrize("name", ["adamw-logtime-wd", "cautious-adamw"])
def test_fused_step_kernel_count_does_not_grow_with_the_number_of_tensors(name):
    """The fused step's kernels and dispatched ops: as many for 16 tensors as for 4 (horizontal fusion),
    where the eager foreach step dispatches a chain per tensor list chunk."""
    kernels4, events4 = _kernels_per_step(name, 4)
    kernels16, events16 = _kernels_per_step(name, 16)
    assert 1 <= kernels4 == kernels16 <= 3
    assert events16 == events4
