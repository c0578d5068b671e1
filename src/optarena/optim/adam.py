"""The Adam family: one update rule, its published variants as flags.

Per step, with t the step count, bc_i = 1 − β_i^t (arXiv 1412.6980, 1711.05101)::

    m ← β1·m + (1−β1)·g
    v ← β2·v + (1−β2)·g²
    u ← m̂/(√v̂ + ε)                      eps_style "torch" or "hf" (see _pieces.adam_coefficients)
    u ← sign(g) ⊙ |u|                    grams=True     (Cao, Li, Song, arXiv 2412.17107)
    u ← u ⊙ mask(u ⊙ g > 0)·scale        caution=True   (Liang et al., arXiv 2411.16085)
    p ← p − lr·u

Weight decay is decoupled (``weight_decay`` λ: p ← p·(1 − lr·λ) before the update, torch AdamW) or,
with ``wd_schedule="logtime"``, the log-time decay of arXiv 2602.05298 §1.5 applied after the update:
p ← p·(1 − ω·s(t)/(⌊T/10⌋ + t)), which needs ``total_steps`` T and ``omega`` ω.

Registry entries built on it: ``grams`` (grams=True, eps_style="hf", eps=1e-6: the official code,
Gunale0926/Grams@f91a375), ``cautious-adamw`` (caution=True, eps_style="hf", eps=1e-6: C-Optim's
per-parameter path, kyleliang919/C-Optim@2c0517c), ``adamw-logtime-wd``.

Sign convention: torch.sign(0) = 0, so Grams leaves coordinates with a zero gradient where they are,
as the official code does.
"""

from __future__ import annotations

from typing import Any

import torch

from . import _checks as C
from . import _pieces as P
from .base import ArenaOptimizer

EPS_STYLES = ("torch", "hf")
WD_SCHEDULES = ("constant", "logtime")


class AdamFamily(ArenaOptimizer):
    """Adam with decoupled weight decay and the Grams / cautious / log-time-decay variants as flags."""

    records_peak_lr = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, eps_style: str = "torch",
                 grams: bool = False, caution: bool = False, mask_norm: str = "mean",
                 wd_schedule: str = "constant", omega: float = 4.0,
                 total_steps: int | None = None,
                 state_dtype: torch.dtype | str | None = None) -> None:
        defaults = dict(lr=lr, betas=C.as_tuple(betas), eps=eps, weight_decay=weight_decay,
                        eps_style=eps_style, grams=grams, caution=caution, mask_norm=mask_norm,
                        wd_schedule=wd_schedule, omega=omega, total_steps=total_steps, state_dtype=state_dtype)
        super().__init__(params, defaults)

    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
        C.check_betas(owner, hp["betas"], 2)
        C.check_number(owner, "eps", hp["eps"], C.POSITIVE)
        C.check_number(owner, "weight_decay", hp["weight_decay"], C.NONNEGATIVE)
        C.check_choice(owner, "eps_style", hp["eps_style"], EPS_STYLES)
        C.check_choice(owner, "mask_norm", hp["mask_norm"], P.MASK_NORMS)
        C.check_choice(owner, "wd_schedule", hp["wd_schedule"], WD_SCHEDULES)
        if hp["wd_schedule"] == "logtime":
            C.check_number(owner, "omega", hp["omega"], C.NONNEGATIVE)
            C.check_total_steps(owner, hp["total_steps"])

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["exp_avg"] = self.zeros(p)
        state["exp_avg_sq"] = self.zeros(p)

    def _scope(self, group: dict[str, Any]) -> str:
        return "tensor" if group["caution"] else "coordinate"  # caution's scale is a mean over the tensor

    def _coefficients(self, group: dict[str, Any], t: int) -> dict[str, float | None]:
        lr, logtime = group["lr"], group["wd_schedule"] == "logtime"
        return {"decay": None if logtime else P.decay_factor(lr, group["weight_decay"]),  # before the step
                "logtime_decay": P.logtime_factor(group, t) if logtime else None,  # after it
                **P.adam_coefficients(lr, group["eps"], group["betas"], t, group["eps_style"])}

    def _update(self, group, c, params, grads, states) -> None:
        P.decay_(params, c["decay"])
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        P.adam_moments_(m, v, grads, group["betas"])
        d = P.adam_denominator(v, c["eps"])
        if not (group["grams"] or group["caution"]):
            P.addcdiv_(params, m, d, c["step"])
        else:  # u = m/D; its positive scale, left in c["step"], changes neither signs nor the masks
            u = torch._foreach_div(m, d)
            if group["grams"]:
                torch._foreach_abs_(u)
                torch._foreach_mul_(u, torch._foreach_sign(grads))
            if group["caution"]:
                # without Grams, u = m/D has m's signs (D > 0), so the masks read m: the reduction that
                # must finish before the update then needs neither v nor the division (fused: one pass
                # over m and g instead of m, v and g; perf_cpu.md)
                signs = u if group["grams"] else m
                P.addcmul_(params, u, P.caution_masks(signs, grads, group["mask_norm"]), c["step"])
            else:
                P.add_(params, u, c["step"])
        P.decay_(params, c["logtime_decay"])
