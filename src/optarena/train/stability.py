"""Stability of a finished run, from its logged training losses and gradient norms.

The SVRM and StableMomentum papers claim stability, not only a lower final loss; these are the
numbers that claim can be checked against, computed from metrics.jsonl (`train_loss` and
`grad_norm` at every log step) after the warmup:

* **loss spikes**: a logged loss is a spike when it exceeds the median of the WINDOW logged losses
  before it by more than max(SPIKE_MADS robust standard deviations of those losses, SPIKE_FLOOR
  of their median). The robust standard deviation is 1.4826 x the median absolute deviation, so
  ordinary batch-to-batch noise (which is large at small batches) is not a spike; SPIKE_FLOOR
  keeps a perfectly smooth series from calling a 0.1% wiggle one. `spikes` counts them and
  `max_spike` is the largest excess (nats); `spike_frac` is spikes per scored point.
* **gradient-norm spread**: `grad_norm_cv`, the standard deviation of the logged gradient norms
  over their mean, and `grad_norm_p99_median`, the 99th percentile over the median (how far the
  worst steps are from the typical one). Norms are before clipping.

The data order is the same for every optimizer of a suite, so a batch that is simply harder (a
change of document) raises every run's loss at the same step: on the CPU tier's quick budget most
runs, whatever the optimizer, show the same one spike. Spike counts compare optimizers within a
cell; they are not an absolute measure of instability.

Warmup is skipped (its losses fall fast and its gradients are not yet at their scale): the first
`skip` logged points, by default those before the warmup ends. A run with too few points after
that gets None for the metric that needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

WINDOW = 10
SPIKE_MADS = 6.0
SPIKE_FLOOR = 0.02  # relative to the window's median loss
MAD_TO_STD = 1.4826


def stability(history: Sequence[dict[str, Any]], warmup_steps: int = 0) -> dict[str, float | int | None]:
    """spikes, max_spike, spike_frac, grad_norm_cv and grad_norm_p99_median of a run's log entries."""
    entries = [e for e in history if e.get("step", 0) > warmup_steps]
    losses = np.array([e["train_loss"] for e in entries if _finite(e.get("train_loss"))], dtype=np.float64)
    norms = np.array([e["grad_norm"] for e in entries if _finite(e.get("grad_norm"))], dtype=np.float64)
    return {**loss_spikes(losses), **grad_norm_spread(norms)}


def loss_spikes(losses: np.ndarray) -> dict[str, float | int | None]:
    """Spikes of a loss series by the module docstring's rule."""
    scored = len(losses) - WINDOW
    if scored < 1:
        return {"spikes": None, "max_spike": None, "spike_frac": None}
    excess = []
    for t in range(WINDOW, len(losses)):
        window = losses[t - WINDOW : t]
        median = float(np.median(window))
        spread = MAD_TO_STD * float(np.median(np.abs(window - median)))
        jump = losses[t] - median
        if jump > max(SPIKE_MADS * spread, SPIKE_FLOOR * abs(median)):
            excess.append(jump)
    return {"spikes": len(excess), "max_spike": float(max(excess)) if excess else 0.0,
            "spike_frac": len(excess) / scored}


def grad_norm_spread(norms: np.ndarray) -> dict[str, float | None]:
    """Coefficient of variation and 99th-percentile-over-median of gradient norms."""
    if len(norms) < 2 or float(np.median(norms)) <= 0:
        return {"grad_norm_cv": None, "grad_norm_p99_median": None}
    return {"grad_norm_cv": float(np.std(norms, ddof=1) / np.mean(norms)),
            "grad_norm_p99_median": float(np.percentile(norms, 99) / np.median(norms))}


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and np.isfinite(x)
