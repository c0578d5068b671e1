"""ADana and its variants Dana-MK4, Dana-Star, Dana-Star-MK4 (Ferbach et al., arXiv 2602.05298).

Exact to the authors' code, github.com/mlexpos/adana: HEAD 3eef26f for
``src/optim/adana.py`` and ``src/optim/dana_star_mk4.py``; for ADana itself the paper-era class
``DANA_STAR_NO_TAU`` (``src/optim/ablation.py`` before the refactor 21157c2), which produced the runs
the paper plots as "ADANA". Legend: g gradient, p parameter, m and v the log-time moments, τ the
activity estimate, D = √v + ε, γ(t) = ``group['lr']`` (the scheduled LR), s(t) = γ(t)/γ*, with γ* the
peak LR (``group['peak_lr']``), t the step (1 on the first update). Per step::

    c   = δ/(δ+t)                               log-time EMA weight; no bias correction (buffers start at 0)
    m  ← (1−c)·m + c·g
    v  ← (1−c)·v + c·g²
    λ   = ω·s(t)/(⌊T/10⌋ + t)                   log-time weight decay (independent: no γ*)

    ADana (clipsnr=None, tau=False): the README / paper form, DANA_STAR_NO_TAU
        p ← p·(1 − λ)                           decay BEFORE the step, as that class does
        p ← p − γ(t)·[g + γ3·(1+t)^(1−κ)·m]/D

    Dana-MK4 (clipsnr=c, tau=False): adana.py with clipsnr, = paper-era DANA_MK4
        a   = min((1+t)^(1−κ)·|m|/D, c)
        p ← p − γ(t)·[g/D + γ3·(sign(m)·a + m/D)]
        p ← p·(1 − λ)                           decay AFTER the step, as that code does

    Dana-Star(-MK4) (tau=True; clipsnr=None or c): dana_star_mk4.py
        τ  ← (1−c)·τ + c·|g|/(|g| + D)
        r   = max(min(τ,½)/(1 − min(τ,½)), 1/(1+t))     estimate of the activity probability
        N   = √r/D,  T_eff = max(τ·t, 1)
        a   = T_eff^(1−κ)·|m|·N/r               [MK4: min(·, c)]
        p ← p − γ(t)·[g·N + γ3·sign(m)·(r·a + |m|·N)]
        p ← p·(1 − λ)

γ3 is ``gamma3_factor`` (1 in every published run). Interpretations where the sources disagree:

* ADana is the README/paper rule, not today's adana.py: that file adds an extra +m/D (coefficient
  (1+t)^(1−κ) + 1), the paper-era class does not, and the paper's ADana curves came from the latter.
* Dana-MK4 keeps the +m/D term: both the paper-era DANA_MK4 and today's adana.py have it, and the
  dana-mk4 runs used that code. So clipsnr → ∞ does *not* give ADana: ``clipsnr=math.inf`` gives
  today's unclipped adana.py instead (γ(t)·[g + γ3·((1+t)^(1−κ) + 1)·m]/D, decay after).
* Dana-Star without a clip follows today's dana_star_mk4.py (clipsnr=None), not the older, different
  DANA_STAR of dana_star.py.
* The decay order follows each source (before for ADana, after for the others). The two orders differ
  by λ·γ(t)·u per step, a second-order difference, but this file reproduces its sources exactly.
* T = ``total_steps`` is needed only for the decay; ``omega=0`` runs without it. The authors' launcher
  sets ω = 4, δ = 8, κ = 0.85, ε = 1e-8 and (MK4) clipsnr = 2 (mlexpos/adana@3eef26f ``scripts/launch.sh``).

Each sign(m)·min(K·|m|·N/r, c)·r is computed as clamp(K·m·N, −c·r, c·r): the same number, one pass.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from . import _checks as C
from . import _logtime as L
from . import _pieces as P
from .base import ArenaOptimizer

CLIPSNR = C.Interval(0.0, math.inf, "(]")  # inf: no clip, but the MK4 code form (see the docstring)


class ADana(ArenaOptimizer):
    """ADana; ``clipsnr`` gives Dana-MK4, ``tau=True`` Dana-Star, both Dana-Star-MK4."""

    records_peak_lr = True

    def __init__(self, params: Any, lr: float = 1e-3, kappa: float = 0.85, delta: float = 8.0,
                 omega: float = 4.0, eps: float = 1e-8, clipsnr: float | None = None, tau: bool = False,
                 total_steps: int | None = None, gamma3_factor: float = 1.0,
                 state_dtype: torch.dtype | str | None = None) -> None:
        defaults = dict(lr=lr, kappa=kappa, delta=delta, omega=omega, eps=eps, clipsnr=clipsnr, tau=tau,
                        total_steps=total_steps, gamma3_factor=gamma3_factor, state_dtype=state_dtype)
        super().__init__(params, defaults)

    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
        L.check(owner, hp, "log-time weight decay needs it; or pass omega=0" if hp["omega"] != 0 else None)
        C.check_number(owner, "eps", hp["eps"], C.POSITIVE)
        C.check_optional(owner, "clipsnr", hp["clipsnr"], CLIPSNR)
        C.check_choice(owner, "tau", hp["tau"], (False, True))
        C.check_number(owner, "gamma3_factor", hp["gamma3_factor"], C.NONNEGATIVE)

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        state["m"] = self.zeros(p)
        state["v"] = self.zeros(p)
        if group["tau"]:  # Dana-Star's activity estimate: the only variant that needs a third buffer
            state["tau"] = self.zeros(p)

    def _scope(self, group: dict[str, Any]) -> str:
        return "coordinate"

    def _coefficients(self, group: dict[str, Any], t: int) -> dict[str, float | None]:
        ema = L.ema_weights(group["delta"], [t])[0]
        lr, g3 = group["lr"], group["gamma3_factor"]
        c = {"ema": ema, "beta": 1.0 - ema, "decay": P.logtime_factor(group, t), "step": -lr}
        if group["tau"]:  # the floor of r, and t itself for T_eff = max(τ·t, 1)
            return {**c, "floor": 1.0 / (1 + t), "t": float(t), "step_m": -lr * g3}
        k = (1 + t) ** (1 - group["kappa"])
        if group["clipsnr"] is None:  # ADana: the damping K folded into the momentum's step
            return {**c, "step_m": -lr * g3 * k}
        # Dana-MK4: clamp(K·m/D, ±c) = K·clamp(m/D, ±c/K), K folded into the clipped term's step
        return {**c, "bound": group["clipsnr"] / k, "step_clipped": -lr * g3 * k, "step_m": -lr * g3}

    def _update(self, group, c, params, grads, states) -> None:
        m = [s["m"] for s in states]
        v = [s["v"] for s in states]
        P.ema_(m, grads, c["ema"])
        P.ema_sq_(v, grads, c["beta"])
        d = torch._foreach_sqrt(v)
        torch._foreach_add_(d, group["eps"])  # D = √v + ε, ε outside the root as in the code
        if group["tau"]:
            _star_step(group, c, params, grads, m, d, [s["tau"] for s in states])
        elif group["clipsnr"] is None:
            _adana_step(c, params, grads, m, d)
        else:
            _mk4_step(c, params, grads, m, d)


def _adana_step(c, params, grads, m, d):
    """ADana, the paper form: p ← p·(1 − λ), then p ← p − γ(t)·[g + γ3·K·m]/D with K = (1+t)^(1−κ)."""
    P.decay_(params, c["decay"])
    if torch.compiler.is_compiling():  # fused: one division a coordinate, not two (perf_cpu.md)
        inv = torch._foreach_reciprocal(d)
        P.addcmul_(params, grads, inv, c["step"])
        P.addcmul_(params, m, inv, c["step_m"])
    else:
        P.addcdiv_(params, grads, d, c["step"])
        P.addcdiv_(params, m, d, c["step_m"])


def _mk4_step(c, params, grads, m, d):
    """Dana-MK4: p ← p − γ(t)·[g/D + γ3·(clamp(K·m/D, ±c) + m/D)], then p ← p·(1 − λ)."""
    if torch.compiler.is_compiling():  # fused: one division a coordinate, not two (perf_cpu.md)
        inv = torch._foreach_reciprocal(d)
        mn = torch._foreach_mul(m, inv)
        P.addcmul_(params, grads, inv, c["step"])
    else:
        mn = torch._foreach_div(m, d)
        P.addcdiv_(params, grads, d, c["step"])
    clipped = [torch.clamp(x, -c["bound"], c["bound"]) for x in mn]  # the damped Nesterov term, over K
    P.add_(params, clipped, c["step_clipped"])
    P.add_(params, mn, c["step_m"])  # the codes' extra undamped m/D term (see the module docstring)
    P.decay_(params, c["decay"])


def _star_step(group, c, params, grads, m, d, taus):
    """Dana-Star(-MK4): the τ update, N = √r/D and K = T_eff^(1−κ) (``dana_star_mk4.py``), then
    p ← p − γ(t)·[g·N + γ3·(x + m·N)] with x = K·m·N (clipped to ±c·r for MK4), then p ← p·(1 − λ)."""
    ratio = torch._foreach_abs(grads)
    torch._foreach_div_(ratio, torch._foreach_add(ratio, d))  # |g|/(|g| + √v + ε)
    P.ema_(taus, ratio, c["ema"])
    r = torch._foreach_clamp_max(taus, 0.5)
    torch._foreach_div_(r, torch._foreach_add(torch._foreach_neg(r), 1.0))  # min(τ,½)/(1 − min(τ,½))
    # τ is faithful only for activity p ≳ 1/t, hence the floor (the authors' JAX comments)
    P.clamp_min_(r, c["floor"])
    k = torch._foreach_mul(taus, c["t"])
    torch._foreach_clamp_min_(k, 1.0)  # T_eff = max(τ·t, 1) uses the raw τ
    P.pow_(k, 1 - group["kappa"])
    n = torch._foreach_sqrt(r)
    torch._foreach_div_(n, d)
    P.addcmul_(params, grads, n, c["step"])
    if group["clipsnr"] is None:  # x + m·N = (K + 1)·m·N
        torch._foreach_add_(k, 1.0)
        torch._foreach_mul_(k, m)
        P.addcmul_(params, k, n, c["step_m"])
    else:
        mn = torch._foreach_mul(m, n)
        x = torch._foreach_mul(mn, k)
        for xi, bound in zip(x, torch._foreach_mul(r, group["clipsnr"])):  # clamp(K·m·N, ±c·r), one pass
            xi.clamp_(min=torch.neg(bound), max=bound)
        torch._foreach_add_(x, mn)
        P.add_(params, x, c["step_m"])
    P.decay_(params, c["decay"])

