"""`ModelConfig`: the shape of a Qwen3-style decoder, as a frozen, validated dataclass.

Defaults are the seed papers' "134m" shape (12 layers, d_model 768, 12 heads of 64, MHA, SwiGLU
d_ff 2048, tied embeddings, GPT-2 vocabulary padded to 50304), so the dataclass reads as documentation
of the reference model. Named shapes live in `presets.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

_POSITIVE_INTS = ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim", "d_ff", "max_seq_len")
_POSITIVE_FLOATS = ("rope_theta", "norm_eps", "init_std")


@dataclass(frozen=True)
class ModelConfig:
    """Shape and numerics of `Transformer`.

    `head_dim` is free (Qwen3 uses 128 even when d_model / n_heads is smaller), so the attention
    width `n_heads * head_dim` may differ from `d_model`. `n_kv_heads < n_heads` is grouped-query
    attention; `n_kv_heads == n_heads` is plain multi-head attention.
    """

    vocab_size: int = 50304  # GPT-2's 50257 padded up to a multiple of 128
    d_model: int = 768  # residual-stream width
    n_layers: int = 12
    n_heads: int = 12  # query heads
    n_kv_heads: int = 12  # key/value heads (GQA when fewer than n_heads)
    head_dim: int = 64
    d_ff: int = 2048  # SwiGLU hidden width (8/3 * 768)
    tie_embeddings: bool = True  # lm_head shares the embedding matrix
    rope_theta: float = 1e6  # Qwen3's RoPE base
    norm_eps: float = 1e-6  # Qwen3's RMSNorm epsilon (Qwen2 used 1e-5)
    max_seq_len: int = 1024  # length of the precomputed RoPE table
    init_std: float = 0.02  # std of linear and embedding weights; see Transformer.init_weights

    def __post_init__(self) -> None:
        for name in _POSITIVE_INTS:
            _check_positive_int(name, getattr(self, name))
        for name in _POSITIVE_FLOATS:
            _check_positive_float(name, getattr(self, name))
        if not isinstance(self.tie_embeddings, bool):
            raise ValueError(f"ModelConfig.tie_embeddings must be a bool, got {self.tie_embeddings!r}")
        if self.n_heads % self.n_kv_heads != 0:
            raise ValueError(
                f"ModelConfig.n_heads={self.n_heads} is not divisible by n_kv_heads={self.n_kv_heads}"
            )
        if self.head_dim % 2 != 0:  # RoPE rotates pairs of channels
            raise ValueError(f"ModelConfig.head_dim={self.head_dim} must be even for RoPE")

    @property
    def d_attn(self) -> int:
        """Width of the concatenated query heads (input width of o_proj)."""
        return self.n_heads * self.head_dim

    @property
    def d_kv(self) -> int:
        """Width of the concatenated key (or value) heads."""
        return self.n_kv_heads * self.head_dim

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _check_positive_int(name: str, value: object) -> None:
    # bool is an int subclass; True as a layer count is a bug, not a shape.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"ModelConfig.{name} must be a positive int, got {value!r}")


def _check_positive_float(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"ModelConfig.{name} must be a positive number, got {value!r}")
