"""Muon against per-matrix references written here from KellerJordan/Muon@857d1ad and torch's AdamW."""

import datetime
import math
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from optarena import optim
from optarena.optim.muon import Muon
from optarena.optim.newton_schulz import newton_schulz

from .helpers import random_params, run

# a mix for every path: two same-shape matrices, one other, a tall one, a 3-D stack of (6, 4)
# matrices (batched with the first two), a conv filter, a zero-size matrix, and a bias (AdamW).
SHAPES = [(6, 4), (6, 4), (5, 7), (9, 3), (2, 6, 4), (4, 3, 2, 2), (0, 3), (5,)]
HP = dict(momentum=0.9, weight_decay=0.1, adamw_lr=1e-2, adamw_betas=(0.8, 0.9), adamw_eps=1e-8,
          adamw_weight_decay=0.05, ns_dtype="bfloat16", ns_form="keller")  # Keller's, whatever the CPU


def ref_ns5(G, steps=5, dtype=torch.bfloat16, form="keller"):
    """Keller's zeropower_via_newtonschulz5, one 2-D matrix at a time, in bf16 (or ``dtype``); with
    ``form="fused"`` its two sums inside the matmuls (``addmm``), as torch.optim.Muon writes them."""
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.to(dtype)
    if G.size(0) > G.size(1):
        X = X.T
    X = X / (X.norm() + 1e-7)
    for _ in range(steps):
        A = X @ X.T
        if form == "fused":
            X = torch.addmm(X, torch.addmm(A, A, A, beta=b, alpha=c), X, beta=a)
        else:
            B = b * A + c * A @ A
            X = a * X + B @ X
    return X.T if G.size(0) > G.size(1) else X


def ref_muon(p, history, *, momentum, weight_decay, nesterov=True, adjust_lr="original", ns_dtype="bfloat16",
             ns_form="keller", **_):
    """Muon on one tensor from the formulas: EMA momentum, Nesterov mix, NS5 per matrix, scaled step."""
    p, M = p.detach().clone(), torch.zeros_like(p)
    if p.ndim == 4:  # conv filter: one (out, in·kh·kw) matrix; otherwise leading dims are a batch
        def mats(x):
            return x.reshape(1, x.shape[0], -1)
    else:
        def mats(x):
            return x.reshape(math.prod(x.shape[:-2]), *x.shape[-2:])
    r, c = mats(p).shape[1:]
    scale = math.sqrt(max(1, r / c)) if adjust_lr == "original" else 0.2 * math.sqrt(max(r, c))
    for lr, g in history:
        M = momentum * M + (1 - momentum) * g
        U = (1 - momentum) * g + momentum * M if nesterov else M
        dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[ns_dtype]
        O = torch.stack([ref_ns5(m, dtype=dtype, form=ns_form) for m in mats(U)]).double().reshape(p.shape)
        p = p * (1 - lr * weight_decay) - lr * scale * O
    return p, M


def ref_adamw(p, history, peak, *, adamw_lr, adamw_betas, adamw_eps, adamw_weight_decay, **_):
    """torch.optim.AdamW with the lr scaled by the schedule factor lr/peak."""
    p = p.detach().clone().requires_grad_()
    opt = torch.optim.AdamW([p], lr=adamw_lr, betas=adamw_betas, eps=adamw_eps,
                            weight_decay=adamw_weight_decay)
    for lr, g in history:
        opt.param_groups[0]["lr"] = adamw_lr * lr / peak
        p.grad = g
        opt.step()
    return p.detach(), opt.state[p]


def split_groups(params):
    return [dict(params=params[:-1], use_muon=True), dict(params=params[-1:], use_muon=False)]


@pytest.mark.parametrize("form", ["keller", "fused"])
def test_batched_newton_schulz_equals_the_per_matrix_loop(form):
    """Same ops in the same order: equal bits on the CPUs we ran (x86, MKL/oneDNN bf16 matmul). A batched
    kernel may block the bf16 reductions differently elsewhere; a flipped last bit (2^-7 near 1) can
    grow a little over 5 steps, hence the tolerance; a wrong iteration is off by O(1)."""
    g = torch.Generator().manual_seed(0)
    for shape in [(6, 4), (4, 6), (32, 16), (5, 5)]:
        G = torch.randn(5, *shape, generator=g, dtype=torch.float64)
        batched = newton_schulz(G, form=form)
        assert batched.dtype == torch.bfloat16 and batched.shape == G.shape
        for b, m in zip(batched, G):
            torch.testing.assert_close(b.float(), ref_ns5(m, form=form).float(), rtol=0, atol=2e-2)
    stack = torch.randn(2, 3, 6, 4, generator=g)  # two batch dimensions: baddbmm's one is a reshape
    torch.testing.assert_close(newton_schulz(stack, form=form).float(),
                               newton_schulz(stack.reshape(6, 6, 4), form=form).float().reshape(2, 3, 6, 4),
                               rtol=0, atol=0)


def test_the_two_forms_are_one_iteration():
    """In float64 the fused form (sums inside the matmuls) and Keller's ops differ only by rounding; a
    wrong coefficient or operand order would be off by O(1). Unknown forms are refused."""
    g = torch.Generator().manual_seed(3)
    for shape in [(6, 4), (4, 6), (3, 32, 16), (0, 5, 5)]:
        G = torch.randn(*shape, generator=g, dtype=torch.float64)
        torch.testing.assert_close(newton_schulz(G, dtype=torch.float64, form="fused"),
                                   newton_schulz(G, dtype=torch.float64, form="keller"), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="form must be one of"):
        newton_schulz(torch.ones(2, 2), form="addmm")


def test_newton_schulz_output_is_nearly_orthogonal():
    """Keller's coefficients leave the singular values in about [0.7, 1.2], not at exactly 1 (measured:
    [0.674, 1.144] for these shapes). Square Gaussian matrices are left out: their smallest singular
    values are too small to reach the band in 5 steps."""
    g = torch.Generator().manual_seed(1)
    for shape in [(64, 32), (32, 64), (3, 48, 24)]:
        s = torch.linalg.svdvals(newton_schulz(torch.randn(*shape, generator=g)).double())
        assert s.min() > 0.65 and s.max() < 1.2


@pytest.mark.parametrize("explicit_groups", [True, False])
@pytest.mark.parametrize("variant", [dict(), dict(nesterov=False, adjust_lr="match_rms_adamw"),
                                     dict(ns_dtype="float32"), dict(ns_form="fused"),
                                     dict(ns_form="fused", ns_dtype="float32")])
def test_matches_per_tensor_reference(explicit_groups, variant):
    """Several steps with a changing lr, float64 params. Groups without use_muon route by ndim."""
    hp = {**HP, **variant}
    params = random_params(0, torch.float64, SHAPES)
    p0 = [p.detach().clone() for p in params]
    opt = Muon(split_groups(params) if explicit_groups else params, lr=0.05, **hp)
    history = run(opt, params, 6, peak=0.05)
    # identical bf16 NS ops, so only float64 rounding differs: measured ≤ 1.2e-16. A flipped bf16 bit
    # (≈ lr·2^-8 ≈ 2e-4) would fail 1e-6; the batched-NS test above then says whether kernels differ.
    for i, (p, x0) in enumerate(zip(params, p0)):
        per_tensor = [(lr, grads[i]) for lr, grads in history]
        state = opt.state[p]
        if x0.ndim >= 2:
            want, M = ref_muon(x0, per_tensor, **hp)
            assert set(state) == {"step", "momentum_buffer"}
            torch.testing.assert_close(state["momentum_buffer"], M, rtol=0, atol=1e-12)
        else:
            want, ref_state = ref_adamw(x0, per_tensor, 0.05, **hp)
            assert set(state) == {"step", "exp_avg", "exp_avg_sq"}
            for key in ("exp_avg", "exp_avg_sq"):
                torch.testing.assert_close(state[key], ref_state[key], rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(p.detach(), want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("adjust_lr, shape, scale", [
    ("original", (4, 16), 1.0), ("original", (16, 4), 2.0), ("original", (4, 3, 2, 2), 1.0),
    ("match_rms_adamw", (4, 16), 0.8), ("match_rms_adamw", (16, 4), 0.8),
    ("match_rms_adamw", (4, 3, 2, 2), 0.2 * math.sqrt(12))])
def test_adjust_lr_scales_the_orthogonalised_step(adjust_lr, shape, scale):
    x = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    x.grad = torch.randn(shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    Muon([x], lr=0.5, momentum=0.0, nesterov=False, adjust_lr=adjust_lr, ns_dtype="bfloat16",
         ns_form="keller").step()  # U = g
    O = newton_schulz(x.grad.reshape(shape[0], -1)).double().reshape(shape)
    torch.testing.assert_close(x.detach(), -0.5 * scale * O, rtol=1e-12, atol=0)


def test_ns_dtype_auto_is_fp32_on_a_cpu_without_bf16_matmul(monkeypatch):
    from optarena.optim import newton_schulz as ns

    cpu = torch.device("cpu")
    assert ns.ns_dtype("bfloat16", cpu) == torch.bfloat16 and ns.ns_dtype("float32", cpu) == torch.float32
    monkeypatch.setattr(ns, "cpu_has_bf16_matmul", lambda: False)
    assert ns.ns_dtype("auto", cpu) == torch.float32 and ns.ns_dtype("auto", torch.device("cuda")) == torch.bfloat16
    monkeypatch.setattr(ns, "cpu_has_bf16_matmul", lambda: True)
    assert ns.ns_dtype("auto", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="ns_dtype='float16'"):
        Muon([torch.zeros(2, 2, requires_grad=True)], ns_dtype="float16")


class Block(nn.Module):
    def __init__(self, d=8, h=16):
        super().__init__()
        self.attn = nn.Module()
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            setattr(self.attn, name, nn.Linear(d, d, bias=False))
        self.attn_norm = nn.RMSNorm(d)
        self.mlp = nn.Module()
        self.mlp.gate_proj, self.mlp.up_proj = nn.Linear(d, h, bias=False), nn.Linear(d, h, bias=False)
        self.mlp.down_proj = nn.Linear(h, d, bias=False)


class TinyLM(nn.Module):
    def __init__(self, vocab=11, d=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList([Block(d)])
        self.norm = nn.RMSNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        x, blk = self.embed(idx), self.layers[0]
        a = blk.attn_norm(x)
        x = x + blk.attn.o_proj(blk.attn.q_proj(a) * blk.attn.k_proj(a).sigmoid() + blk.attn.v_proj(a))
        m = blk.mlp
        x = x + m.down_proj(nn.functional.silu(m.gate_proj(x)) * m.up_proj(x))
        return self.lm_head(self.norm(x))


def test_create_routes_hidden_matrices_to_muon():
    model = TinyLM()
    opt = optim.create("muon", model, lr=0.02, weight_decay=0.1, adamw_weight_decay=0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    routed = {True: set(), False: set()}
    for g in opt.param_groups:
        routed[g["use_muon"]] |= {names[id(p)] for p in g["params"]}
        if g["role"] in ("embedding", "norm"):
            assert g["weight_decay"] == 0 and g["adamw_weight_decay"] == 0
    claimed = [names[id(p)] for g in opt.param_groups for p in g["params"]]
    assert sorted(claimed) == sorted(names.values())  # every parameter exactly once
    hidden = {n for n in names.values() if ".attn." in n or ".mlp." in n}
    assert routed[True] == hidden and len(hidden) == 7
    assert routed[False] == set(names.values()) - hidden  # embed, lm_head, the norms

    nn.functional.cross_entropy(model(torch.arange(6)).flatten(0, -2), torch.arange(6)).backward()
    opt.step()
    for g in opt.param_groups:
        keys = {"step", "momentum_buffer"} if g["use_muon"] else {"step", "exp_avg", "exp_avg_sq"}
        assert all(set(opt.state[p]) == keys for p in g["params"])


@pytest.mark.parametrize("kw, match", [
    (dict(lr=-1.0), "lr=-1.0"), (dict(momentum=1.0), r"momentum=1.0.*\[0, 1\)"),
    (dict(ns_steps=0), r"ns_steps=0.*\[1, 100\)"), (dict(ns_steps=100), "ns_steps=100"),
    (dict(ns_steps=2.5), "ns_steps=2.5"), (dict(adjust_lr="spectral"), "adjust_lr='spectral'"),
    (dict(weight_decay=-0.1), "weight_decay=-0.1"), (dict(adamw_weight_decay=-1), "adamw_weight_decay=-1"),
    (dict(adamw_betas=(0.9, 1.0)), r"adamw_betas\[1\]=1.0"),
    (dict(adamw_eps=0.0), r"adamw_eps=0.0.*\(0, inf\)"),
    (dict(adamw_lr=-1e-3), "adamw_lr"), (dict(ns_coefficients=(3.4, -4.7)), "ns_coefficients"),
    (dict(distributed="yes"), "distributed='yes'")])
def test_bad_hyperparameters_are_rejected(kw, match):
    with pytest.raises(ValueError, match=match):
        Muon(random_params(0, torch.float64, [(3, 2)]), **kw)


def test_bad_groups_are_rejected():
    m, b = random_params(0, torch.float64, [(3, 2), (5,)])
    with pytest.raises(ValueError, match=r"use_muon=True.*shape \(5,\)"):
        Muon([dict(params=[m, b], use_muon=True)])
    with pytest.raises(ValueError, match=r"param group 1.*adamw_eps=-1"):
        Muon([dict(params=[m], use_muon=True), dict(params=[b], use_muon=False, adamw_eps=-1)])


def test_schedule_drives_both_parts():
    """Halving group['lr'] (what a scheduler does) halves the Muon step and the AdamW step."""
    steps = {}
    for factor in (1.0, 0.5):
        params = random_params(0, torch.float64, [(6, 4), (5,)])
        opt = Muon(split_groups(params), lr=0.02, adamw_lr=1e-2)
        for g in opt.param_groups:
            g["lr"] *= factor
        before = [p.detach().clone() for p in params]
        for p in params:
            p.grad = torch.ones_like(p)
        opt.step()
        steps[factor] = [p.detach() - x for p, x in zip(params, before)]
    for full, half in zip(steps[1.0], steps[0.5]):
        assert full.abs().min() > 0
        torch.testing.assert_close(half, 0.5 * full, rtol=1e-12, atol=0)


def test_gradients_are_not_modified():
    params = random_params(0, torch.float64, SHAPES)
    opt = Muon(params, nesterov=True)
    history = run(opt, params, 3, peak=0.02)
    for p, g in zip(params, history[-1][1]):
        assert torch.equal(p.grad, g)


# --- distributed: each matrix orthogonalised on one rank, every rank ends identical ---------------------
def _dist_run(rank, port, out, steps):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=60))  # a failed peer must not hang CI
    try:
        params = random_params(0, torch.float64, SHAPES)
        opt = Muon(split_groups(params), lr=0.05, **HP)
        assert opt.param_groups[0]["distributed"] is None  # auto: on, since the group is initialised
        run(opt, params, steps, peak=0.05)
        torch.save(dict(params=[p.detach() for p in params],
                        momentum=[opt.state[p].get("momentum_buffer") for p in params]), f"{out}/{rank}.pt")
    finally:
        dist.destroy_process_group()


def _two_ranks(fn, *args) -> None:
    """Run fn(rank, port, *args) in two processes (a gloo world on a free local port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # fork, not spawn: spawn re-imports torch in each child (5-15 s on the 2-core CI machine). The
    # children run single-threaded, so they never touch the parent's OpenMP pool after the fork.
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(fn, args=(port, *args), nprocs=2, join=True, start_method=method)


def test_distributed_matches_single_process(tmp_path):
    _two_ranks(_dist_run, str(tmp_path), 4)
    ranks = [torch.load(tmp_path / f"{r}.pt") for r in range(2)]

    params = random_params(0, torch.float64, SHAPES)
    opt = Muon(split_groups(params), lr=0.05, **HP)
    run(opt, params, 4, peak=0.05)
    for i, p in enumerate(params):
        assert torch.equal(ranks[0]["params"][i], ranks[1]["params"][i])
        torch.testing.assert_close(ranks[0]["params"][i], p.detach(), rtol=0, atol=1e-6)
        if p.ndim >= 2:  # momentum lives on exactly one rank: the one that orthogonalised p
            held = [r["momentum"][i] for r in ranks if r["momentum"][i] is not None]
            assert len(held) == 1
            torch.testing.assert_close(held[0], opt.state[p]["momentum_buffer"], rtol=0, atol=1e-12)
    assert all(any(r["momentum"][i] is not None for i in range(len(SHAPES) - 1)) for r in ranks)


def test_distributed_true_needs_an_initialised_process_group():
    x = torch.zeros(3, 2, requires_grad=True)
    x.grad = torch.ones(3, 2)
    with pytest.raises(RuntimeError, match="distributed=True"):
        Muon([x], distributed=True).step()


def test_a_state_dict_saved_before_ns_dtype_and_ns_form_loads_as_kellers_bf16():
    params = random_params(0, torch.float64, SHAPES[:2])
    opt = Muon(params, lr=0.05)
    run(opt, params, 2, peak=0.05)
    old = opt.state_dict()
    for g in old["param_groups"]:
        del g["ns_dtype"], g["ns_form"]
    fresh = Muon(random_params(0, torch.float64, SHAPES[:2]), lr=0.05, ns_dtype="float32", ns_form="fused")
    fresh.load_state_dict(old)
    assert [(g["ns_dtype"], g["ns_form"]) for g in fresh.param_groups] == [("bfloat16", "keller")]


def test_cpu_stacks_of_a_few_matrices_give_the_whole_stacks_numbers(monkeypatch):
    """NS_CPU_CHUNK_NUMEL splits a shape's stack on CPU; each matrix's iteration is its own, so the
    numbers are those of one stack per shape."""
    from optarena.optim import muon
    results = []
    for chunk in (1 << 20, 30):  # 30 elements: one (6, 4) matrix a stack, the (2, 6, 4) stack split too
        monkeypatch.setattr(muon, "NS_CPU_CHUNK_NUMEL", chunk)
        params = random_params(0, torch.float64, SHAPES)
        run(Muon(split_groups(params), lr=0.05, **HP), params, 3, peak=0.05)
        results.append([p.detach() for p in params])
    for whole, split in zip(*results):
        torch.testing.assert_close(split, whole, rtol=0, atol=0)


def test_ns_form_auto_is_fused_on_cpu_and_kellers_on_accelerators():
    from optarena.optim import newton_schulz as ns
    assert ns.ns_form("auto", torch.device("cpu")) == "fused"
    assert ns.ns_form("auto", torch.device("cuda")) == "keller"
    assert ns.ns_form("keller", torch.device("cpu")) == "keller" and ns.ns_form("fused", torch.device("cuda")) == "fused"
    x = torch.zeros(4, 6, dtype=torch.float64, requires_grad=True)  # the default on this CPU: the fused form
    x.grad = torch.randn(4, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    Muon([x], lr=0.5, momentum=0.0, nesterov=False, ns_dtype="bfloat16").step()
    torch.testing.assert_close(x.detach(), -0.5 * newton_schulz(x.grad, form="fused").double(), rtol=0, atol=0)
    with pytest.raises(ValueError, match="ns_form"):
        Muon([torch.zeros(2, 2, requires_grad=True)], ns_form="addmm")


# --- FSDP2 layout: each row-sharded matrix orthogonalised once on its owner, equal to every rank's own NS
ROW_SHARDED = [(5, 3), (1, 4), (4, 4), (3, 2, 2), (7, 3), (2, 5)]  # uneven rows; (1, 4): rank 1 holds none


def _owner_run(rank, port, out):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    from optarena.optim.muon import _owner_orthogonalise, _owner_sharded, _owners
    from optarena.optim.newton_schulz import KELLER_COEFFICIENTS, as_matrices

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=60))
    try:
        mesh = init_device_mesh("cpu", (2,))
        torch.manual_seed(0)  # the same whole tensors on both ranks
        wholes = [torch.randn(shape, dtype=torch.float64) for shape in ROW_SHARDED]
        us = [distribute_tensor(w, mesh, [Shard(0)]) for w in wholes]
        params = [distribute_tensor(torch.zeros_like(w, dtype=torch.float32), mesh, [Shard(0)]) for w in wholes]
        assert _owner_sharded(us)
        calls = []

        def ns(mats):
            calls.append(len(mats))
            return [newton_schulz(m, 5, KELLER_COEFFICIENTS, torch.float32) for m in mats]

        outs = _owner_orthogonalise(us, params, ns)
        refs = [newton_schulz(as_matrices(u.full_tensor()), 5, KELLER_COEFFICIENTS, torch.float32)
                .reshape(u.shape).to(torch.float32) for u in us]
        torch.save(dict(outs=[o.to_local() for o in outs], refs=[distribute_tensor(r, mesh, [Shard(0)]).to_local()
                                                                 for r in refs],
                        placements=[tuple(o.placements) for o in outs], shapes=[tuple(o.shape) for o in outs],
                        ns_matrices=sum(calls), owned=sum(o == rank for o in _owners(us, 2))), f"{out}/{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_fsdp_layout_orthogonalises_each_matrix_once_on_its_owner(tmp_path):
    _two_ranks(_owner_run, str(tmp_path))
    ranks = [torch.load(tmp_path / f"{r}.pt", weights_only=False) for r in range(2)]
    for r in ranks:
        assert r["shapes"] == ROW_SHARDED  # DTensors of the whole shapes, sharded like the parameters
        for out, ref in zip(r["outs"], r["refs"]):
            assert torch.equal(out, ref)  # bit for bit every rank's own NS of the gathered matrix
        assert r["ns_matrices"] == r["owned"]  # each rank ran NS on its own matrices only
    assert sum(r["ns_matrices"] for r in ranks) == len(ROW_SHARDED)  # each matrix once in all
    assert ranks[1]["outs"][1].shape == (0, 4)
