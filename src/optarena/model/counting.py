"""Parameter, FLOP and token-budget arithmetic for a `ModelConfig`, by formula (no model built).

Conventions (one each, used everywhere in optarena):
  * Parameters. `total` counts every trainable tensor once: a tied head is not counted twice.
    `non_embedding` = total minus the embedding matrix and, when untied, minus lm_head (V x D each);
    it keeps every norm gain. tests/model/test_param_counting.py checks both against built modules.
  * FLOPs per token for training (forward + backward = 3 x forward, 2 FLOPs per multiply-add):
        6 * (N_non_embedding + V * D) + 12 * n_layers * (n_heads * head_dim) * seq_len.
    The first term is the matmuls: every non-embedding weight plus the output projection, which
    is a real V x D matmul whether tied or not (the embedding lookup costs nothing). The second term
    is QK^T and AV over the full T x T square (causal masking not discounted), as in PaLM's MFU
    (arXiv 2204.02311, App. B). For a tied model this is PaLM's 6N + 12LHQT with N = total, and it
    reproduces the 0.86 GFLOP/token usually quoted for GPT-2-124M's MFU.
  * Chinchilla budget (Hoffmann et al., arXiv 2203.15556): tokens = 20 x *total* parameters by
    default, as ADANA's Enoki ladder does (T = 20 N_total / batch). `count="non_embedding"` gives
    Kaplan/Marin-style budgets; at d=768 with V=50304 the two differ by ~1.45x, so say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from optarena.model.config import ModelConfig


@dataclass(frozen=True)
class ParamCount:
    total: int
    non_embedding: int


def count_params(cfg: ModelConfig) -> ParamCount:
    """Exact number of trainable scalars of `Transformer(cfg)`, from the shapes alone."""
    D, K = cfg.d_model, cfg.head_dim
    attn = D * cfg.d_attn + 2 * D * cfg.d_kv + cfg.d_attn * D + 2 * K  # q, k, v, o; q_norm, k_norm
    mlp = 3 * D * cfg.d_ff  # gate, up, down
    per_layer = attn + mlp + 2 * D  # + attn_norm, mlp_norm
    non_embedding = cfg.n_layers * per_layer + D  # + final norm
    num_vocab_matrices = 1 if cfg.tie_embeddings else 2
    return ParamCount(total=non_embedding + num_vocab_matrices * cfg.vocab_size * D, non_embedding=non_embedding)


def flops_per_token(cfg: ModelConfig, seq_len: int | None = None) -> int:
    """Training FLOPs per token (forward + backward) at `seq_len` (default cfg.max_seq_len)."""
    T = cfg.max_seq_len if seq_len is None else seq_len
    matmul_params = count_params(cfg).non_embedding + cfg.vocab_size * cfg.d_model
    return 6 * matmul_params + 12 * cfg.n_layers * cfg.d_attn * T


def chinchilla_tokens(
    cfg: ModelConfig, ratio: float = 20.0, count: Literal["total", "non_embedding"] = "total"
) -> int:
    """Token budget = ratio x parameters (total by default; see the module docstring)."""
    counts = count_params(cfg)
    if count == "total":
        return int(ratio * counts.total)
    if count == "non_embedding":
        return int(ratio * counts.non_embedding)
    raise ValueError(f"count must be 'total' or 'non_embedding', got {count!r}")
