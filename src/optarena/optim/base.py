"""The thin shell every optarena optimizer shares.

An optimizer here is three small methods on top of this class:

* ``_check(owner, hp)``: validate one parameter group's hyperparameters (``ValueError`` on bad input);
* ``_init_state(p, state, group)``: create the algorithm's buffers (which may depend on the group's
  settings, e.g. Muon's route), and nothing else;
* ``_update(group, params, grads, states)``: the update rule on *lists* of tensors (``torch._foreach_*``).

The shell does the rest once: closure handling, sparse-gradient refusal, the per-parameter step count,
low-precision parameters (the update runs on fp32 working copies and is written back, so bf16 weights
get fp32 state and fp32 arithmetic), and a ``load_state_dict`` that keeps each state tensor's dtype
(torch would cast fp32 state to a bf16 parameter's dtype).

Contract with subclasses: ``grads`` are read-only (they may be ``p.grad`` itself), ``params`` are updated
in place, and every tensor of a list shares nothing with another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

# dtypes the update runs in directly; anything narrower is updated through an fp32 copy.
_WORKING_DTYPES = (torch.float32, torch.float64)


def state_dtype(p: torch.Tensor) -> torch.dtype:
    """Optimizer state is kept in fp32 for low-precision parameters, else in the parameter's dtype."""
    return p.dtype if p.dtype in _WORKING_DTYPES else torch.float32


class ArenaOptimizer(Optimizer):
    """Base class: see the module docstring for the contract."""

    # Log-time methods read the schedule factor s(t) = group['lr'] / group['peak_lr'], as the authors'
    # code does with the constructor LR; the peak is recorded per group when the group is added.
    records_peak_lr = False

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self._check(type(self).__name__, defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        self._check(f"{type(self).__name__} (param group {len(self.param_groups) - 1})", group)
        if self.records_peak_lr:
            group.setdefault("peak_lr", group["lr"])

    # -- subclass hooks ---------------------------------------------------------------------------
    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        raise NotImplementedError

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _update(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor],
                states: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    # -- the shared step ----------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._step_group(group, params)
        return loss

    def _step_group(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        name = type(self).__name__
        states = []
        for p in params:
            if p.grad.is_sparse:
                raise RuntimeError(f"{name} does not support sparse gradients")
            state = self.state[p]
            if not state:
                state["step"] = 0
                self._init_state(p, state, group)
            state["step"] += 1
            states.append(state)
        work = [p if p.dtype in _WORKING_DTYPES else p.float() for p in params]
        grads = [p.grad if p.grad.dtype == w.dtype else p.grad.to(w.dtype) for p, w in zip(params, work)]
        self._update(group, work, grads, states)
        for p, w in zip(params, work):
            if w is not p:
                p.copy_(w)

    def zeros(self, p: torch.Tensor) -> torch.Tensor:
        """A zero state buffer shaped like ``p``, in the state dtype."""
        return torch.zeros_like(p, dtype=state_dtype(p), memory_format=torch.preserve_format)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict["state"]
        ids = [pid for g in state_dict["param_groups"] for pid in g["params"]]
        super().load_state_dict(state_dict)
        params = [p for g in self.param_groups for p in g["params"]]
        for pid, p in zip(ids, params):
            for key, value in saved.get(pid, {}).items():
                if torch.is_tensor(value):
                    self.state[p][key] = value.to(device=p.device, copy=True)
