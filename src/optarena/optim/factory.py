"""``create``: one call from a registry name (or any optimizer class path) to a ready optimizer.

Given a model, it builds the parameter groups itself: one group per role (see :mod:`.partition`),
no weight decay on embeddings, norms and biases unless a role override says otherwise, the entry's
per-role defaults (DMS's attention/FFN settings, SVRM's attention LR scale), and the entry's routing
(Muon's: hidden matrices to Newton–Schulz, the rest to the inner AdamW of the same optimizer object).
Which arguments are the weight decay and the learning rates is the registry entry's to say.

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
from .registry import OptimizerSpec, Routing, argument_names, get_spec, import_target


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
        return check_groups(_build(cls, spec, params_or_model, kwargs))
    names = spec or argument_names(cls)
    decay_keys = [k for k in names.decay_keys if k in accepted]  # zeroed for the no-decay roles
    role_settings = _role_settings(spec, roles, accepted, decay_keys)
    groups = _build_groups(params_or_model, rules, role_settings, full,
                           [k for k in names.lr_keys if k in accepted], names.routing)
    return check_groups(_build(cls, spec, groups, kwargs))


def _build(cls: type, spec: OptimizerSpec | None, params: Any, kwargs: dict[str, Any]) -> Optimizer:
    """``cls(params, **kwargs)``, its errors named by the registry name the user gave where the class
    has another name (AdamFamily serves grams and cautious-adamw, Lion cautious-lion): "grams: invalid
    eps=0", not "AdamFamily: ...". A class given by path, or named as its entry (Lion for lion), keeps
    its messages."""
    try:
        return cls(params, **kwargs)
    except ValueError as e:
        message, plain = str(e), lambda n: n.lower().replace("-", "").replace("_", "")
        if spec is None or plain(spec.name) == plain(cls.__name__) or not message.startswith(cls.__name__):
            raise
        raise ValueError(spec.name + message[len(cls.__name__):]) from e


def _role_settings(spec: OptimizerSpec | None, roles: Mapping[str, Mapping[str, Any]] | None,
                   accepted: list[str], decay_keys: list[str]) -> dict[str, dict[str, Any]]:
    roles = dict(roles or {})
    bad = sorted(set(roles) - set(ROLES))
    if bad:
        raise ValueError(f"unknown role(s) {', '.join(bad)}; roles are: {', '.join(ROLES)}")
    settings: dict[str, dict[str, Any]] = {}
    for role in ROLES:
        s: dict[str, Any] = {k: 0.0 for k in decay_keys} if role in NO_DECAY_ROLES else {}
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
                  kwargs: dict[str, Any], lr_keys: list[str], routing: Routing | None) -> list[dict[str, Any]]:
    groups = []
    for role, named in assign_roles(model, rules).items():
        for sub, params in routing(role, named) if routing else [({}, [p for _, p in named])]:
            group = {k: v for k, v in settings[role].items() if k != "lr_scale"}
            scale = settings[role].get("lr_scale", 1.0)
            for key in lr_keys:
                if scale != 1.0 and kwargs.get(key) is not None:
                    group[key] = _scaled(group.get(key, kwargs[key]), scale)
            group.update(params=params, role=role, **sub)
            groups.append(group)
    return groups


def _scaled(lr: Any, scale: float) -> Any:
    # Anything but a number is left as it is, for the optimizer's own check to name (lr='abc').
    return lr * scale if torch.is_tensor(lr) or isinstance(lr, (int, float)) and not isinstance(lr, bool) else lr

