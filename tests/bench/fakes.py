"""Fake trainers for the runner: instant, deterministic, with a known best LR (and weight decay).

final_val_loss = 3 + (ln lr - ln lr*)^2, lr* per optimizer; with `wd_targets`, plus
(ln(wd + 1e-3) - ln(wd* + 1e-3))^2 for the run's weight_decay wd, and `coupling` c moves the best LR
with it: lr*(wd) = lr* (1 + c wd). At or above `diverge_above` a run diverges, at `fail_at` it
raises, and at `die_at` (first budget) the worker process exits.
Module-level and configured by functools.partial, so the spawned worker processes of --jobs can
unpickle them. `fake_trainer` stands in for the trainer itself, under the real worker.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any


def fake_train(job, targets: dict[str, float], diverge_above: float = math.inf,
               fail_at: float | None = None, die_at: float | None = None, log: list | None = None,
               wd_targets: dict[str, float] | None = None, coupling: float = 0.0) -> dict[str, Any]:
    cell = job.cell
    if log is not None:
        log.append(cell.key)
    if die_at is not None and math.isclose(cell.lr, die_at) and cell.group.tokens == 512:
        os._exit(3)  # the worker process dies, as under the OOM killer
    if fail_at is not None and math.isclose(cell.lr, fail_at):
        raise ValueError(f"boom at lr {cell.lr}")
    if cell.lr >= diverge_above:
        return {"status": "diverged", "diverged_at_step": 3, "steps": 3, "curves": []}
    name, wd = cell.group.variant.name, cell.hp().get("weight_decay", 0.0)
    target = targets[name] * (1 + coupling * wd)
    loss = 3.0 + (math.log(cell.lr) - math.log(target)) ** 2 + 1e-3 * cell.seed
    if wd_targets is not None:
        loss += (math.log(wd + 1e-3) - math.log(wd_targets[name] + 1e-3)) ** 2
    curves = [{"step": s, "tokens": 256 * s, "train_loss": loss + 1 / s, "val_loss": None, "lr": cell.lr}
              for s in (1, 2)]
    curves[-1]["val_loss"] = loss
    return {"status": "finished", "final_val_loss": loss, "steps": 2, "curves": curves}


def fake_trainer(final_val_tokens: int | None = 1024, status: str = "finished"):
    """A stand-in for `optarena.train.train` (monkeypatched into the real worker): two steps, no
    training, a final loss scored on `final_val_tokens` validation targets unless the run diverged."""
    from optarena.train.loop import RunResult

    def train(cfg) -> RunResult:
        out = Path(cfg.run.out)
        out.mkdir(parents=True, exist_ok=True)
        last = {"step": 2, "tokens": 512, "train_loss": 3.4, "lr": cfg.optim.lr}
        if status == "finished":
            last.update(val_loss=3.3, val_tokens=512, final_val_loss=3.2, final_val_tokens=final_val_tokens)
        history = [{"step": 1, "tokens": 256, "train_loss": 4.0, "lr": cfg.optim.lr}, last]
        final = 3.2 if status == "finished" else None
        return RunResult(out, status, final, None if final else 2, 2, 512, history)

    return train
