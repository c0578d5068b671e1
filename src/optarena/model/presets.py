"""Named model shapes: a ladder from 0.2M to 2.6B parameters, and its table.

Ladder (parameter counts are totals at each preset's own vocab_size; see `presets_table()`):
  * CPU ladder `tiny`, `mini`, `small`, `20m`: small vocabularies (512 for `tiny`, 4096 for the
    others), because with GPT-2's 50304 the embedding alone would be 3-20M and the "model" would be
    a lookup table. Tied, like Qwen3's small models. `tiny` uses GQA (4 query / 2 kv heads) so the
    CPU tests exercise it.
  * `134m`: the seed papers' shape, i.e. the EPFL 124M baseline (arXiv 2509.01440) as Qwen3:
    12 layers, d_model 768, 12 MHA heads of 64, SwiGLU d_ff 2048 (= 8/3 x 768), tied, V = 50304,
    seq 1024. The name is the papers'; the actual count is 123,588,864 total and 84,955,392
    non-embedding (EPFL's README: "123.59M").
  * `qwen3-0.6b`: Qwen/Qwen3-0.6B's shape (28 layers, 16/8 heads of 128, d 1024 -> 3072, tied,
    V = 151936), 596,049,920 parameters: an outside anchor for the counting formula.
  * `enoki-h{h}`: ADANA's Enoki ladder (mlexpos/adana@3eef26f src/models/enoki.py) with Qwen3 blocks: h heads of 64,
    d_model 64h, n_layers floor(3h/4), untied embeddings (as Enoki), V = 50304, seq 2048.
    Enoki's MLP is GELU with hidden 4d (8d^2 weights); our SwiGLU has three matrices, so
    d_ff = 8d/3 rounded to a multiple of 64 keeps the MLP at ~8d^2 weights and the total within
    0.4% of Enoki's 12 d^2 L + 2 V d (h=40: 2.62B, the paper's "2.6B").
    RoPE theta stays Qwen3's 1e6 (Enoki used 1e4; at seq 2048 both are far above the context).

`get_preset(name, vocab_size=..., **overrides)` swaps the vocabulary (e.g. for a corpus tokenizer)
or any other field; the result is validated like any ModelConfig.
"""

from __future__ import annotations

import dataclasses

from optarena._text import did_you_mean, text_table
from optarena.model.config import ModelConfig
from optarena.model.counting import chinchilla_tokens, count_params, flops_per_token

GPT2_VOCAB = 50304  # 50257 padded to a multiple of 128
ENOKI_HEADS = (2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40)


def swiglu_hidden(d_model: int, multiple: int = 64) -> int:
    """8/3 * d_model rounded to the nearest multiple: SwiGLU with a 4d-GELU MLP's weight count."""
    return multiple * max(1, round(8 * d_model / 3 / multiple))


def enoki(h: int) -> ModelConfig:
    """ADANA's Enoki shape for h heads (mlexpos/adana src/config/scaling_rules.yaml), with a SwiGLU MLP."""
    d_model = 64 * h
    return ModelConfig(
        vocab_size=GPT2_VOCAB, d_model=d_model, n_layers=3 * h // 4, n_heads=h, n_kv_heads=h,
        head_dim=64, d_ff=swiglu_hidden(d_model), tie_embeddings=False, max_seq_len=2048,
    )  # fmt: skip


def _cpu(vocab: int, d: int, layers: int, heads: int, kv: int, head_dim: int, seq: int) -> ModelConfig:
    return ModelConfig(
        vocab_size=vocab, d_model=d, n_layers=layers, n_heads=heads, n_kv_heads=kv,
        head_dim=head_dim, d_ff=swiglu_hidden(d), tie_embeddings=True, max_seq_len=seq,
    )  # fmt: skip


PRESETS: dict[str, ModelConfig] = {
    "tiny": _cpu(512, 64, layers=3, heads=4, kv=2, head_dim=16, seq=128),
    "mini": _cpu(4096, 128, layers=3, heads=4, kv=4, head_dim=32, seq=256),
    "small": _cpu(4096, 256, layers=6, heads=4, kv=4, head_dim=64, seq=512),
    "20m": _cpu(4096, 384, layers=10, heads=6, kv=6, head_dim=64, seq=1024),
    "134m": ModelConfig(),  # the defaults are this shape
    "qwen3-0.6b": ModelConfig(
        vocab_size=151936, d_model=1024, n_layers=28, n_heads=16, n_kv_heads=8, head_dim=128,
        d_ff=3072, tie_embeddings=True, max_seq_len=4096,
    ),  # fmt: skip
    **{f"enoki-h{h}": enoki(h) for h in ENOKI_HEADS},
}


def get_preset(name: str, vocab_size: int | None = None, **overrides: object) -> ModelConfig:
    """The named preset, optionally with another vocab_size or other fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}{did_you_mean(name, PRESETS)}; known: {', '.join(PRESETS)}")
    if vocab_size is not None:
        overrides["vocab_size"] = vocab_size
    for key in overrides:
        if key not in ModelConfig.field_names():
            raise ValueError(f"unknown ModelConfig field {key!r}{did_you_mean(key, ModelConfig.field_names())}")
    return dataclasses.replace(PRESETS[name], **overrides)


_COLUMNS = ("name", "layers", "d_model", "heads q/kv x dim", "d_ff", "vocab", "tied", "seq",
            "total", "non-emb", "FLOP/tok", "20N tokens")  # fmt: skip


def presets_table() -> str:
    """Plain-text table of every preset: shape, parameter counts, training FLOPs/token at its own
    max_seq_len, and the Chinchilla budget (20 x total parameters)."""
    rows = [_row(name, cfg) for name, cfg in PRESETS.items()]
    return text_table(_COLUMNS, rows, right=range(1, len(_COLUMNS)))  # names left-aligned, numbers right


def _row(name: str, cfg: ModelConfig) -> tuple[str, ...]:
    counts = count_params(cfg)
    return (
        name, str(cfg.n_layers), str(cfg.d_model), f"{cfg.n_heads}/{cfg.n_kv_heads} x {cfg.head_dim}",
        str(cfg.d_ff), str(cfg.vocab_size), "yes" if cfg.tie_embeddings else "no", str(cfg.max_seq_len),
        _human(counts.total), _human(counts.non_embedding), _human(flops_per_token(cfg)),
        _human(chinchilla_tokens(cfg)),
    )  # fmt: skip


def _human(n: int) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.2f}{suffix}"
    return str(n)
