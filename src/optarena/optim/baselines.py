"""Hyperparameter checks for the torch.optim baselines of the registry (adam, adamw, rmsprop).

torch checks little: lr = inf and eps = 0 pass (and give NaN parameters), a group's own values are
not checked at all, betas of the wrong length raise an ``IndexError`` or fail at the first step, and
a string lr is a raw ``TypeError``. ``create`` runs these on the constructor's values and on every
parameter group, with the messages of optarena's own optimizers (:mod:`._checks`): argument, value
and valid range. torch's ``load_state_dict`` checks nothing either (an lr of -1 or NaN in a saved
group loads silently, another optimizer's state is a bare ``KeyError`` at the first step): ``create``
gives each baseline a load pre-hook that checks the dict as ``ArenaOptimizer.load_state_dict`` does,
before anything is loaded.
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
# What a group needs to be one of these (the rest, e.g. foreach or fused, torch fills in on load).
KEYS = {_adam: ("lr", "betas", "eps", "weight_decay"),
        _rmsprop: ("lr", "alpha", "eps", "weight_decay", "momentum")}


def _adam_state(group: dict[str, Any]) -> set[str]:  # the buffers torch's Adam and AdamW keep
    return {"exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group.get("amsgrad") else set())


def _rmsprop_state(group: dict[str, Any]) -> set[str]:
    return ({"square_avg"} | ({"momentum_buffer"} if group.get("momentum", 0) > 0 else set())
            | ({"grad_avg"} if group.get("centered") else set()))


STATE = {_adam: _adam_state, _rmsprop: _rmsprop_state}


def check_arguments(cls: type, hp: dict[str, Any]) -> None:
    """Check ``cls``'s constructor values (defaults and keywords) before it runs (torch's own checks
    would raise an ``IndexError`` or ``TypeError`` first); a class without a CHECKS entry passes."""
    check = CHECKS.get(cls)
    if check is not None:
        check(cls.__name__, _plain(hp))


def check_groups(opt: Optimizer) -> Optimizer:
    """Check each parameter group of a built optimizer (torch does not look at a group's own values),
    and make its ``load_state_dict`` check what it is given (:func:`check_loadable`)."""
    check = CHECKS.get(type(opt))
    for i, group in enumerate(opt.param_groups if check else []):
        check(f"{type(opt).__name__} (param group {i}{_role(group)})", _plain(group))
    if check:
        opt.register_load_state_dict_pre_hook(check_loadable)
    return opt


def check_loadable(opt: Optimizer, state_dict: Any) -> None:
    """A load pre-hook: the dict given to ``opt.load_state_dict``, checked before anything is loaded,
    with the constructor's messages: its groups (a missing hyperparameter means another optimizer's
    state_dict; the values through CHECKS) and each parameter's state (its buffers' names against what
    ``opt`` keeps for the saved settings, their shapes against the parameter's)."""
    check, name = CHECKS[type(opt)], type(opt).__name__
    if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
        keys = f" with keys {', '.join(map(str, state_dict))}" if isinstance(state_dict, dict) else ""
        raise ValueError(f"{name}.load_state_dict: expected an optimizer state_dict with 'state' and "
                         f"'param_groups', got {type(state_dict).__name__}{keys}")
    saved_groups, states = state_dict["param_groups"], state_dict["state"]
    if not isinstance(saved_groups, list) or len(saved_groups) != len(opt.param_groups):
        count = len(saved_groups) if isinstance(saved_groups, list) else repr(saved_groups)
        raise ValueError(f"{name}.load_state_dict: the state_dict has {count} parameter groups, "
                         f"this optimizer {len(opt.param_groups)}")
    for i, (saved, group) in enumerate(zip(saved_groups, opt.param_groups)):
        owner = f"{name}.load_state_dict (param group {i}{_role(group)})"
        missing = [k for k in KEYS[check] if not isinstance(saved, dict) or k not in saved]
        if missing:
            raise ValueError(f"{owner}: the saved group lacks {', '.join(missing)}, which {name} keeps: "
                             "a state_dict of another optimizer?")
        check(owner, _plain(saved))
        params = group["params"]
        if len(saved.get("params", ())) != len(params):
            raise ValueError(f"{owner}: {len(saved.get('params', ()))} saved parameters, {len(params)} here")
        kept = STATE[check](saved)
        for j, (pid, p) in enumerate(zip(saved["params"], params)):
            entry = states.get(pid) or {}
            where = f"{owner}, parameter {j} of shape {tuple(p.shape)}"
            keys = set(entry) - {"step"}
            if keys and keys != kept:
                raise ValueError(f"{where}: the saved state has {', '.join(sorted(keys))}; {name} keeps "
                                 f"{', '.join(sorted(kept))}: a state_dict of another optimizer?")
            for key, value in entry.items():
                if key != "step" and torch.is_tensor(value) and value.shape != p.shape:
                    raise ValueError(f"{where}: state {key!r} has shape {tuple(value.shape)}, expected "
                                     f"{tuple(p.shape)}")


def _role(group: dict[str, Any]) -> str:
    return f", role {group['role']!r}" if "role" in group else ""


def _plain(hp: dict[str, Any]) -> dict[str, Any]:
    """One-element tensors (torch accepts a tensor lr and betas) as the numbers they hold."""
    def number(x: Any) -> Any:
        return x.item() if torch.is_tensor(x) and x.numel() == 1 else x

    out = {k: number(v) for k, v in hp.items() if k != "params"}
    if isinstance(out.get("betas"), (tuple, list)):
        out["betas"] = type(out["betas"])(number(b) for b in out["betas"])
    return out
