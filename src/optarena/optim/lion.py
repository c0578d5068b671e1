"""Lion (Chen et al., arXiv 2302.06675) and its cautious variant as a flag.

Per step (google/automl lion_pytorch.py)::

    p ← p·(1 − lr·λ)                         decoupled weight decay
    c ← β1·m + (1−β1)·g
    u ← sign(c)                               (torch.sign(0) = 0)
    u ← u ⊙ mask(u ⊙ g > 0)·scale             caution=True (Liang et al., arXiv 2411.16085)
    p ← p − lr·u
    m ← β2·m + (1−β2)·g

``cautious-lion`` uses C-Optim's own rule (kyleliang919/C-Optim@2c0517c c_lion.py): mask_norm="count",
scale = numel/(Σmask + 1), and betas (0.95, 0.98); see ``_pieces.caution_masks`` for the other rules.

A non-finite gradient freezes Lion silently, as it does the reference code: one NaN in g makes those
coordinates of m NaN for good (an inf does too, a step later, after moving the weight by lr), and
sign(NaN) = 0, so they never move again while the weights, and hence the loss, stay finite. Nothing
here checks for it, as that would cost a host sync per step: optarena's trainer stops the run at a
non-finite gradient norm, before the step (status "diverged", reason "non-finite gradient", see
optarena.train.divergence); outside it, check ``torch.nn.utils.clip_grad_norm_``'s result yourself.
"""

from __future__ import annotations

from typing import Any

import torch

from . import _checks as C
from . import _pieces as P
from .base import ArenaOptimizer


class Lion(ArenaOptimizer):
    """Lion with optional cautious masking; one state buffer per parameter."""

    def __init__(self, params: Any, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, caution: bool = False, mask_norm: str = "count",
                 state_dtype: torch.dtype | str | None = None) -> None:
        defaults = dict(lr=lr, betas=C.as_tuple(betas), weight_decay=weight_decay, caution=caution,
                        mask_norm=mask_norm, state_dtype=state_dtype)
        super().__init__(params, defaults)

    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
        C.check_betas(owner, hp["betas"], 2)
        C.check_number(owner, "weight_decay", hp["weight_decay"], C.NONNEGATIVE)
        C.check_choice(owner, "mask_norm", hp["mask_norm"], P.MASK_NORMS)

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["exp_avg"] = self.zeros(p)

    def _scope(self, group: dict[str, Any]) -> str:
        return "tensor" if group["caution"] else "coordinate"  # caution's scale is a mean over the tensor

    def _coefficients(self, group: dict[str, Any], t: int) -> dict[str, float | None]:
        return {"decay": P.decay_factor(group["lr"], group["weight_decay"]), "step": -group["lr"]}

    def _update(self, group, c, params, grads, states) -> None:
        beta1, beta2 = group["betas"]
        m = [s["exp_avg"] for s in states]
        P.decay_(params, c["decay"])
        u = torch._foreach_mul(m, beta1)
        torch._foreach_add_(u, grads, alpha=1.0 - beta1)  # β1·m + (1−β1)·g as the reference code, then sign
        torch._foreach_sign_(u)
        if group["caution"]:
            P.addcmul_(params, u, P.caution_masks(u, grads, group["mask_norm"]), c["step"])
        else:
            P.add_(params, u, c["step"])
        P.ema_(m, grads, 1.0 - beta2)
