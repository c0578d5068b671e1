"""Shared test data: a synthetic source with known entropies, the settings of a tiny CPU run, and an
optimizer that breaks a model on purpose."""

from __future__ import annotations

from pathlib import Path

import torch

from optarena.data import SyntheticSource

# Order-1 Zipf-Markov, V = 64, s = 1.5: unigram entropy 4.044 nats, entropy rate 2.381 nats.
SOURCE = SyntheticSource(vocab_size=64, order=1, zipf_s=1.5, seed=0)
TRAIN_TOKENS = 2**18
VAL_TOKENS = 2**13


def tiny_run(shard_dir: Path, out: Path, **overrides) -> dict:
    """Overrides for a seconds-long CPU run of the `tiny` preset; keyword arguments win."""
    base = {"preset": "tiny", "source": str(shard_dir), "seq_len": 32, "batch_tokens": 256, "steps": 6,
            "out": str(out), "progress": "off", "log_every": 1, "eval_every": 0, "eval_tokens": 1024}
    return {**base, **overrides}


class Saboteur(torch.optim.AdamW):
    """AdamW until step `at_step`; that step and every later one overwrite each weight with `fill`.

    fill 0 leaves a model that outputs the uniform distribution (loss ln V, finite gradients);
    fill inf leaves non-finite weights. Use it as optim.name "tests.train.helpers:Saboteur".
    """

    def __init__(self, params, lr: float = 1e-3, at_step: int = 1, fill: float = 0.0) -> None:
        super().__init__(params, lr=lr, weight_decay=0.0)
        self.at_step, self.fill, self.num_steps = at_step, fill, 0

    @torch.no_grad()
    def step(self, closure=None):
        self.num_steps += 1
        if self.num_steps < self.at_step:
            return super().step(closure)
        for group in self.param_groups:
            for p in group["params"]:
                p.fill_(self.fill)
        return None
