"""Validation loss: summed cross-entropy over the fixed validation tokens, divided by their count.

Under DDP every rank scores its share of each validation batch (`ValidationSet` splits them) and
the sums and counts are all-reduced, so all ranks work and all get the same number. The sum is
accumulated in float64: over 10^7 tokens a float32 running sum would lose the fourth decimal that
modded-nanogpt's z-test needs (σ = 0.0013).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import nn

from optarena.data import ValidationSet

from .distributed import Dist, all_reduce_sum


@torch.no_grad()
def evaluate(model: nn.Module, val: ValidationSet, dist: Dist,
             autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> float:
    """Mean loss (nats/token) over `val`; `model(x, y)` must return the mean CE of its batch."""
    device = dist.device
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # (loss sum, token count)
    was_training = model.training
    model.eval()
    batches = 0
    for x_BT, y_BT in val:
        with autocast():
            loss = model(x_BT.to(device), y_BT.to(device))
        sums[0] += loss.double() * y_BT.numel()
        sums[1] += y_BT.numel()
        batches += 1
    if _is_sharded(model):
        # FSDP2's forward is a collective (it all-gathers each unit's weights): a rank whose share of
        # the last batch is empty still runs as many forwards as the others, on one unscored sequence.
        for _ in range(len(range(0, val.num_seqs, val.batch_size)) - batches):
            with autocast():
                model(torch.zeros(1, val.seq_len, dtype=torch.long, device=device),
                      torch.zeros(1, val.seq_len, dtype=torch.long, device=device))
    model.train(was_training)
    all_reduce_sum(sums, dist)
    return (sums[0] / sums[1]).item()


def _is_sharded(model: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(getattr(model, "_orig_mod", model), FSDPModule)  # _orig_mod: under torch.compile
