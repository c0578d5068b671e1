"""Bridge to Hugging Face `transformers.Qwen3ForCausalLM`, without importing transformers.

    hf_cfg = transformers.Qwen3Config(**to_hf_qwen3_config(model.cfg))
    hf_model = transformers.Qwen3ForCausalLM(hf_cfg)
    copy_into_hf(model, hf_model)

Used by tests/model/test_hf_parity.py to show that `Transformer` computes Qwen3's logits, and
usable to export a trained model. Parameter names map one to one; only the prefixes differ.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from optarena.model.config import ModelConfig

# (our name pattern, HF name template); the first match wins.
_NAME_MAP = (
    (r"embed\.weight", "model.embed_tokens.weight"),
    (r"norm\.weight", "model.norm.weight"),
    (r"lm_head\.weight", "lm_head.weight"),
    (r"layers\.(\d+)\.attn_norm\.weight", r"model.layers.\1.input_layernorm.weight"),
    (r"layers\.(\d+)\.mlp_norm\.weight", r"model.layers.\1.post_attention_layernorm.weight"),
    (r"layers\.(\d+)\.attn\.(.+)", r"model.layers.\1.self_attn.\2"),
    (r"layers\.(\d+)\.mlp\.(.+)", r"model.layers.\1.mlp.\2"),
)


def to_hf_qwen3_config(cfg: ModelConfig) -> dict[str, object]:
    """Keyword arguments for `transformers.Qwen3Config` describing the same network."""
    return {
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.d_ff,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,  # transformers 5 folds this into rope_parameters
        "tie_word_embeddings": cfg.tie_embeddings,
        "attention_bias": False,
        "use_sliding_window": False,
        "initializer_range": cfg.init_std,
    }


def hf_name(name: str) -> str:
    """The HF Qwen3ForCausalLM state-dict key of one of our state-dict keys."""
    for pattern, template in _NAME_MAP:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, template, name)
    raise KeyError(f"no Hugging Face name for parameter {name!r}")


def to_hf_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Our state dict under HF names. A tied model still yields `lm_head.weight` (the same tensor),
    because HF's state dict lists both keys."""
    return {hf_name(name): tensor for name, tensor in model.state_dict().items()}


def copy_into_hf(model: nn.Module, hf_model: nn.Module) -> None:
    """Load our weights into an HF Qwen3ForCausalLM built from `to_hf_qwen3_config(model.cfg)`."""
    hf_model.load_state_dict(to_hf_state_dict(model), strict=True)
