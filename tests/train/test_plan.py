"""What a config implies: the vocabulary, the Chinchilla budget, the micro-batching."""

from __future__ import annotations

import pytest

from optarena.model import count_params
from optarena.train import load_config, make_plan


def test_default_budget_is_chinchilla_on_total_parameters():
    cfg = load_config(None, {"preset": "tiny", "seq_len": 64, "batch_tokens": 4096})
    plan = make_plan(cfg, data_vocab=8192)
    n_total = count_params(plan.model).total
    assert plan.model.vocab_size == 8192 and plan.model.max_seq_len == 64
    assert plan.total_steps == int(20 * n_total / 4096)  # the authors' T = int(20 N / batch)
    nonemb = make_plan(load_config(None, {"preset": "tiny", "seq_len": 64, "batch_tokens": 4096,
                                          "count": "non_embedding", "ratio": 10}), 8192)
    assert nonemb.total_steps == int(10 * count_params(plan.model).non_embedding) // 4096


def test_vocab_is_the_datas_rounded_up_to_64():
    cfg = load_config(None, {"preset": "134m", "seq_len": 1024, "batch_tokens": 2**19})
    assert make_plan(cfg, data_vocab=50257).model.vocab_size == 50304  # the papers' padded GPT-2
    assert make_plan(load_config(None, {"vocab_size": 100}), data_vocab=64).model.vocab_size == 100
    with pytest.raises(ValueError, match="model.vocab_size=32 is smaller than the data's vocabulary"):
        make_plan(load_config(None, {"vocab_size": 32}), data_vocab=64)


def test_tokens_and_steps():
    base = {"seq_len": 32, "batch_tokens": 256}
    assert make_plan(load_config(None, {**base, "tokens": 1000}), 64).total_steps == 3
    plan = make_plan(load_config(None, {**base, "steps": 7}), 64)
    assert plan.total_steps == 7 and plan.tokens == 7 * 256


def test_accumulation_over_ranks():
    cfg = load_config(None, {"seq_len": 32, "batch_tokens": 32 * 16, "micro_batch": 2, "steps": 1})
    assert make_plan(cfg, 64, world_size=1).accum_steps == 8
    assert make_plan(cfg, 64, world_size=2).accum_steps == 4
    assert make_plan(load_config(None, {"seq_len": 32, "batch_tokens": 512, "steps": 1}), 64, 2).accum_steps == 1
    with pytest.raises(ValueError, match="does not split over 3 processes"):
        make_plan(cfg, 64, world_size=3)
    cfg = load_config(None, {"seq_len": 32, "batch_tokens": 32 * 16, "micro_batch": 16, "steps": 1})
    with pytest.raises(ValueError, match="data.micro_batch=16 must divide the 8 sequences each of 2"):
        make_plan(cfg, 64, world_size=2)
