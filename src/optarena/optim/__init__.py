"""optarena.optim: drop-in ``torch.optim.Optimizer``s from the seed papers and their baselines.

    >>> from optarena import optim
    >>> optim.names()                      # the registry
    >>> opt = optim.create("grams", model, lr=6e-3, weight_decay=0.1)

``create`` also takes any optimizer class by dotted path ("torch.optim.NAdam", "heavyball.SOAP").
"""

from .base import ArenaOptimizer
from .factory import accepted_hyperparameters, create
from .partition import DEFAULT_RULES, ROLES, Rule, assign_roles
from .registry import REGISTRY, OptimizerSpec, get_spec, names

__all__ = ["ArenaOptimizer", "DEFAULT_RULES", "REGISTRY", "ROLES", "OptimizerSpec", "Rule",
           "accepted_hyperparameters", "assign_roles", "create", "get_spec", "names"]
