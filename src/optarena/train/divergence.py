"""When a run counts as diverged, and the reason run.json records (``diverged_reason``).

Every step, before its optimizer step (a broken step is never taken), with L the step's loss:

    "non-finite loss"          L is NaN or inf
    "non-finite gradient"      the global gradient norm (measured for clipping) is NaN or inf
    "loss ... above ..."       L > L0 + max(2, L0 / 2)   [nats/token], L0 the first step's loss

and at each log point, after the step:

    "non-finite parameters"    a weight is NaN or inf (read from max |w|, which cannot overflow)
    "loss stuck at ln(V) ..."  |L − ln V| <= 1e-3 at 3 log points in a row, after L had been at least
                               0.5 nats below ln V at a log point (V: the model's vocabulary)

"Far above" is measured from L0 because L0 ~ ln V is the loss of a uniform guess: a model 2 nats
(or half of L0, whichever is more) worse than uniform has lost what it learned and is not a spike
that training recovers from. The margin is wide on purpose: healthy runs spike by a fraction of a
nat, and a false alarm would drop a good run from a suite.

A non-finite gradient stops the run at once because some optimizers would hide it: Lion's momentum
turns NaN and, sign(NaN) being 0, those weights freeze for good while the loss stays finite. The last
two rules catch a model destroyed without a non-finite loss: Lion at lr 1e30 drives the weights to
±1e30, the model then outputs the uniform distribution and its loss sits at ln V, below the
threshold. An untrained model is uniform too, hence the condition that the loss had been lower; a
healthy run crosses ln V ± 1e-3 at one log point at most, hence three in a row.

Every rule reads values that are equal on all ranks (the loss averaged over ranks, the all-reduced
gradient, the replicated parameters), so every rank stops at the same step.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

MIN_MARGIN = 2.0  # nats
RELATIVE_MARGIN = 0.5  # of L0
UNIFORM_TOLERANCE = 1e-3  # nats: |L − ln V| below this is the uniform output
LEARNED_MARGIN = 0.5  # nats below ln V that a run must have reached before "stuck" counts
STUCK_POINTS = 3  # consecutive log points at ln V


@dataclass
class DivergenceGuard:
    uniform_loss: float | None = None  # ln V of the model's vocabulary; None: no "stuck" rule
    initial_loss: float | None = None
    lowest_loss: float = math.inf  # the lowest loss at a log point
    stuck_points: int = 0  # consecutive log points at ln V so far

    def threshold(self) -> float:
        assert self.initial_loss is not None
        return self.initial_loss + max(MIN_MARGIN, RELATIVE_MARGIN * self.initial_loss)

    def check(self, loss: float, grad_norm: float = 0.0) -> str | None:
        """The reason this step's loss and gradient norm mean divergence, or None; the first finite
        loss seen becomes L0."""
        if not math.isfinite(loss):
            return "non-finite loss"
        if not math.isfinite(grad_norm):
            return "non-finite gradient"
        if self.initial_loss is None:
            self.initial_loss = loss
        if loss > self.threshold():
            return f"loss {loss:.4g} above the threshold L0 + max(2, L0/2) = {self.threshold():.4g}"
        return None

    def check_point(self, loss: float, largest_weight: float) -> str | None:
        """The reason the state at a log point (that step's loss, max |w| after its step) means
        divergence, or None."""
        if not math.isfinite(largest_weight):
            return "non-finite parameters"
        if self.uniform_loss is None:
            return None
        learned = self.lowest_loss <= self.uniform_loss - LEARNED_MARGIN
        at_uniform = abs(loss - self.uniform_loss) <= UNIFORM_TOLERANCE
        self.stuck_points = self.stuck_points + 1 if learned and at_uniform else 0
        self.lowest_loss = min(self.lowest_loss, loss)
        if self.stuck_points >= STUCK_POINTS:
            return f"loss stuck at ln(V) = {self.uniform_loss:.4f} (uniform output) for {STUCK_POINTS} log points"
        return None

    def state_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
