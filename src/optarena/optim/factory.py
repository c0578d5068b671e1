"""``create``: one call from a registry name (or any optimizer class path) to a ready optimizer.

Given a model, it builds the parameter groups itself: one group per role (see :mod:`.partition`),
no weight decay on embeddings, norms and biases unless a role override says otherwise, the entry's
per-role defaults (DMS's attention/FFN settings, SVRM's attention LR scale), and Muon's routing
(hidden matrices to Newton–Schulz, the rest to the inner AdamW of the same optimizer object).

Role overrides are ``roles={"attention": {"lr_scale": 1.1, ...}, ...}``: ``lr_scale`` (a number >= 0)
multiplies the group's learning rates; any other key becomes a group hyperparameter. optarena's
optimizers check their values per group; the torch.optim baselines are checked here alike
(:mod:`.baselines`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from . import _checks as C
from .baselines import check_arguments, check_groups
from .partition import DEFAULT_RULES, NO_DECAY_ROLES, ROLES, Rule, assign_roles
from .registry import OptimizerSpec, get_spec, import_target

# group keys that carry weight decay; whichever the class accepts is zeroed for no-decay roles.
_DECAY_KEYS = ("weight_decay", "omega", "adamw_weight_decay")
_LR_KEYS = ("lr", "adamw_lr")


def accepted_hyperparameters(cls: type) -> list[str]:
    sig = inspect.signature(cls.__init__)
    return [n for n, p in sig.parameters.items()
            if n not in ("self", "params") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def class_defaults(cls: type) -> dict[str, Any]:
    sig = inspect.signature(cls.__init__)
    return {n: p.default for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def _resolve(name: str) -> tuple[type, OptimizerSpec | None]:
    if isinstance(name, str) and ("." in name or ":" in name):
        cls = import_target(name)
        if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
            raise ValueError(f"{name!r} is not a torch.optim.Optimizer subclass")
        return cls, None
    spec = get_spec(name)
    return spec.resolve(), spec


def create(name: str, params_or_model: nn.Module | Iterable[Any], *,
           roles: Mapping[str, Mapping[str, Any]] | None = None,
           rules: tuple[Rule, ...] = DEFAULT_RULES, **hyperparameters: Any) -> Optimizer:
    """Build optimizer ``name`` (see :func:`names`) over a model or an iterable of parameters/groups."""
    cls, spec = _resolve(name)
    accepted = accepted_hyperparameters(cls)
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise ValueError(f"{name}: unknown hyperparameter(s) {', '.join(unknown)}; "
                         f"accepted: {', '.join(accepted)}")
    kwargs = {**(spec.preset if spec else {}), **hyperparameters}
    full = {**class_defaults(cls), **kwargs}
    check_arguments(cls, full)  # torch.optim baselines; optarena's optimizers check themselves
    if not isinstance(params_or_model, nn.Module):
        if roles:
            raise ValueError("role overrides need a model (nn.Module), not a list of parameters")
        return check_groups(cls(params_or_model, **kwargs))
    role_settings = _role_settings(spec, roles, accepted)
    groups = _build_groups(params_or_model, rules, role_settings, full, accepted,
                           routing=spec.routing if spec else None)
    return check_groups(cls(groups, **kwargs))


def _role_settings(spec: OptimizerSpec | None, roles: Mapping[str, Mapping[str, Any]] | None,
                   accepted: list[str]) -> dict[str, dict[str, Any]]:
    roles = dict(roles or {})
    bad = sorted(set(roles) - set(ROLES))
    if bad:
        raise ValueError(f"unknown role(s) {', '.join(bad)}; roles are: {', '.join(ROLES)}")
    settings: dict[str, dict[str, Any]] = {}
    for role in ROLES:
        s: dict[str, Any] = {k: 0.0 for k in _DECAY_KEYS if k in accepted} if role in NO_DECAY_ROLES else {}
        s.update(spec.role_defaults.get(role, {}) if spec else {})
        s.update(roles.get(role, {}))
        unknown = sorted(set(s) - set(accepted) - {"lr_scale"})
        if unknown:
            raise ValueError(f"role {role!r}: unknown setting(s) {', '.join(unknown)}; "
                             f"accepted: lr_scale, {', '.join(accepted)}")
        C.check_number(f"role {role!r}", "lr_scale", s.get("lr_scale", 1.0), C.NONNEGATIVE)
        settings[role] = s
    return settings


def _build_groups(model: nn.Module, rules: tuple[Rule, ...], settings: dict[str, dict[str, Any]],
                  kwargs: dict[str, Any], accepted: list[str], routing: str | None) -> list[dict[str, Any]]:
    groups = []
    for role, named in assign_roles(model, rules).items():
        for sub, params in _route(role, named, routing):
            group = {k: v for k, v in settings[role].items() if k != "lr_scale"}
            scale = settings[role].get("lr_scale", 1.0)
            for key in _LR_KEYS:
                if key in accepted and scale != 1.0 and kwargs.get(key) is not None:
                    group[key] = _scaled(group.get(key, kwargs[key]), scale)
            group.update(params=params, role=role, **sub)
            groups.append(group)
    return groups


def _scaled(lr: Any, scale: float) -> Any:
    # Anything but a number is left as it is, for the optimizer's own check to name (lr='abc').
    return lr * scale if torch.is_tensor(lr) or isinstance(lr, (int, float)) and not isinstance(lr, bool) else lr


def _route(role: str, named: list[tuple[str, nn.Parameter]], routing: str | None):
    """Split a role's parameters for Muon: hidden matrices (2-D+, not embedding/head) to Newton–Schulz."""
    if routing != "muon":
        return [({}, [p for _, p in named])]
    hidden = role not in ("embedding", "head")
    ns = [p for _, p in named if hidden and p.ndim >= 2]
    rest = [p for _, p in named if not (hidden and p.ndim >= 2)]
    return [(dict(use_muon=flag), ps) for flag, ps in ((True, ns), (False, rest)) if ps]
