"""Fake trainers for the runner: instant, deterministic, with a known best LR.

final_val_loss = 3 + (ln lr - ln lr*)^2, lr* per optimizer; at or above `diverge_above` a run
diverges, at `fail_at` it raises, and at `die_at` (first budget) the worker process exits.
Module-level and configured by functools.partial, so the spawned worker processes of --jobs can
unpickle them.
"""

from __future__ import annotations

import math
import os
from typing import Any


def fake_train(job, targets: dict[str, float], diverge_above: float = math.inf,
               fail_at: float | None = None, die_at: float | None = None, log: list | None = None) -> dict[str, Any]:
    cell = job.cell
    if log is not None:
        log.append(cell.key)
    if die_at is not None and math.isclose(cell.lr, die_at) and cell.group.tokens == 512:
        os._exit(3)  # the worker process dies, as under the OOM killer
    if fail_at is not None and math.isclose(cell.lr, fail_at):
        raise ValueError(f"boom at lr {cell.lr}")
    if cell.lr >= diverge_above:
        return {"status": "diverged", "diverged_at_step": 3, "steps": 3, "curves": []}
    target = targets[cell.group.variant.name]
    loss = 3.0 + (math.log(cell.lr) - math.log(target)) ** 2 + 1e-3 * cell.seed
    curves = [{"step": s, "tokens": 256 * s, "train_loss": loss + 1 / s, "val_loss": None, "lr": cell.lr}
              for s in (1, 2)]
    curves[-1]["val_loss"] = loss
    return {"status": "finished", "final_val_loss": loss, "steps": 2, "curves": curves}
