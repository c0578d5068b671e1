"""Scaled Variance-Reduced Momentum, SVRM ("Scaled Variance-Reduced Momentum: A Stable Optimization
Approach for Language Models", Aardvark, 2025-10-18; no arXiv id).

No official code. Per step, with k = γ·β1/(1−β1) (the paper's eqs. 2–5)::

    p    ← p·(1 − η_t·λ)                      decoupled weight decay (AdamW semantics)
    g_vr ← g + k·(g − g_{t−1})                 eq. 3, a MARS-style gradient correction
    m    ← β1·m + (1−β1)·g_vr                  eq. 4
    v    ← β2·v + (1−β2)·g²                    eq. 5: the *raw* gradient, as printed
    p    ← p − η_t·m/(√v + ε)                  eq. 2
    g_{t−1} ← g

Legend: g gradient, g_vr variance-reduced gradient, p parameter, m first moment, v second moment,
η_t the step size, s_p the per-group scale, λ weight decay.

Interpretations (each where the paper is silent):

* **η_t = η·s_p** (1.1 for attention, 1.0 elsewhere) is a per-group learning rate. Inside the
  optimizer η_t is simply ``group['lr']``: :func:`optarena.optim.create` applies s_p through the
  registry's ``lr_scale`` role default; direct users give each group its own ``lr``. A schedule
  multiplies group['lr'] as usual.
* **g_{t−1} at t = 1** does not exist; we take g_0 = g_1, so the correction is 0 on the first step
  and m_1 = (1−β1)·g_1 as in Adam. MARS's zero initialisation would multiply the first gradient by
  1 + k ≈ 2.7 (defaults), a spike in the first update exactly where the paper promises stability.
* **Bias correction**: eq. 2 has none, so ``bias_correction=False`` (default) is exact to the paper;
  ``bias_correction=True`` applies Adam's in torch's convention, m̂/(√v̂ + ε) (torch.optim.AdamW),
  so that SVRM(γ=0, bias_correction=True) *is* AdamW, a composition identity the tests check.
* **Weight decay 0.1** is the paper's, with AdamW as its baseline: decoupled, p·(1 − lr·λ) before
  the update, torch AdamW's order.
* **g_{t−1}** is a copy held in state (three buffers: m, v, g_prev), never a reference to p.grad.
"""

from __future__ import annotations

from typing import Any

import torch

from . import _checks as C
from . import _pieces as P
from ._lowp import default_state_dtype
from .base import ArenaOptimizer


class SVRM(ArenaOptimizer):
    """Adam on a gradient-difference-corrected first moment; three state buffers."""

    def __init__(self, params: Any, lr: float = 3e-4, betas: tuple[float, float] = (0.85, 0.98),
                 gamma: float = 0.3, eps: float = 1e-8, weight_decay: float = 0.1,
                 bias_correction: bool = False,
                 state_dtype: torch.dtype | str | None = None) -> None:
        defaults = dict(lr=lr, betas=C.as_tuple(betas), gamma=gamma, eps=eps, weight_decay=weight_decay,
                        bias_correction=bias_correction, state_dtype=state_dtype)
        super().__init__(params, defaults)

    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
        C.check_betas(owner, hp["betas"], 2)
        C.check_number(owner, "gamma", hp["gamma"], C.NONNEGATIVE)
        C.check_number(owner, "eps", hp["eps"], C.POSITIVE)
        C.check_number(owner, "weight_decay", hp["weight_decay"], C.NONNEGATIVE)
        C.check_choice(owner, "bias_correction", hp["bias_correction"], (False, True))

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["exp_avg"] = self.zeros(p)
        state["exp_avg_sq"] = self.zeros(p)
        # g_0 := g_1: no correction on the first step (see the module docstring); the shell creates
        # the state on the first step, with that step's gradient at hand.
        state["prev_grad"] = p.grad.to(default_state_dtype(p), copy=True)

    def _scope(self, group: dict[str, Any]) -> str:
        return "coordinate"

    def _coefficients(self, group: dict[str, Any], t: int) -> dict[str, float | None]:
        # eq. 2 as printed, u = m/(√v + ε), unless bias_correction asks for torch AdamW's convention
        betas = group["betas"] if group["bias_correction"] else None
        return {"decay": P.decay_factor(group["lr"], group["weight_decay"]),
                **P.adam_coefficients(group["lr"], group["eps"], betas, t, "torch")}

    def _update(self, group, c, params, grads, states) -> None:
        beta1, beta2 = group["betas"]
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        g_prev = [s["prev_grad"] for s in states]
        P.decay_(params, c["decay"])
        k = group["gamma"] * beta1 / (1.0 - beta1)
        # lerp extrapolates for weight 1 + k > 1: g_prev + (1+k)·(g − g_prev) = g + k·(g − g_prev)
        g_vr = torch._foreach_lerp(g_prev, grads, 1.0 + k)
        P.ema_(m, g_vr, 1.0 - beta1)
        P.ema_sq_(v, grads, beta2)
        P.copy_(g_prev, grads)
        P.addcdiv_(params, m, P.adam_denominator(v, c["eps"]), c["step"])
