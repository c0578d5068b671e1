"""Dynamic Momentum Scaling, DMS ("Dynamic Momentum Scaling: A Comprehensive Empirical Study", Aardvark,
2025-11-04; no arXiv id, no official code).

Per step and per parameter tensor, the paper's pseudocode §3.3 (eqs. 1–5)::

    p   ← p·(1 − lr·λ)                       decoupled weight decay (the paper uses λ = 0)
    g   ← clip(g, c)                          per-tensor L2 clipping, c = 1.0 in the paper
    m_f ← β1·m_f + (1−β1)·g                   "fast" buffer
    m_s ← β2·m_s + (1−β2)·g                   "slow" buffer
    α   ← α_base + α_scale·(1 − exp(−‖g‖/τ))  ‖g‖: L2 norm of this tensor's *clipped* gradient
    m   ← α·m_f + (1−α)·m_s
    p   ← p − lr·m

Legend: g gradient, p parameter, m_f/m_s the two momentum buffers, α the mixing weight.

Interpretations where the paper is silent or contradicts itself:

* **Which β is fast.** §3.1 says "β1 > β2", but Table 1 has β1 < β2 (attention 0.85/0.90, FFN
  0.80/0.95) with β1 on the *fast* buffer. We follow the table: ``betas[0]`` drives m_f, the buffer
  α weights, and a smaller β is a shorter memory, i.e. faster. β1 ≤ β2 is *not* enforced: the rule is
  well defined either way, β1 > β2 is the text's reading, and β1 = β2 is the single-EMA ablation.
* **Clipping granularity.** "clip(g, 1.0)" is read as per-tensor L2-norm clipping inside the step,
  since the paper works "for each parameter θ" (``_pieces.clipped_by_norm``, torch's 1e-6 guard).
  ``clip=None`` turns it off. This is on top of any global clipping the training loop does.
* **‖g‖ in α** is the L2 norm of the clipped gradient of the tensor (step (e) follows step (b)), so
  with c = τ = 1 α spans at most [α_base, α_base + α_scale·(1 − e^{−1})].
* **τ** is never given in the paper; default 1.0, which with c = 1 keeps α sensitive over the whole
  range of clipped norms.
* **Defaults** are Table 1's FFN column; the registry's role defaults give attention its column
  (including lr 9e-3 = 1.5× via ``lr_scale``). No bias correction: the paper has none.

With clipping, DMS is momentum SGD (an α-weighted pair of EMAs) on per-tensor clipped gradients: there
is no per-coordinate normalisation, so its lr must suit the loss's curvature like SGD's.
"""

from __future__ import annotations

from typing import Any

import torch

from . import _checks as C
from . import _pieces as P
from .base import ArenaOptimizer


class DMS(ArenaOptimizer):
    """Two EMAs of the clipped gradient mixed by a gradient-norm-dependent weight α; two state buffers."""

    def __init__(self, params: Any, lr: float = 6e-3, betas: tuple[float, float] = (0.80, 0.95),
                 alpha_base: float = 0.3, alpha_scale: float = 0.2, tau: float = 1.0,
                 clip: float | None = 1.0, weight_decay: float = 0.0,
                 state_dtype: torch.dtype | str | None = None) -> None:
        defaults = dict(lr=lr, betas=C.as_tuple(betas), alpha_base=alpha_base, alpha_scale=alpha_scale,
                        tau=tau, clip=clip, weight_decay=weight_decay, state_dtype=state_dtype)
        super().__init__(params, defaults)

    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
        C.check_betas(owner, hp["betas"], 2)
        C.check_number(owner, "alpha_base", hp["alpha_base"], C.UNIT_CLOSED)
        C.check_number(owner, "alpha_scale", hp["alpha_scale"], C.UNIT_CLOSED)
        # α ranges over [α_base, α_base + α_scale); α ∈ [0, 1] keeps m a convex combination of the two
        # buffers, i.e. still an average of past gradients rather than an extrapolation.
        C.check_number(owner, "alpha_base + alpha_scale", hp["alpha_base"] + hp["alpha_scale"],
                       C.UNIT_CLOSED)
        C.check_number(owner, "tau", hp["tau"], C.POSITIVE)
        C.check_optional(owner, "clip", hp["clip"], C.POSITIVE)
        C.check_number(owner, "weight_decay", hp["weight_decay"], C.NONNEGATIVE)

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["exp_avg_fast"] = self.zeros(p)
        state["exp_avg_slow"] = self.zeros(p)

    def _scope(self, group: dict[str, Any]) -> str:
        return "tensor"  # the clip and α read the tensor's gradient norm

    def _coefficients(self, group: dict[str, Any], t: int) -> dict[str, float | None]:
        return {"decay": P.decay_factor(group["lr"], group["weight_decay"]), "step": -group["lr"]}

    def _update(self, group, c, params, grads, states) -> None:
        beta1, beta2 = group["betas"]
        m_f = [s["exp_avg_fast"] for s in states]
        m_s = [s["exp_avg_slow"] for s in states]
        P.decay_(params, c["decay"])
        # One norm per tensor serves the clip and α: ‖clip(g)‖ = ‖g‖·scale, without a second pass.
        # clip=None reads the gradients directly: they are only read, so no copy is needed.
        norms = torch._foreach_norm(grads)
        g = grads
        if group["clip"] is not None:
            scales = P.clip_scales(norms, group["clip"])
            g = torch._foreach_mul(grads, scales)
            norms = torch._foreach_mul(norms, scales)
        P.ema_(m_f, g, 1.0 - beta1)
        P.ema_(m_s, g, 1.0 - beta2)
        alpha = self._alphas(group, norms)
        # m = m_s + α·(m_f − m_s) = α·m_f + (1−α)·m_s. A lerp per tensor: foreach lerp with one weight
        # tensor per tensor runs these same per-tensor lerps eagerly, and inside a fused graph it has
        # no lowering (a separate pass over every m), where the per-tensor lerp fuses.
        m = [torch.lerp(s, f, a) for s, f, a in zip(m_s, m_f, alpha)]
        P.add_(params, m, c["step"])

    @staticmethod
    def _alphas(group: dict[str, Any], norms: list[torch.Tensor]) -> list[torch.Tensor]:
        """α = α_base + α_scale·(1 − e^{−‖g‖/τ}) per tensor, as 0-d tensors (no host sync)."""
        a = torch._foreach_mul(norms, -1.0 / group["tau"])
        torch._foreach_expm1_(a)  # e^{−x} − 1, accurate for small ‖g‖/τ
        torch._foreach_mul_(a, -group["alpha_scale"])
        torch._foreach_add_(a, group["alpha_base"])
        return a
