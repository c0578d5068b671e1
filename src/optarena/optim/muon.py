"""Muon (Jordan et al. 2024): SGD-momentum orthogonalised by Newton–Schulz, with an inner AdamW.

Legend: g gradient, p parameter, M momentum, U update direction, O its orthogonalisation, (r, c) the
matrix shape (newton_schulz.matrix_shape), μ momentum, λ weight decay. Per step, for a Muon parameter
(KellerJordan/Muon@857d1ad ``muon_update`` and ``SingleDeviceMuonWithAuxAdam``)::

    M ← lerp(M, g, 1−μ)                          EMA momentum, as Keller (Moonlight's M ← μM + g
    U ← lerp(g, M, μ) if nesterov else M          differs by the factor 1−μ, which NS normalises away)
    O ← NS(U)                                      ns_steps bf16 Newton–Schulz steps (newton_schulz.py)
    p ← p·(1 − lr·λ)                               decoupled decay with the scheduled, unadjusted lr
    p ← p − lr·scale(r, c)·O                       adjust_lr "original" sqrt(max(1, r/c)) (Keller) or
                                                   "match_rms_adamw" 0.2·sqrt(max(r, c)) (Moonlight)

and for every other parameter AdamW with torch semantics (decoupled decay, torch-style ε; specs §1.1),
the aux Adam of Keller's ``MuonWithAuxAdam`` (defaults lr 3e-4, betas (0.9, 0.95), ε 1e-10, λ 0)::

    p ← p·(1 − lr_a·λ_a);  m, v EMAs;  p ← p − lr_a·m̂/(√v̂ + ε_a)
    lr_a = adamw_lr · group['lr'] / group['peak_lr']

Choices, where the sources differ or are silent:

* **Routing.** A group's ``use_muon`` key decides (``create("muon", model)`` sets it by role: hidden
  matrices True; embedding, head, norms, biases False). A group without the key, e.g. from
  ``Muon(model.parameters())``, routes by shape: ndim ≥ 2 to Muon, which would include embeddings.
* **One schedule drives both parts.** LR schedulers rescale ``group['lr']`` only, so an AdamW group
  takes adamw_lr times the group's schedule factor group['lr']/group['peak_lr'] (the peak is recorded
  when the group is added; a peak of 0 gives factor 0). A group may override any ``adamw_*`` key.
* **Shapes.** A 4-D conv filter is one (out, in·kh·kw) matrix; other ≥3-D tensors are batches of
  matrices over their leading dims. ``scale`` reads the (r, c) that NS sees; Keller's code reads the
  original tensor's last two dims, which for a conv filter is kh/kw: the two differ only when kh ≠ kw
  or out > in·kh·kw (a first conv layer, which Keller keeps out of Muon).
* **Precision.** NS runs in bf16 (Keller) on accelerators and on CPUs with bf16 matrix units; on
  other CPUs in fp32 (``ns_dtype="auto"``, newton_schulz.ns_dtype: there bf16 matmuls are computed in
  fp32 after a conversion, so bf16 only costs); ``"bfloat16"`` or ``"float32"`` fix it. The result is
  added to p (and the scale applied) in the parameter's working precision, where Keller multiplies
  the bf16 update by the scale in place.
* **Speed.** Same-shape matrices of a group are stacked and orthogonalised in one batched NS call
  (on CPU 3-5x faster than a per-matrix loop for 32-64 wide layers; equal once matmuls dominate), on
  CPU in stacks of at most ``NS_CPU_CHUNK_NUMEL`` elements, which stay in the L2 cache.
  ``ns_form="auto"`` runs NS's two matrix sums inside the matmuls (``baddbmm``, as torch.optim.Muon's
  ``addmm``) on CPU, where Keller's separate bf16 elementwise ops cost more than the matmuls (2.2x
  faster on the 20m preset); on accelerators it keeps Keller's ops and so his bf16 bits.
  ``"keller"`` or ``"fused"`` fix it (newton_schulz.py).
* **NS details** follow Keller (‖X‖_F + 1e-7, not torch.optim.Muon's clamp(min=1e-7)); ``adjust_lr``,
  ``ns_coefficients`` and ``ns_steps`` < 100 follow torch.optim.Muon's names and limits.
* **p.grad is never modified** (Keller's ``grad.lerp_`` writes the Nesterov mix into it).
* **Distributed** (``distributed=None``: on when torch.distributed is initialised with world size
  > 1). Grads are assumed already averaged (DDP) and present on the same parameters on every rank.
  Per group, the Muon parameters sorted by size (largest first) are dealt round-robin to ranks;
  each rank updates only its own (momentum, decay, NS), then one all_gather of the flattened updated
  parameters gives every rank identical weights, so each matrix is orthogonalised once. Momentum is
  therefore sharded: rank q holds it for its own parameters only, and a checkpoint must take each
  rank's part: the trainer's (torch.distributed.checkpoint, train/checkpoint.py) has every rank write
  the state it holds, and each rank reads back its own on resume.
  The AdamW part runs replicated. Under FSDP2 (DTensor parameters, rows sharded over the ranks)
  momentum and decay run on each rank's shard; the NS of each matrix is dealt to an owner rank the
  same way, which gathers the matrix's rows, orthogonalises it once and scatters the rows of the
  result back (:func:`_owner_orthogonalise`; the communication is there).
* **State** depends on the route: ``momentum_buffer`` for Muon parameters (made by the rank that
  updates the parameter); ``exp_avg``, ``exp_avg_sq`` for AdamW ones.
"""

from __future__ import annotations

import math
from functools import reduce
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor, Shard, distribute_tensor

from . import _checks as C
from . import _pieces as P
from .base import ArenaOptimizer
from .newton_schulz import (ADJUST_LR, KELLER_COEFFICIENTS, NS_DTYPES, NS_FORMS, as_matrices, lr_scale,
                            matrix_shape, newton_schulz, ns_dtype, ns_form)

REAL = C.Interval(-math.inf, math.inf, "()")
# Elements per stack of one batched NS call on CPU: a stack's iterates (X, A, B in bf16) then fit a 2 MiB
# L2. On the 20m preset's matrices, one thread, stacks of 2-8 matrices took 0.8x the time of one stack
# per shape, and 0.65x of single matrices (docs/results/perf_cpu.md); on accelerators a shape's
# matrices stay one stack.
NS_CPU_CHUNK_NUMEL = 1 << 20


class Muon(ArenaOptimizer):
    """Muon for hidden matrices and AdamW for the rest, in one optimizer (see the module docstring)."""

    records_peak_lr = True

    def __init__(self, params: Any, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True,
                 ns_steps: int = 5, weight_decay: float = 0.0, adjust_lr: str = "original",
                 ns_coefficients: tuple[float, float, float] = KELLER_COEFFICIENTS,
                 adamw_lr: float = 3e-4, adamw_betas: tuple[float, float] = (0.9, 0.95),
                 adamw_eps: float = 1e-10, adamw_weight_decay: float = 0.0,
                 distributed: bool | None = None, ns_dtype: str = "auto", ns_form: str = "auto",
                 state_dtype: torch.dtype | str | None = None) -> None:
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps, ns_dtype=ns_dtype,
                        ns_form=ns_form, weight_decay=weight_decay, adjust_lr=adjust_lr,
                        ns_coefficients=C.as_tuple(ns_coefficients), adamw_lr=adamw_lr,
                        adamw_betas=C.as_tuple(adamw_betas), adamw_eps=adamw_eps,
                        adamw_weight_decay=adamw_weight_decay, distributed=distributed, state_dtype=state_dtype)
        super().__init__(params, defaults)

    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
        C.check_number(owner, "momentum", hp["momentum"], C.UNIT)
        C.check_choice(owner, "nesterov", hp["nesterov"], (True, False))
        steps = hp["ns_steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps < 100:
            raise ValueError(f"{owner}: invalid ns_steps={steps!r}; expected an integer in [1, 100)")
        C.check_betas(owner, hp["ns_coefficients"], 3, REAL, name="ns_coefficients")
        C.check_choice(owner, "adjust_lr", hp["adjust_lr"], ADJUST_LR)
        C.check_choice(owner, "ns_dtype", hp["ns_dtype"], ("auto", *NS_DTYPES))
        C.check_choice(owner, "ns_form", hp["ns_form"], ("auto", *NS_FORMS))
        C.check_number(owner, "weight_decay", hp["weight_decay"], C.NONNEGATIVE)
        C.check_number(owner, "adamw_lr", hp["adamw_lr"], C.NONNEGATIVE)
        C.check_betas(owner, hp["adamw_betas"], 2, name="adamw_betas")
        C.check_number(owner, "adamw_eps", hp["adamw_eps"], C.POSITIVE)
        C.check_number(owner, "adamw_weight_decay", hp["adamw_weight_decay"], C.NONNEGATIVE)
        C.check_choice(owner, "distributed", hp["distributed"], (None, True, False))
        if "use_muon" in hp:
            C.check_choice(owner, "use_muon", hp["use_muon"], (True, False))
            for p in hp["params"] if hp["use_muon"] else ():
                if p.ndim < 2:
                    raise ValueError(f"{owner}: use_muon=True but a parameter has shape {tuple(p.shape)}; "
                                     "Newton–Schulz needs ndim >= 2: put it in a use_muon=False group")

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # ns_dtype and ns_form are newer than the state format: a group saved without them ran Keller's
        # bf16 ops
        if isinstance(state_dict, dict) and isinstance(state_dict.get("param_groups"), list):
            state_dict = {**state_dict, "param_groups": [
                {"ns_dtype": "bfloat16", "ns_form": "keller", **g} if isinstance(g, dict) else g
                for g in state_dict["param_groups"]]}
        super().load_state_dict(state_dict)

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        # A Muon parameter's momentum is made by the rank that updates it (_muon_local): when the update
        # is sharded across ranks, the others never hold it.
        if not _routes_to_muon(group, p):
            state["exp_avg"] = self.zeros(p)
            state["exp_avg_sq"] = self.zeros(p)

    def _lazy_state_shapes(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, torch.Size]:
        """The state the update makes itself rather than _init_state (a Muon parameter's momentum,
        see _muon_local), for load_state_dict's check of a saved state's keys and shapes."""
        return {"momentum_buffer": p.shape} if _routes_to_muon(group, p) else {}

    def _scope(self, group: dict[str, Any]) -> str:
        # Newton–Schulz batches a group's same-shape matrices (and, distributed, deals them to ranks);
        # a group routed entirely to AdamW is elementwise.
        return "coordinate" if group.get("use_muon") is False else "list"

    def _coefficients(self, group: dict[str, Any], t: int) -> dict[str, float | None]:
        lr, peak = group["lr"], group["peak_lr"]
        lr_a = group["adamw_lr"] * (lr / peak if peak > 0 else 0.0)  # the schedule's factor
        adamw = P.adam_coefficients(lr_a, group["adamw_eps"], group["adamw_betas"], t, "torch")
        return {"lr": lr, "decay": P.decay_factor(lr, group["weight_decay"]),
                "adamw_decay": P.decay_factor(lr_a, group["adamw_weight_decay"]),
                "adamw_eps": adamw["eps"], "adamw_step": adamw["step"]}

    def _update(self, group, c, params, grads, states) -> None:
        routes = [_routes_to_muon(group, p) for p in params]
        for route, update in ((True, self._muon), (False, self._adamw)):
            idx = [i for i, r in enumerate(routes) if r == route]
            if idx:
                update(group, c, [params[i] for i in idx], [grads[i] for i in idx], [states[i] for i in idx])

    # -- Muon ----------------------------------------------------------------------------------------
    def _muon(self, group, c, params, grads, states) -> None:
        # FSDP2's sharded parameters (DTensors): _muon_local deals the NS of each whole matrix to an
        # owner rank itself (_owner_orthogonalise), so the dealing of replicated parameters is off.
        world = None if any(isinstance(p, DTensor) for p in params) else _world(group["distributed"])
        if world is None:
            self._muon_local(group, c, params, grads, states)
            return
        rank, size = world
        owners = _owners(params, size)
        mine = [i for i, o in enumerate(owners) if o == rank]
        if mine:
            self._muon_local(group, c, [params[i] for i in mine], [grads[i] for i in mine],
                             [states[i] for i in mine])
        _all_gather_(params, owners, rank, size)

    def _muon_local(self, group, c, params, grads, states) -> None:
        mu = group["momentum"]
        for p, s in zip(params, states):
            if "momentum_buffer" not in s:
                s["momentum_buffer"] = self.zeros(p)
        m = [s["momentum_buffer"] for s in states]
        P.ema_(m, grads, 1.0 - mu)
        u = torch._foreach_lerp(grads, m, mu) if group["nesterov"] else m  # out of place: g is read-only
        P.decay_(params, c["decay"])
        by_shape = _by_shape({i: x.shape for i, x in enumerate(u)})
        owned = _owner_sharded(u)
        if owned:  # FSDP2: each matrix orthogonalised once, on its owner rank (_owner_orthogonalise)
            orth = _owner_orthogonalise(u, params, lambda mats: self._ns(group, mats))
        for (rows, cols), idx in by_shape.items():
            if owned:
                outs = [orth[i] for i in idx]
            else:
                mats = [as_matrices(_whole(u[i])) for i in idx]
                # bf16 → fp32/fp64 is exact; the lr and scale are then applied in the parameter's precision
                outs = [_like(params[i], o.reshape(params[i].shape).to(params[i].dtype))
                        for i, o in zip(idx, self._ns(group, mats))]
            scale = lr_scale(group["adjust_lr"], rows, cols)
            torch._foreach_add_([params[i] for i in idx], outs, alpha=-c["lr"] * scale)

    def _ns(self, group: dict[str, Any], mats: list[torch.Tensor]) -> list[torch.Tensor]:
        """Newton–Schulz of same-shape (k, r, c) matrices in one batched call; each result in NS's dtype."""
        device = mats[0].device
        dtype, form = ns_dtype(group["ns_dtype"], device), ns_form(group["ns_form"], device)
        U_NRC = torch.cat([x.to(dtype) for x in mats])
        # on CPU in stacks of about NS_CPU_CHUNK_NUMEL elements, whose iterates stay in the L2 cache
        k = NS_CPU_CHUNK_NUMEL // max(1, math.prod(U_NRC.shape[1:])) if device.type == "cpu" else len(U_NRC)
        outs = [newton_schulz(x, group["ns_steps"], group["ns_coefficients"], dtype, form)
                for x in U_NRC.split(max(1, k))]
        O_NRC = outs[0] if len(outs) == 1 else torch.cat(outs)  # one stack: no copy
        return list(O_NRC.split([x.shape[0] for x in mats]))

    # -- AdamW ---------------------------------------------------------------------------------------
    def _adamw(self, group, c, params, grads, states) -> None:
        P.decay_(params, c["adamw_decay"])
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        P.adam_moments_(m, v, grads, group["adamw_betas"])
        P.addcdiv_(params, m, P.adam_denominator(v, c["adamw_eps"]), c["adamw_step"])


def _by_shape(shapes: dict[int, torch.Size]) -> dict[tuple[int, int], list[int]]:
    """Indices grouped by the (rows, cols) NS sees, so that each group is one batched NS call."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, shape in shapes.items():
        groups.setdefault(matrix_shape(shape), []).append(i)
    return groups


def _owner_sharded(us: list[torch.Tensor]) -> bool:
    """Whether the updates are FSDP2's usual layout, rows sharded over a 1-D mesh (what
    :func:`_owner_orthogonalise` handles); other DTensor layouts take :func:`_whole`."""
    if not us or not all(isinstance(x, DTensor) for x in us):
        return False
    mesh = us[0].device_mesh
    return mesh.ndim == 1 and all(x.device_mesh == mesh and tuple(x.placements) == (Shard(0),) for x in us)


def _owner_orthogonalise(us: list[torch.Tensor], params: list[torch.Tensor],
                         ns: Callable[[list[torch.Tensor]], list[torch.Tensor]]) -> list[torch.Tensor]:
    """Newton–Schulz of row-sharded updates, each matrix once, on one rank (what Dion and torchtitan's
    distributed Muon do): the matrices are dealt to owner ranks as under DDP (:func:`_owners`); each
    rank sends its rows of a matrix to the matrix's owner (a gather), the owner orthogonalises the
    matrices it owns (those of one shape in one batched call, `ns`) and sends each rank its rows of the
    result back (a scatter). Per matrix and step its owner receives and sends (size−1)/size of the
    matrix once; an all-gather instead has every rank receive that much of every matrix and run every
    NS. Rows are padded to torch.chunk's size (DTensor's Shard(0) split) for the collectives. The
    result equals every rank's own NS of the gathered matrix bit for bit (the same input, the same
    kernel); returned as DTensors sharded like `params`, in their dtype."""
    mesh = us[0].device_mesh
    pg, size, rank = mesh.get_group(), mesh.size(), mesh.get_local_rank()
    owners = _owners(us, size)
    chunks = [-(-x.shape[0] // size) for x in us]
    received: dict[int, list[torch.Tensor]] = {}
    works = []
    for i, x in enumerate(us):
        send = _padded(x.to_local(), chunks[i])
        if owners[i] == rank:
            received[i] = [torch.empty_like(send) for _ in range(size)]
        works.append(dist.gather(send, received.get(i), dst=dist.get_global_rank(pg, owners[i]), group=pg,
                                 async_op=True))
    for w in works:
        w.wait()
    done: dict[int, torch.Tensor] = {}
    for idx in _by_shape({i: us[i].shape for i in received}).values():
        wholes = [as_matrices(torch.cat(received[i])[:us[i].shape[0]]) for i in idx]
        for i, o in zip(idx, ns(wholes)):
            done[i] = o.reshape(us[i].shape).to(params[i].dtype)
    outs, works = [], []
    for i, x in enumerate(us):
        out = torch.empty((chunks[i], *x.shape[1:]), dtype=params[i].dtype, device=x.to_local().device)
        pieces = list(_padded(done[i], chunks[i] * size).split(chunks[i])) if i in done else None
        works.append(dist.scatter(out, pieces, src=dist.get_global_rank(pg, owners[i]), group=pg, async_op=True))
        outs.append(out)
    for w in works:
        w.wait()
    return [DTensor.from_local(o[:p.to_local().shape[0]], mesh, p.placements, run_check=False, shape=p.shape,
                               stride=p.stride()) for o, p in zip(outs, params)]


def _padded(x: torch.Tensor, rows: int) -> torch.Tensor:
    """`x` (contiguous) with zero rows appended up to `rows`."""
    if x.shape[0] == rows:
        return x.contiguous()
    out = x.new_zeros((rows, *x.shape[1:]))
    out[:x.shape[0]] = x
    return out


def _whole(x: torch.Tensor) -> torch.Tensor:
    """The whole matrix of a sharded update in a layout :func:`_owner_orthogonalise` does not handle
    (a 2-D mesh, another placement): an all-gather, after which every rank runs the same NS."""
    return x.full_tensor() if isinstance(x, DTensor) else x


def _like(p: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
    """``full`` sharded like ``p`` when p is a DTensor: each rank keeps its own slice (no communication:
    every rank holds the same whole result)."""
    if not isinstance(p, DTensor):
        return full
    return distribute_tensor(full, p.device_mesh, p.placements, src_data_rank=None)


def _routes_to_muon(group: dict[str, Any], p: torch.Tensor) -> bool:
    """A group's ``use_muon`` decides; without it (direct construction) matrices go to Newton–Schulz."""
    return group.get("use_muon", p.ndim >= 2)


# -- distributed helpers -------------------------------------------------------------------------------
def _world(flag: bool | None) -> tuple[int, int] | None:
    """(rank, world size) when the update is to be sharded, else None."""
    ready = dist.is_available() and dist.is_initialized()
    if flag and not ready:
        raise RuntimeError("Muon: distributed=True but torch.distributed is not initialised")
    if flag is False or not ready or dist.get_world_size() == 1:
        return None
    return dist.get_rank(), dist.get_world_size()


def _owners(params: list[torch.Tensor], size: int) -> list[int]:
    """Owner rank of each parameter: largest first, dealt round-robin, so the NS work is balanced.
    It depends only on the shapes and their order, so every rank computes the same table."""
    order = sorted(range(len(params)), key=lambda i: (-params[i].numel(), tuple(params[i].shape), i))
    owners = [0] * len(params)
    for k, i in enumerate(order):
        owners[i] = k % size
    return owners


def _all_gather_(params: list[torch.Tensor], owners: list[int], rank: int, size: int) -> None:
    """Copy each parameter from its owner to every rank with one all_gather of flat, padded buffers."""
    dtype = reduce(torch.promote_types, (p.dtype for p in params))  # lossless for a fp32/fp64 mix
    per_rank = [[p for p, o in zip(params, owners) if o == q] for q in range(size)]
    lengths = [sum(p.numel() for p in ps) for ps in per_rank]
    send = torch.zeros(max(lengths), dtype=dtype, device=params[0].device)
    if per_rank[rank]:
        send[:lengths[rank]] = torch.cat([p.reshape(-1).to(dtype) for p in per_rank[rank]])
    received = [torch.empty_like(send) for _ in range(size)]
    dist.all_gather(received, send)
    for q, ps in enumerate(per_rank):
        if q == rank:
            continue
        offset = 0
        for p in ps:
            p.copy_(received[q][offset:offset + p.numel()].view_as(p))
            offset += p.numel()
