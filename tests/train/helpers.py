"""Shared test data: a synthetic source with known entropies, and the settings of a tiny CPU run."""

from __future__ import annotations

from pathlib import Path

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
