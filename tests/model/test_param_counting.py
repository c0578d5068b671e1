"""count_params / flops_per_token / chinchilla_tokens against built modules and published numbers."""

import pytest
import torch

from optarena.model import (
    PRESETS,
    ModelConfig,
    ParamCount,
    Transformer,
    chinchilla_tokens,
    count_params,
    flops_per_token,
    presets_table,
)


def built_counts(cfg: ModelConfig) -> tuple[int, int]:
    # The meta device allocates nothing, so even the 2.6B preset costs no memory.
    with torch.device("meta"):
        model = Transformer(cfg)
    total = sum(p.numel() for p in model.parameters())  # parameters() lists a tied tensor once
    vocab_params = sum(p.numel() for n, p in model.named_parameters() if n in ("embed.weight", "lm_head.weight"))
    return total, total - vocab_params


@pytest.mark.parametrize("name", list(PRESETS))
def test_formula_matches_built_module(name):
    counts = count_params(PRESETS[name])
    assert (counts.total, counts.non_embedding) == built_counts(PRESETS[name])


@pytest.mark.parametrize("tie", [True, False])
def test_formula_matches_built_module_with_gqa_and_wide_heads(tie):
    cfg = ModelConfig(
        vocab_size=300, d_model=48, n_layers=2, n_heads=6, n_kv_heads=2, head_dim=32, d_ff=100, tie_embeddings=tie
    )
    counts = count_params(cfg)
    assert (counts.total, counts.non_embedding) == built_counts(cfg)


def test_published_counts():
    tiny = count_params(PRESETS["tiny"]).total
    assert 0.15e6 < tiny < 0.25e6
    # EPFL's "123.59M" (arXiv 2509.01440's 124M = this project's HF Qwen3 anchor).
    assert count_params(PRESETS["134m"]) == ParamCount(123_588_864, 84_955_392)
    # Qwen/Qwen3-0.6B's config: 596,049,920 total, 440.5M non-embedding.
    qwen = count_params(PRESETS["qwen3-0.6b"])
    assert qwen.total == 596_049_920 and round(qwen.non_embedding / 1e5) == 4405


@pytest.mark.parametrize("h", [6, 8, 12, 16, 24, 40])
def test_enoki_counts_stay_close_to_adana(h):
    cfg = PRESETS[f"enoki-h{h}"]
    d, L = cfg.d_model, cfg.n_layers
    enoki_total = 12 * d * d * L + 2 * d * 50304  # mlexpos/adana@3eef26f enoki.py (GELU 4d MLP, no norm gains)
    assert abs(count_params(cfg).total / enoki_total - 1) < 0.004
    if h == 40:
        assert round(count_params(cfg).total / 1e9, 2) == 2.62


def test_flops_per_token():
    cfg = PRESETS["134m"]
    n = count_params(cfg)
    attention = 12 * 12 * 768 * 1024
    assert flops_per_token(cfg) == 6 * (n.non_embedding + 50304 * 768) + attention
    assert flops_per_token(cfg) == 6 * n.total + attention  # tied: PaLM's 6N + 12LHQT
    assert round(flops_per_token(cfg) / 1e9, 2) == 0.85  # GPT-2-124M's usual MFU figure: ~0.86
    assert flops_per_token(cfg, seq_len=2048) - flops_per_token(cfg) == attention
    untied = ModelConfig(tie_embeddings=False)
    assert flops_per_token(untied) == flops_per_token(cfg)  # the head matmul costs the same


def test_chinchilla_tokens():
    cfg = PRESETS["134m"]
    assert chinchilla_tokens(cfg) == 20 * 123_588_864
    assert chinchilla_tokens(cfg, ratio=10.0, count="non_embedding") == 10 * 84_955_392
    with pytest.raises(ValueError, match="count"):
        chinchilla_tokens(cfg, count="embedding")


def test_presets_table_lists_every_preset():
    lines = presets_table().splitlines()
    assert len(lines) == len(PRESETS) + 2
    assert all(any(line.startswith(name + " ") for line in lines) for name in PRESETS)
    assert "123.59M" in presets_table() and "2.62B" in presets_table()
