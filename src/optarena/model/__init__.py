"""optarena.model: a Qwen3-style decoder, its named shapes, and parameter/FLOP/token arithmetic."""

from optarena.model.config import ModelConfig
from optarena.model.counting import ParamCount, chinchilla_tokens, count_params, flops_per_token
from optarena.model.presets import PRESETS, get_preset, presets_table

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


def __getattr__(name: str):
    # The model itself pulls in torch; the shapes and the arithmetic above do not, so that the
    # commands that only read them (`optarena models`, `bench --list`, the report) start without it.
    if name == "Transformer":
        from optarena.model.transformer import Transformer

        return Transformer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
