"""AdEMAMix (Pagliardini, Ablin, Grangier, arXiv 2409.03137) and its log-time form (arXiv 2602.05298).

Exact to apple/ml-ademamix@c3d73c0 ``pytorch/ademamix.py``. Legend: g gradient,
p parameter, m1 fast EMA, m2 slow EMA, ν second moment, t the step (1 on the first update). Per step::

    α_t  = α·min(t/T_α, 1)                           alpha_warmup T_α (None: α_t = α)
    β3_t = f⁻¹((1−a)·f(β1) + a·f(β3)), a = min(t/T_β3, 1)     beta3_warmup T_β3 (None: β3_t = β3)
           f(β) = ln ½ / ln(β + 1e-8) − 1 (half-life; the 1e-8 is the code's), f⁻¹(h) = ½^(1/(h+1))
    m1 ← β1·m1 + (1−β1)·g                            (no buffer when β1 = 0: m1 = g)
    m2 ← β3_t·m2 + (1−β3_t)·g                        (not bias-corrected)
    ν  ← β2·ν + (1−β2)·g²
    u  = (m1/(1−β1^t) + α_t·m2) / (√ν/√(1−β2^t) + ε)
    p ← p·(1 − lr·λ)                                 weight_decay λ
    p ← p − lr·u

Apple writes the decay as p ← p − lr·(u + λ·p), the same number as decoupled decay applied before the
step; here it is ``_pieces.decay_``.

``logtime=True`` is "Ademamix (DW)" of arXiv 2602.05298 (mlexpos/adana@3eef26f
``src/main.py``, ``scripts/launch.sh``, ``src/optim/ademamix_decaying_wd.py``), given the run
length T = ``total_steps``:

* β3 = 1 − δ/T, α = T^(1−κ), T_α = T_β3 = T. These *override* ``betas[2]``, ``alpha``,
  ``alpha_warmup`` and ``beta3_warmup`` (as the authors' main.py overrides α); δ must be ≤ T.
* the decay is the independent log-time one, p ← p·(1 − ω·s(t)/(⌊T/10⌋+t)) with s(t) = lr/peak lr,
  applied *before* the step as ademamix_decaying_wd.py does (its ``p.mul_`` precedes ``p.add_``; the
  spec's "after" describes the DANA code); ``weight_decay`` must then be 0.
* κ: the paper's AdEMAMix κ is not recorded (the launcher's default is 0.85 now, 0.75 in the paper-era
  scripts); the default here is 0.85. The authors' ``gamma_3_factor`` (1 in every run) multiplies α,
  so it is folded into ``alpha`` and not offered.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from . import _checks as C
from . import _logtime as L
from . import _pieces as P
from .base import ArenaOptimizer

WARMUP = C.Interval(1.0, math.inf, "[)")


class AdEMAMix(ArenaOptimizer):
    """AdEMAMix with Apple's warm-ups; ``logtime=True`` gives the log-time "Ademamix (DW)"."""

    records_peak_lr = True

    def __init__(self, params: Any, lr: float = 1e-3,
                 betas: tuple[float, float, float] = (0.9, 0.999, 0.9999), alpha: float = 2.0,
                 alpha_warmup: int | None = None, beta3_warmup: int | None = None, eps: float = 1e-8,
                 weight_decay: float = 0.0, logtime: bool = False, kappa: float = 0.85, delta: float = 8.0,
                 omega: float = 4.0, total_steps: int | None = None,
                 state_dtype: torch.dtype | str | None = None) -> None:
        defaults = dict(lr=lr, betas=C.as_tuple(betas), alpha=alpha, alpha_warmup=alpha_warmup,
                        beta3_warmup=beta3_warmup, eps=eps, weight_decay=weight_decay, logtime=logtime,
                        kappa=kappa, delta=delta, omega=omega, total_steps=total_steps, state_dtype=state_dtype)
        super().__init__(params, defaults)

    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
        C.check_betas(owner, hp["betas"], 3)
        C.check_number(owner, "alpha", hp["alpha"], C.NONNEGATIVE)
        C.check_optional(owner, "alpha_warmup", hp["alpha_warmup"], WARMUP)
        C.check_optional(owner, "beta3_warmup", hp["beta3_warmup"], WARMUP)
        C.check_number(owner, "eps", hp["eps"], C.POSITIVE)
        C.check_number(owner, "weight_decay", hp["weight_decay"], C.NONNEGATIVE)
        C.check_choice(owner, "logtime", hp["logtime"], (False, True))
        if not hp["logtime"]:
            return
        L.check(owner, hp, "logtime=True sets beta3 = 1 - delta/T and alpha = T^(1-kappa)")
        if hp["delta"] > hp["total_steps"]:
            raise ValueError(f"{owner}: invalid delta={hp['delta']!r}; expected a number in "
                             f"{C.Interval(0.0, hp['total_steps'], '(]')} (delta <= total_steps keeps "
                             "beta3 = 1 - delta/T >= 0)")
        if hp["weight_decay"] != 0:
            raise ValueError(f"{owner}: invalid weight_decay={hp['weight_decay']!r}; expected 0 with "
                             "logtime=True (the log-time decay is set by omega)")

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        if group["betas"][0] != 0.0:  # no fast EMA at all when β1 = 0
            state["exp_avg_fast"] = self.zeros(p)
        state["exp_avg_slow"] = self.zeros(p)
        state["exp_avg_sq"] = self.zeros(p)

    def _scope(self, group: dict[str, Any]) -> str:
        return "coordinate"

    def _coefficients(self, group: dict[str, Any], t: int) -> dict[str, float | None]:
        beta1, beta2, beta3, alpha, alpha_warmup, beta3_warmup = _resolved(group)
        lr = group["lr"]
        # Apple's decay is decoupled and before the step; the log-time one replaces it (module docstring)
        decay = P.logtime_factor(group, t) if group["logtime"] else P.decay_factor(lr, group["weight_decay"])
        bc1 = P.bias_correction(beta1, t) if beta1 != 0.0 else 1.0
        root = P.bias_correction(beta2, t) ** 0.5  # D = √ν/root + ε = (√ν + ε·root)/root
        return {"decay": decay, "ema_slow": 1.0 - _beta3_at(t, beta3, beta1, beta3_warmup),
                "eps": group["eps"] * root, "step_fast": -lr * root / bc1,
                "step_slow": -lr * root * _alpha_at(t, alpha, alpha_warmup)}

    def _update(self, group, c, params, grads, states) -> None:
        beta1, beta2 = group["betas"][:2]
        P.decay_(params, c["decay"])
        m2 = [s["exp_avg_slow"] for s in states]
        nu = [s["exp_avg_sq"] for s in states]
        P.ema_(m2, grads, c["ema_slow"])
        P.ema_sq_(nu, grads, beta2)
        if beta1 != 0.0:
            m1 = [s["exp_avg_fast"] for s in states]
            P.ema_(m1, grads, 1.0 - beta1)
        else:  # no fast EMA: m1 = g
            m1 = grads
        d = P.adam_denominator(nu, c["eps"])
        # p ← p − lr·(m1/bc1 + α_t·m2)/D, as two in-place passes over p (no u in memory)
        P.addcdiv_(params, m1, d, c["step_fast"])
        P.addcdiv_(params, m2, d, c["step_slow"])


def _resolved(group: dict) -> tuple[float, float, float, float, float | None, float | None]:
    """(β1, β2, β3, α, T_α, T_β3): the group's own, or the log-time ones derived from T, δ and κ."""
    beta1, beta2, beta3 = group["betas"]
    if not group["logtime"]:
        return beta1, beta2, beta3, group["alpha"], group["alpha_warmup"], group["beta3_warmup"]
    T = group["total_steps"]
    return beta1, beta2, 1.0 - group["delta"] / T, T ** (1.0 - group["kappa"]), T, T


def _alpha_at(t: int, alpha: float, warmup: float | None) -> float:
    """Apple's linear_warmup_scheduler from 0 to α."""
    if warmup is None or t >= warmup:
        return alpha
    return (t / float(warmup)) * alpha


def _beta3_at(t: int, beta3: float, beta_start: float, warmup: float | None) -> float:
    """Apple's linear_hl_warmup_scheduler: the half-life moves linearly from β_start's to β3's."""
    if warmup is None or t >= warmup:
        return beta3

    def f(beta: float) -> float:
        return math.log(0.5) / math.log(beta + 1e-8) - 1

    a = t / float(warmup)
    return math.pow(0.5, 1 / ((1.0 - a) * f(beta_start) + a * f(beta3) + 1))
