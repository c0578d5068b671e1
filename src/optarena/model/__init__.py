"""optarena.model: a Qwen3-style decoder, its named shapes, and parameter/FLOP/token arithmetic."""

from optarena.model.config import ModelConfig
from optarena.model.counting import ParamCount, chinchilla_tokens, count_params, flops_per_token
from optarena.model.presets import PRESETS, get_preset, presets_table
from optarena.model.transformer import Transformer

__all__ = [
    "PRESETS",
    "ModelConfig",
    "ParamCount",
    "Transformer",
    "chinchilla_tokens",
    "count_params",
    "flops_per_token",
    "get_preset",
    "presets_table",
]
