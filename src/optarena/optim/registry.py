"""The optimizer registry: one frozen entry per name, variants as data (timm's model).

An entry names its class lazily (``"module:Class"``) so that importing the registry stays cheap, fixes
the hyperparameters that define the variant (``preset``), and may carry per-role defaults that
:func:`optarena.optim.create` applies when it builds parameter groups from a model (e.g. SVRM's
attention LR scale 1.1). A user's keyword or role override always wins over the entry's. It also says
what the generic factory cannot guess from a signature: which arguments carry weight decay (zeroed on
the no-decay roles: ADana's is ``omega``), which are learning rates (a role's ``lr_scale`` multiplies
them: Muon has two), and how a role's parameters are split into groups (``routing``: Muon's).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# A role's (name, parameter) pairs -> (extra group keys, parameters) per group; see `hidden_matrices`.
Routing = Callable[[str, Sequence[tuple[str, Any]]], list[tuple[dict[str, Any], list[Any]]]]


def _frozen(d: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    target: str  # "package.module:Class"
    source: str  # the paper or code it is exact to
    preset: Mapping[str, Any] = field(default_factory=_frozen)
    role_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=_frozen)
    routing: Routing | None = None  # None: one group per role
    decay_keys: tuple[str, ...] = ("weight_decay",)  # the arguments that carry weight decay
    lr_keys: tuple[str, ...] = ("lr",)  # the learning rates a role's lr_scale multiplies

    def resolve(self) -> type:
        return import_target(self.target)


def hidden_matrices(role: str, named: Sequence[tuple[str, Any]]) -> list[tuple[dict[str, Any], list[Any]]]:
    """Muon's routing: a role's hidden matrices (2-D+, not embedding/head) to Newton–Schulz
    (``use_muon=True``), the rest to its inner AdamW; a group only where it has parameters."""
    hidden = role not in ("embedding", "head")
    ns = [p for _, p in named if hidden and p.ndim >= 2]
    rest = [p for _, p in named if not (hidden and p.ndim >= 2)]
    return [(dict(use_muon=flag), ps) for flag, ps in ((True, ns), (False, rest)) if ps]


def import_target(target: str) -> type:
    """Import ``"pkg.mod:Class"`` or a dotted path ``"pkg.mod.Class"``."""
    module, _, attr = target.partition(":") if ":" in target else target.rpartition(".")
    if not module or not attr:
        raise ValueError(f"not an importable class path: {target!r}")
    try:
        obj = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"cannot import {module!r} for optimizer {target!r}: {e}") from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{module!r} has no attribute {attr!r} (optimizer {target!r})")
        obj = getattr(obj, part)
    return obj


_ADAM = "optarena.optim.adam:AdamFamily"
_LION = "optarena.optim.lion:Lion"
_ADANA = "optarena.optim.adana:ADana"
_DECAY_LOGTIME = ("weight_decay", "omega")  # decoupled or log-time decay, whichever the variant runs
_ADANA_DECAY = ("omega",)  # its only decay is the log-time one

_SPECS = [
    OptimizerSpec("adamw", "torch.optim:AdamW", "Loshchilov & Hutter, arXiv 1711.05101 (torch.optim)"),
    OptimizerSpec("adam", "torch.optim:Adam", "Kingma & Ba, arXiv 1412.6980 (torch.optim)"),
    OptimizerSpec("rmsprop", "torch.optim:RMSprop", "Tieleman & Hinton 2012 (torch.optim)"),
    OptimizerSpec("lion", _LION, "Chen et al., arXiv 2302.06675"),
    OptimizerSpec("cautious-adamw", _ADAM, "Liang et al., arXiv 2411.16085 (C-Optim@2c0517c)",
                  _frozen(dict(caution=True, eps_style="hf", eps=1e-6)),
                  decay_keys=_DECAY_LOGTIME),
    OptimizerSpec("cautious-lion", _LION, "Liang et al., arXiv 2411.16085 (C-Optim@2c0517c)",
                  _frozen(dict(caution=True, mask_norm="count", betas=(0.95, 0.98)))),
    OptimizerSpec("grams", _ADAM, "Cao, Li, Song, arXiv 2412.17107 (Gunale0926/Grams@f91a375)",
                  _frozen(dict(grams=True, eps_style="hf", eps=1e-6)),
                  decay_keys=_DECAY_LOGTIME),
    OptimizerSpec("adamw-logtime-wd", _ADAM, "Ferbach et al., arXiv 2602.05298 (AdamW (DW))",
                  _frozen(dict(wd_schedule="logtime")),
                  decay_keys=_DECAY_LOGTIME),
    OptimizerSpec("muon", "optarena.optim.muon:Muon", "Jordan et al. 2024 (KellerJordan/Muon@857d1ad)",
                  routing=hidden_matrices,
                  decay_keys=("weight_decay", "adamw_weight_decay"), lr_keys=("lr", "adamw_lr")),
    OptimizerSpec("ademamix", "optarena.optim.ademamix:AdEMAMix", "Pagliardini et al., arXiv 2409.03137",
                  decay_keys=_DECAY_LOGTIME),
    OptimizerSpec("ademamix-logtime", "optarena.optim.ademamix:AdEMAMix",
                  "Ferbach et al., arXiv 2602.05298 §1.7 (Ademamix (DW))", _frozen(dict(logtime=True)),
                  decay_keys=_DECAY_LOGTIME),
    OptimizerSpec("adana", _ADANA, "Ferbach et al., arXiv 2602.05298 (ADana)",
                  decay_keys=_ADANA_DECAY),
    OptimizerSpec("dana-mk4", _ADANA, "Ferbach et al., arXiv 2602.05298 (Dana-MK4)",
                  _frozen(dict(clipsnr=2.0)),
                  decay_keys=_ADANA_DECAY),
    OptimizerSpec("dana-star", _ADANA, "Ferbach et al., arXiv 2602.05298 (Dana-Star)",
                  _frozen(dict(tau=True)),
                  decay_keys=_ADANA_DECAY),
    OptimizerSpec("dana-star-mk4", _ADANA, "Ferbach et al., arXiv 2602.05298 (Dana-Star-MK4)",
                  _frozen(dict(tau=True, clipsnr=2.0)),
                  decay_keys=_ADANA_DECAY),
    OptimizerSpec("dms", "optarena.optim.dms:DMS", "Aardvark, 2025-11-04 (no arXiv id)",
                  role_defaults=_frozen({
                      # Table 1 of the paper: attention and FFN columns; lr 9e-3 vs 6e-3 = 1.5x.
                      "attention": _frozen(dict(betas=(0.85, 0.90), alpha_base=0.4, alpha_scale=0.3,
                                                lr_scale=1.5)),
                      "mlp": _frozen(dict(betas=(0.80, 0.95), alpha_base=0.3, alpha_scale=0.2)),
                  })),
    OptimizerSpec("stable-momentum", "optarena.optim.stable_momentum:StableMomentum",
                  "Aardvark, 2025-10-23 (no arXiv id)"),
    OptimizerSpec("svrm", "optarena.optim.svrm:SVRM",
                  "Aardvark, 2025-10-18 (no arXiv id)",
                  role_defaults=_frozen({"attention": _frozen(dict(lr_scale=1.1))})),
]

REGISTRY: Mapping[str, OptimizerSpec] = MappingProxyType({s.name: s for s in _SPECS})


def names() -> list[str]:
    """Sorted registry names."""
    return sorted(REGISTRY)


def argument_names(cls: type) -> OptimizerSpec:
    """For a class given by path: the decay and LR argument names of the first entry built on it (an
    optarena class keeps its own), else ``weight_decay`` and ``lr``. Only the names: an entry's preset,
    role defaults and routing belong to its registry name."""
    for spec in _SPECS:
        if spec.resolve() is cls:
            return OptimizerSpec(spec.name, spec.target, spec.source, decay_keys=spec.decay_keys,
                                 lr_keys=spec.lr_keys)
    return OptimizerSpec(cls.__name__, f"{cls.__module__}:{cls.__qualname__}", "a class given by path")


def get_spec(name: str) -> OptimizerSpec:
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(names())} "
                         "(or a dotted class path such as 'torch.optim.NAdam')")
    return spec
