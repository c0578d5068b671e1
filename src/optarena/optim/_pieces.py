"""Pieces shared by the optimizers, each written once and used everywhere (STYLE.md §3).

All functions work in place on lists of tensors with ``torch._foreach_*`` ops. A per-tensor coefficient
is a float when every tensor of the list shares it (the usual case: one step count per group) and a
list of floats otherwise; :func:`uniform` makes that choice.

Legend: g gradient, p parameter, m first moment, v second moment, u update direction.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Coeff = float | list[float]


def uniform(values: Sequence[float]) -> Coeff:
    """One float when all values agree (faster foreach overloads), else the list itself."""
    first = values[0]
    return float(first) if all(v == first for v in values) else [float(v) for v in values]


def steps(states: Sequence[dict]) -> list[int]:
    return [s["step"] for s in states]


def ema_(bufs: list[torch.Tensor], xs: list[torch.Tensor], weight: Coeff) -> None:
    """buf ← buf + w·(x − buf), i.e. buf ← (1−w)·buf + w·x  (an EMA with β = 1 − w)."""
    if isinstance(weight, float):
        torch._foreach_lerp_(bufs, xs, weight)
    else:
        for b, x, w in zip(bufs, xs, weight):
            b.lerp_(x, w)


def ema_sq_(bufs: list[torch.Tensor], xs: list[torch.Tensor], beta: Coeff) -> None:
    """v ← β·v + (1−β)·x²  (second-moment EMA)."""
    torch._foreach_mul_(bufs, beta)
    one_minus = 1.0 - beta if isinstance(beta, float) else [1.0 - b for b in beta]
    torch._foreach_addcmul_(bufs, xs, xs, one_minus)


def decay_(params: list[torch.Tensor], rates: Coeff) -> None:
    """p ← p·(1 − rate): decoupled weight decay with a per-tensor rate (already multiplied by lr)."""
    if isinstance(rates, float):
        if rates != 0.0:
            torch._foreach_mul_(params, 1.0 - rates)
    else:
        torch._foreach_mul_(params, [1.0 - r for r in rates])


def decoupled_rate(group: dict, weight_decay: float | None = None) -> float:
    """AdamW's decoupled decay rate lr·λ (torch semantics: the scheduled lr, not adjusted)."""
    wd = group["weight_decay"] if weight_decay is None else weight_decay
    return group["lr"] * wd


def logtime_rates(group: dict, step_list: Sequence[int]) -> Coeff:
    """Log-time weight decay λ(t) = ω·s(t)/(⌊T/10⌋ + t)  (arXiv 2602.05298; specs/adana.md §1.0).

    s(t) = group['lr'] / group['peak_lr'] is the LR schedule factor. The authors' code writes this as
    p ← p·(1 − s(t)·wd/(1 + t/wd_ts)) with wd_ts = int(T/10) and wd = ω/wd_ts, which is the same
    number; written this way it stays finite when T < 10. It is *independent* decay: not multiplied
    by the peak LR.
    """
    omega = group["omega"]
    if omega == 0.0:
        return 0.0
    s = group["lr"] / group["peak_lr"] if group["peak_lr"] > 0 else 0.0
    ts = group["total_steps"] // 10
    return uniform([omega * s / (ts + t) for t in step_list])


def _scale_(xs: list[torch.Tensor], factors: list[float]) -> None:
    """x ← x·f, skipped when every f is 1 (no bias correction): a pass over memory saved."""
    factors = uniform(factors)
    if factors != 1.0:
        torch._foreach_mul_(xs, factors)


def bias_corrections(beta: float, step_list: Sequence[int]) -> list[float]:
    return [1.0 - beta**t for t in step_list]


def adam_direction(m: list[torch.Tensor], v: list[torch.Tensor], eps: float, bc1: list[float],
                   bc2: list[float], eps_style: str) -> list[torch.Tensor]:
    """u = m̂/(√v̂ + ε) in one of the two conventions of specs/optimizers.md §1.0.

    * ``"torch"``: u = (m/bc1) / (√v/√bc2 + ε)             (torch.optim.AdamW)
    * ``"hf"``:    u = (√bc2/bc1) · m / (√v + ε)             (HF/BERT; official Grams, C-AdamW)
    """
    denom = torch._foreach_sqrt(v)
    if eps_style == "torch":
        _scale_(denom, [1.0 / b**0.5 for b in bc2])
        torch._foreach_add_(denom, eps)
        u = torch._foreach_div(m, denom)
        _scale_(u, [1.0 / b for b in bc1])
    else:
        torch._foreach_add_(denom, eps)
        u = torch._foreach_div(m, denom)
        _scale_(u, [b2**0.5 / b1 for b1, b2 in zip(bc1, bc2)])
    return u


def adam_moments_direction(m: list[torch.Tensor], v: list[torch.Tensor], g: list[torch.Tensor],
                           betas: tuple[float, float], eps: float, step_list: Sequence[int],
                           eps_style: str) -> list[torch.Tensor]:
    """Adam's moment updates m ← EMA_β1(g), v ← EMA_β2(g²), then the direction u = m̂/(√v̂ + ε)."""
    beta1, beta2 = betas
    ema_(m, g, 1.0 - beta1)
    ema_sq_(v, g, beta2)
    return adam_direction(m, v, eps, bias_corrections(beta1, step_list), bias_corrections(beta2, step_list),
                          eps_style)


MASK_NORMS = ("mean", "count", "none")


def caution_(u: list[torch.Tensor], g: list[torch.Tensor], mask_norm: str) -> None:
    """Cautious masking (Liang et al., arXiv 2411.16085): u ← u ⊙ 1[u ⊙ g > 0] · scale.

    ``mask_norm`` picks the rescaling of the surviving entries (they differ when few survive):
    ``"mean"``: scale = 1/max(mean(mask), 1e-3) (timm, and C-Optim's current rule; our default);
    ``"count"``: scale = numel/(sum(mask) + 1) (the paper's original rule, kept in C-Lion);
    ``"none"``: no rescaling.
    """
    masks = torch._foreach_mul(u, g)
    masks = [(x > 0).to(x.dtype) for x in masks]
    if mask_norm != "none":
        counts = torch._foreach_norm(masks, 1)  # L1 norm of a 0/1 mask = number of survivors
        if mask_norm == "mean":
            scales = [x.numel() / torch.clamp(c, min=1e-3 * x.numel()) for x, c in zip(masks, counts)]
        else:
            scales = [x.numel() / (c + 1.0) for x, c in zip(masks, counts)]
        torch._foreach_mul_(masks, scales)
    torch._foreach_mul_(u, masks)


def clipped_by_norm(xs: list[torch.Tensor], max_norm: float | None) -> list[torch.Tensor]:
    """Per-tensor L2-norm clipping, out of place: x·min(1, max_norm/(‖x‖ + 1e-6)) (torch's guard).

    Returns new tensors (gradients are never modified); ``max_norm=None`` returns copies.
    """
    if max_norm is None:
        return [x.clone() for x in xs]
    norms = torch._foreach_norm(xs)
    scales = [torch.clamp(max_norm / (n + 1e-6), max=1.0) for n in norms]
    return torch._foreach_mul(xs, scales)
