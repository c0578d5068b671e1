"""Hyperparameter checks for the torch.optim baselines of the registry (adam, adamw, rmsprop).

torch checks little: lr = inf and eps = 0 pass (and give NaN parameters), a group's own values are
not checked at all, betas of the wrong length raise an ``IndexError`` or fail at the first step, and
a string lr is a raw ``TypeError``. ``create`` runs these on the constructor's values and on every
parameter group, with the messages of optarena's own optimizers (:mod:`._checks`): argument, value
and valid range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim import Optimizer

from . import _checks as C


def _adam(owner: str, hp: dict[str, Any]) -> None:  # Adam and AdamW: the ranges of optim.adam
    C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
    C.check_betas(owner, hp["betas"], 2)
    C.check_number(owner, "eps", hp["eps"], C.POSITIVE)
    C.check_number(owner, "weight_decay", hp["weight_decay"], C.NONNEGATIVE)


def _rmsprop(owner: str, hp: dict[str, Any]) -> None:
    C.check_number(owner, "lr", hp["lr"], C.NONNEGATIVE)
    C.check_number(owner, "alpha", hp["alpha"], C.UNIT)  # alpha = 1 would freeze v at 0: u = g/eps
    C.check_number(owner, "eps", hp["eps"], C.POSITIVE)
    C.check_number(owner, "weight_decay", hp["weight_decay"], C.NONNEGATIVE)
    C.check_number(owner, "momentum", hp["momentum"], C.UNIT)


CHECKS: dict[type, Callable[[str, dict[str, Any]], None]] = {
    torch.optim.Adam: _adam, torch.optim.AdamW: _adam, torch.optim.RMSprop: _rmsprop,
}


def check_arguments(cls: type, hp: dict[str, Any]) -> None:
    """Check ``cls``'s constructor values (defaults and keywords) before it runs (torch's own checks
    would raise an ``IndexError`` or ``TypeError`` first); a class without a CHECKS entry passes."""
    check = CHECKS.get(cls)
    if check is not None:
        check(cls.__name__, _plain(hp))


def check_groups(opt: Optimizer) -> Optimizer:
    """Check each parameter group of a built optimizer (torch does not look at a group's own values)."""
    check = CHECKS.get(type(opt))
    for i, group in enumerate(opt.param_groups if check else []):
        role = f", role {group['role']!r}" if "role" in group else ""
        check(f"{type(opt).__name__} (param group {i}{role})", _plain(group))
    return opt


def _plain(hp: dict[str, Any]) -> dict[str, Any]:
    """One-element tensors (torch accepts a tensor lr and betas) as the numbers they hold."""
    def number(x: Any) -> Any:
        return x.item() if torch.is_tensor(x) and x.numel() == 1 else x

    out = {k: number(v) for k, v in hp.items() if k != "params"}
    if isinstance(out.get("betas"), (tuple, list)):
        out["betas"] = type(out["betas"])(number(b) for b in out["betas"])
    return out
