"""Assigning each trainable parameter of a model a role, by ordered first-match rules.

Roles: ``embedding``, ``head``, ``norm``, ``bias``, ``attention``, ``mlp``, ``other``. The default rules
read module types and names, so they work for optarena's own models (``embed``, ``layers.i.attn.*``,
``layers.i.mlp.*``, ``*norm``, ``lm_head``) and for most Hugging Face-style decoders. Building fails
unless every trainable parameter is claimed exactly once; a parameter shared by two modules (tied
embeddings) is claimed by its first name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

ROLES = ("embedding", "head", "norm", "bias", "attention", "mlp", "other")
NO_DECAY_ROLES = ("embedding", "norm", "bias")

_HEAD_NAMES = {"lm_head", "head", "output", "classifier"}
_ATTENTION_NAMES = {"attn", "attention", "self_attn"}
_MLP_NAMES = {"mlp", "ffn", "feed_forward", "ff"}


@dataclass(frozen=True)
class Rule:
    role: str
    matches: Callable[[str, nn.Module, torch.Tensor], bool]  # (qualified name, owning module, param)


def _path(name: str) -> list[str]:
    return name.split(".")[:-1]


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("embedding", lambda n, m, p: isinstance(m, nn.Embedding)),
    Rule("head", lambda n, m, p: bool(_path(n)) and _path(n)[-1] in _HEAD_NAMES),
    Rule("norm", lambda n, m, p: "Norm" in type(m).__name__),
    Rule("bias", lambda n, m, p: n.endswith("bias")),
    Rule("attention", lambda n, m, p: any(c in _ATTENTION_NAMES for c in _path(n))),
    Rule("mlp", lambda n, m, p: any(c in _MLP_NAMES for c in _path(n))),
    Rule("other", lambda n, m, p: True),
)


def assign_roles(model: nn.Module, rules: Sequence[Rule] = DEFAULT_RULES) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """Map role → [(name, parameter)] for the model's trainable parameters, first matching rule wins."""
    modules = dict(model.named_modules())
    by_role: dict[str, list[tuple[str, nn.Parameter]]] = {}
    unclaimed = []
    for name, p in model.named_parameters():  # yields a shared tensor once
        if not p.requires_grad:
            continue
        owner = modules[name.rpartition(".")[0]]
        role = next((r.role for r in rules if r.matches(name, owner, p)), None)
        if role is None:
            unclaimed.append(name)
        else:
            by_role.setdefault(role, []).append((name, p))
    if unclaimed:
        raise ValueError(f"no rule claims these parameters: {', '.join(unclaimed)}")
    _check_once(model, by_role)
    return by_role


def _check_once(model: nn.Module, by_role: dict[str, list[tuple[str, nn.Parameter]]]) -> None:
    claimed = [id(p) for group in by_role.values() for _, p in group]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    if len(claimed) != len(set(claimed)) or set(claimed) != trainable:
        raise ValueError("parameter partition is not exact: every trainable parameter must be in one group")
