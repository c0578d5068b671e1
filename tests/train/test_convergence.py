"""The smallest preset learns: on synthetic data with known entropies, its final validation loss
falls well below the unigram entropy (what a model ignoring context can reach) towards the entropy
rate (the floor of a perfect model).

Data: an order-1 Zipf-Markov source, V = 64, s = 1.5: unigram entropy 4.044 nats, entropy rate
2.381 nats. Measured (tiny, AdamW 3e-3, 200 steps x 8 x 32 tokens, CPU): final val loss ~2.48.
"""

from __future__ import annotations

from optarena.train import load_config, train

from .helpers import SOURCE, tiny_run

MARGIN = 1.0  # nats below the unigram entropy


def test_tiny_learns_below_the_unigram_entropy(shard_dir, tmp_path):
    unigram, floor = SOURCE.unigram_entropy(), SOURCE.entropy_rate()
    result = train(load_config(None, tiny_run(shard_dir, tmp_path, steps=200, lr=3e-3, log_every=50)))
    assert result.status == "finished"
    assert result.final_val_loss < unigram - MARGIN, (result.final_val_loss, unigram, floor)
    # a sanity bound: 8k validation tokens cannot beat the entropy rate by much
    assert result.final_val_loss > floor - 0.1
