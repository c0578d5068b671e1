"""`--smoke`: any suite shrunk to seconds, for tests and a first look at a new suite."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .suite import Budget, Suite
from .tuned import Tuned

SMOKE_BATCH = 256
SMOKE_TRAIN = (("data.seq_len", 32), ("data.batch_tokens", SMOKE_BATCH), ("data.micro_batch", None),
               ("log.eval_every", 0), ("log.eval_tokens", 512), ("log.log_every", 1),
               ("log.checkpoint_every", 0), ("run.compile", False))
# A warmup given in steps (schedule.warmup >= 1: svrm-134m's 1000, grams-pretrain's 50) is longer than a
# smoke run, which the trainer refuses; smoke warms up over this fraction of its run instead, the
# schedule's default (optarena.train.config.ScheduleSection.warmup, not imported: it would import torch).
SMOKE_WARMUP = 0.02


def smoke(suite: Suite) -> Suite:
    """The suite on the `tiny` model, 8-12 steps per run, at most 2 LR points, 2 budgets and 2 seeds,
    2 values of each tuned hyperparameter, one round, no grid extension; every optimizer and variant
    kept (that is what a smoke run checks)."""
    model = suite.models[0]
    variants = tuple(dataclasses.replace(v, lr=v.centre(model), seeds=min(v.seeds, 2) if v.seeds else None,
                                         tune=tuple(_two_values(t) for t in v.tune), train=_short_warmup(v.train))
                     for v in suite.variants)
    # 8 steps at least: log-time methods need T >= delta = 8 (ADANA, AdEMAMix log-time).
    budgets = tuple(Budget("tokens", (8 + 4 * i) * SMOKE_BATCH) for i in range(min(2, len(suite.budgets))))
    return dataclasses.replace(suite, models=("tiny",), budgets=budgets, variants=variants,
                               lr_mults=_two_points(suite.lr_mults), max_extend=0, seeds=min(suite.seeds, 2),
                               train=_short_warmup(suite.train) + SMOKE_TRAIN, mode="smoke", tune_rounds=1)


def _short_warmup(train: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """The settings with a warmup in steps (>= 1) replaced by SMOKE_WARMUP; a fraction is kept (it scales)."""
    def steps(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1

    return tuple((key, SMOKE_WARMUP if key == "schedule.warmup" and steps(value) else value) for key, value in train)


def _two_points(mults: tuple[float, ...]) -> tuple[float, ...]:
    """The multiplier nearest 1 and its upper neighbour (lower at the top of the grid)."""
    if len(mults) < 2:
        return mults
    i = min(range(len(mults)), key=lambda j: abs(math.log(mults[j])))
    j = i + 1 if i + 1 < len(mults) else i - 1
    return tuple(sorted((mults[i], mults[j])))


def _two_values(t: Tuned) -> Tuned:
    """The start and the value after it in the grid (before it at the end)."""
    i = t.grid.index(t.start)
    j = i + 1 if i + 1 < len(t.grid) else i - 1
    return dataclasses.replace(t, grid=tuple(x for k, x in enumerate(t.grid) if k in (i, j)))
