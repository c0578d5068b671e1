"""Pieces shared by the optimizers, each written once and used everywhere.

Two kinds. Coefficient functions run on the host, in an optimizer's ``_coefficients(group, t)``: they
turn the LR and the step into the update's scalars (None for a term that is off). Tensor functions work
in place on lists of tensors with ``torch._foreach_*`` ops; a coefficient they take is a float on the
eager path or a 0-d tensor on the fused one (see base.py), so none of them branches on its value.

Legend: g gradient, p parameter, m first moment, v second moment, u update direction, t the step,
bc_i = 1 − β_i^t the bias corrections.
"""

from __future__ import annotations

import torch
from torch.distributed.tensor import DTensor

Scalar = float | torch.Tensor  # a coefficient: a Python number, or a 0-d tensor on the fused path


# -- coefficients (host) -------------------------------------------------------------------------------
def decay_factor(lr: float, weight_decay: float) -> float | None:
    """1 − lr·λ: decoupled weight decay (torch AdamW: the scheduled lr, not adjusted); None when λ = 0."""
    return 1.0 - lr * weight_decay if weight_decay != 0.0 else None


def logtime_rate(group: dict, t: int) -> float:
    """Log-time weight decay λ(t) = ω·s(t)/(⌊T/10⌋ + t)  (arXiv 2602.05298; mlexpos/adana@3eef26f
    ``src/optim/adana.py`` and ``scripts/launch.sh``).

    s(t) = group['lr'] / group['peak_lr'] is the LR schedule factor. The authors' code writes this as
    p ← p·(1 − s(t)·wd/(1 + t/wd_ts)) with wd_ts = int(T/10) and wd = ω/wd_ts, which is the same
    number; written this way it stays finite when T < 10. It is *independent* decay: not multiplied
    by the peak LR.
    """
    s = group["lr"] / group["peak_lr"] if group["peak_lr"] > 0 else 0.0
    return group["omega"] * s / (group["total_steps"] // 10 + t)


def logtime_factor(group: dict, t: int) -> float | None:
    """1 − λ(t) (:func:`logtime_rate`); None when ω = 0."""
    return 1.0 - logtime_rate(group, t) if group["omega"] != 0.0 else None


def bias_correction(beta: float, t: int) -> float:
    return 1.0 - beta**t


def adam_coefficients(lr: float, eps: float, betas: tuple[float, float] | None, t: int, eps_style: str
                      ) -> dict[str, float]:
    """Adam's step p ← p − lr·m̂/(√v̂ + ε) as p ← p + step·m/(√v + ε'), step = −lr·√bc2/bc1, in one of
    the two conventions found in the reference code, which differ only in where ε sits:

    * ``"torch"``: m̂/(√v̂ + ε), so ε' = ε·√bc2     (torch.optim.AdamW)
    * ``"hf"``:    (√bc2/bc1)·m/(√v + ε), so ε' = ε   (HF/BERT; official Grams, C-AdamW)

    ``betas=None``: no bias correction (step = −lr, ε' = ε). With the scales in the coefficients a
    plain step is two passes, √v + ε' then one ``addcdiv_``, and u never exists in memory.
    """
    if betas is None:
        return {"eps": eps, "step": -lr}
    bc1, bc2 = bias_correction(betas[0], t), bias_correction(betas[1], t)
    return {"eps": eps * bc2**0.5 if eps_style == "torch" else eps, "step": -lr * bc2**0.5 / bc1}


# -- tensor functions ----------------------------------------------------------------------------------
# A coefficient that may be a tensor goes through these wrappers, never into an argument that torch
# types as a Scalar (``alpha=``, ``value=``, ``_foreach_add_(xs, s)``, a clamp bound): under
# torch.compile (torch 2.13) such a 0-d tensor is read once while tracing and baked into the graph,
# so the next step would silently reuse the first step's value (tests/perf/test_fast_paths.py). The
# wrappers route tensors through tensor-typed ops (``_foreach_mul``, ``Tensor.add_``), and floats
# through the single fused op.
def add_scalar_(xs: list[torch.Tensor], s: Scalar) -> None:
    """x ← x + s."""
    if torch.is_tensor(s):
        for x in xs:
            x.add_(s)
    else:
        torch._foreach_add_(xs, s)


def add_(xs: list[torch.Tensor], ys: list[torch.Tensor], alpha: Scalar) -> None:
    """x ← x + α·y."""
    if torch.is_tensor(alpha):
        torch._foreach_add_(xs, torch._foreach_mul(ys, alpha))
    else:
        torch._foreach_add_(xs, ys, alpha=alpha)


def addcmul_(xs: list[torch.Tensor], a: list[torch.Tensor], b: list[torch.Tensor], value: Scalar) -> None:
    """x ← x + c·a·b."""
    if torch.is_tensor(value):
        torch._foreach_addcmul_(xs, torch._foreach_mul(a, value), b)
    else:
        torch._foreach_addcmul_(xs, a, b, value=value)


def addcdiv_(xs: list[torch.Tensor], a: list[torch.Tensor], b: list[torch.Tensor], value: Scalar) -> None:
    """x ← x + c·a/b."""
    if torch.is_tensor(value):
        torch._foreach_addcdiv_(xs, torch._foreach_mul(a, value), b)
    else:
        torch._foreach_addcdiv_(xs, a, b, value=value)


def clamp_min_(xs: list[torch.Tensor], floor: Scalar) -> None:
    """x ← max(x, floor)."""
    if torch.is_tensor(floor):
        for x in xs:
            x.clamp_(min=floor)
    else:
        torch._foreach_clamp_min_(xs, floor)


def ema_(bufs: list[torch.Tensor], xs: list[torch.Tensor], weight: Scalar) -> None:
    """buf ← buf + w·(x − buf), i.e. buf ← (1−w)·buf + w·x  (an EMA with β = 1 − w)."""
    torch._foreach_lerp_(bufs, xs, weight)


def ema_sq_(bufs: list[torch.Tensor], xs: list[torch.Tensor], beta: Scalar) -> None:
    """v ← β·v + (1−β)·x²  (second-moment EMA)."""
    torch._foreach_mul_(bufs, beta)
    addcmul_(bufs, xs, xs, 1.0 - beta)


def pow_(xs: list[torch.Tensor], exponent: float) -> None:
    """x ← x^e, for x > 0. Eagerly one foreach pow pass; inside a fused graph (optarena.optim.base) as
    2^(e·log2 x), which inductor's CPU kernels compute in ~1.2 ns an element on one thread against
    ~2.7 for their pow (docs/results/perf_cpu.md); the two agree to an ulp or so."""
    if torch.compiler.is_compiling():
        for x in xs:
            x.copy_(torch.exp2(torch.log2(x) * exponent))
    else:
        torch._foreach_pow_(xs, exponent)


def copy_(dst: list[torch.Tensor], src: list[torch.Tensor]) -> None:
    """dst ← src; tensor by tensor for FSDP2's sharded DTensors, which have no sharding rule for the
    foreach copy (torch 2.13). A copy is exact either way."""
    if any(isinstance(x, DTensor) for x in dst):
        for d, x in zip(dst, src):
            d.copy_(x)
    else:
        torch._foreach_copy_(dst, src)


def decay_(params: list[torch.Tensor], factor: Scalar | None) -> None:
    """p ← p·factor (a weight decay's 1 − rate); nothing when the factor is None."""
    if factor is not None:
        torch._foreach_mul_(params, factor)


def adam_denominator(v: list[torch.Tensor], eps: Scalar) -> list[torch.Tensor]:
    """D = √v + ε', new tensors (ε' from :func:`adam_coefficients`)."""
    d = torch._foreach_sqrt(v)
    add_scalar_(d, eps)
    return d


def adam_moments_(m: list[torch.Tensor], v: list[torch.Tensor], g: list[torch.Tensor],
                  betas: tuple[float, float]) -> None:
    """Adam's moment updates m ← EMA_β1(g), v ← EMA_β2(g²)."""
    beta1, beta2 = betas
    ema_(m, g, 1.0 - beta1)
    ema_sq_(v, g, beta2)


MASK_NORMS = ("mean", "count", "none")


def caution_masks(u: list[torch.Tensor], g: list[torch.Tensor], mask_norm: str) -> list[torch.Tensor]:
    """Cautious masking (Liang et al., arXiv 2411.16085): the masks 1[u ⊙ g > 0]·scale, for the step
    u ← u ⊙ mask (as ``addcmul_`` into p, so the masked u never exists in memory).

    ``mask_norm`` picks the rescaling of the surviving entries (they differ when few survive):
    ``"mean"``: scale = 1/max(mean(mask), 1e-3) (timm, and C-Optim's current rule; our default);
    ``"count"``: scale = numel/(sum(mask) + 1) (the paper's original rule, kept in C-Lion);
    ``"none"``: no rescaling.
    """
    masks = []
    for x, gx in zip(u, g):
        mask = torch.mul(x, gx).gt_(0)  # 1.0 or 0.0 in x's dtype: a bool mask would be converted at each use
        if mask_norm == "mean":
            mask.mul_(x.numel() / torch.clamp(mask.sum(), min=1e-3 * x.numel()))
        elif mask_norm == "count":
            mask.mul_(x.numel() / (mask.sum() + 1.0))
        masks.append(mask)
    return masks


def clip_scales(norms: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """min(1, max_norm/(‖x‖ + 1e-6)) per tensor, from its norm (torch's clip_grad_norm_ guard)."""
    return [torch.clamp(max_norm / (n + 1e-6), max=1.0) for n in norms]


def clipped_by_norm(xs: list[torch.Tensor], max_norm: float | None) -> list[torch.Tensor]:
    """Per-tensor L2-norm clipping, out of place: x·min(1, max_norm/(‖x‖ + 1e-6)) (torch's guard).

    Returns new tensors (gradients are never modified); ``max_norm=None`` returns copies.
    """
    if max_norm is None:
        return [x.clone() for x in xs]
    return torch._foreach_mul(xs, clip_scales(torch._foreach_norm(xs), max_norm))
