"""Log-time hyperparameters shared by ADana and log-time AdEMAMix (arXiv 2602.05298, mlexpos/adana@3eef26f).

κ sets the damping exponent (α(t) = (1+t)^(1−κ) in ADana, α = T^(1−κ) in AdEMAMix), δ the log-time
EMA (c_t = δ/(δ+t), or β3 = 1 − δ/T), ω the log-time weight decay λ(t) = ω·s(t)/(⌊T/10⌋+t), whose
run length T is ``total_steps`` (see ``_pieces.logtime_rate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _checks as C

KAPPA = C.Interval(0.0, 1.0, "(]")  # κ = 1 switches the damping off; κ ≤ 0 is not a damping


def check(owner: str, hp: dict[str, Any], needs_total_steps: str | None) -> None:
    """Validate κ, δ, ω and T; ``needs_total_steps`` says why T is required here (None: it is not)."""
    C.check_number(owner, "kappa", hp["kappa"], KAPPA)
    C.check_number(owner, "delta", hp["delta"], C.POSITIVE)
    C.check_number(owner, "omega", hp["omega"], C.NONNEGATIVE)
    if needs_total_steps and hp["total_steps"] is None:
        raise ValueError(f"{owner}: invalid total_steps=None; expected an integer >= 1, the run length T "
                         f"({needs_total_steps})")
    if hp["total_steps"] is not None:
        C.check_total_steps(owner, hp["total_steps"])


def ema_weights(delta: float, step_list: Sequence[int]) -> list[float]:
    """The log-time EMA weights c_t = δ/(δ+t): buf ← (1−c_t)·buf + c_t·x (``src/optim/adana.py``)."""
    return [delta / (delta + t) for t in step_list]
