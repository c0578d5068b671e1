"""StableMomentum ("Stable Momentum Optimization for Language Models: Analysis of a Negative Result",
Aardvark, 2025-10-23; no arXiv id, no official code).

Per step, with t the step count, bc_i = 1 − β_i^t (the paper's eqs. 1–3 plus our reading of v_t)::

    p  ← p·(1 − lr·λ)                      decoupled weight decay (optional; the paper names none)
    g' ← clip(g, c)                         per-tensor L2 clipping, c = τ = 1.0 in the paper
    m  ← β1·m + (1−β1)·g'
    v  ← β2·v + (1−β2)·g'²                  not defined in the paper: our reading
    p  ← p − η_t·m/(√v + ε),   η_t = lr·√bc2/bc1

Legend: g gradient, g' clipped gradient, p parameter, m first moment, v second moment.

Interpretations (the paper gives only eqs. 1–3 and a few numbers):

* **v_t** appears in eq. 3 but is never defined. We take the Adam second moment of the *clipped*
  gradient with β2 = 0.95 (the text's "optimal β1 = 0.9, β2 = 0.95 matched AdamW defaults"): m and v
  then describe the same signal, the one actually applied, so the update is normalised by the
  statistic of what it moves along. A consequence worth knowing: a clip factor that stayed constant
  over time would cancel in m/√v; clipping acts by reweighting steps relative to each other (while
  clipped, every step contributes a gradient of norm c), not by shrinking the step.
* **"η_t incorporates bias correction"** is read literally as Kingma & Ba's step-size form (arXiv
  1412.6980 §2): η_t = lr·√(1−β2^t)/(1−β1^t) with ε added to the uncorrected √v (the "hf" convention
  of ``_pieces.adam_coefficients``). Hence with ``clip=None`` StableMomentum *is*
  ``AdamFamily(eps_style="hf")``, a composition identity the tests check.
* **Clipping** is per-tensor L2-norm clipping inside the step (``_pieces.clipped_by_norm``, torch's
  1e-6 guard), the same piece as DMS; ``clip=None`` is the ablation's "None" row (which the paper
  reports as diverged; under this reading it is plain Adam, so that divergence came from elsewhere).
* **Weight decay** is not mentioned; it is offered decoupled (AdamW semantics), default 0.
"""

from __future__ import annotations

from typing import Any

import torch

from . import _checks as C
from . import _pieces as P
from .base import ArenaOptimizer


class StableMomentum(ArenaOptimizer):
    """Adam (bias correction in the step size) on per-tensor clipped gradients; two state buffers."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.95),
                 eps: float = 1e-8, clip: float | None = 1.0, weight_decay: float = 0.0,
                 state_dtype: torch.dtype | str | None = None) -> None:
        defaults = dict(lr=lr, betas=C.as_tuple(betas), eps=eps, clip=clip, weight_decay=weight_decay, state_dtype=state_dtype)
        super().__init__(params, defaults)

    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
        C.check_betas(owner, hp["betas"], 2)
        C.check_number(owner, "eps", hp["eps"], C.POSITIVE)
        C.check_optional(owner, "clip", hp["clip"], C.POSITIVE)
        C.check_number(owner, "weight_decay", hp["weight_decay"], C.NONNEGATIVE)

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["exp_avg"] = self.zeros(p)
        state["exp_avg_sq"] = self.zeros(p)

    def _scope(self, group: dict[str, Any]) -> str:
        return "coordinate" if group["clip"] is None else "tensor"  # the clip reads the tensor's norm

    def _coefficients(self, group: dict[str, Any], t: int) -> dict[str, float | None]:
        return {"decay": P.decay_factor(group["lr"], group["weight_decay"]),
                **P.adam_coefficients(group["lr"], group["eps"], group["betas"], t, "hf")}  # η_t = lr·√bc2/bc1

    def _update(self, group, c, params, grads, states) -> None:
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        P.decay_(params, c["decay"])
        # clip=None reads the gradients directly: they are only read, so no copy is needed.
        g = grads if group["clip"] is None else P.clipped_by_norm(grads, group["clip"])
        P.adam_moments_(m, v, g, group["betas"])
        P.addcdiv_(params, m, P.adam_denominator(v, c["eps"]), c["step"])
