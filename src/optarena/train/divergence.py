"""When a run counts as diverged: its training loss is non-finite, or far above where it started.

Rule: with L0 the loss of the first step (the untrained model's, about ln V),

    diverged  <=>  L is NaN or inf,  or  L > L0 + max(2, L0 / 2)        [nats/token]

"Far above" is measured from L0 because L0 ~ ln V is the loss of a uniform guess: a model 2 nats
(or half of L0, whichever is more) worse than uniform has lost what it learned and is not a spike
that training recovers from. The margin is wide on purpose: healthy runs spike by a fraction of a
nat, and a false alarm would drop a good run from a suite. The check uses each step's loss
averaged over all ranks, so every rank stops at the same step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_MARGIN = 2.0  # nats
RELATIVE_MARGIN = 0.5  # of L0


@dataclass
class DivergenceGuard:
    initial_loss: float | None = None

    def threshold(self) -> float:
        assert self.initial_loss is not None
        return self.initial_loss + max(MIN_MARGIN, RELATIVE_MARGIN * self.initial_loss)

    def check(self, loss: float) -> bool:
        """True if `loss` means divergence; the first finite loss seen becomes L0."""
        if not math.isfinite(loss):
            return True
        if self.initial_loss is None:
            self.initial_loss = loss
        return loss > self.threshold()
