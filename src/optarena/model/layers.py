"""Building blocks of the Qwen3 decoder: RMSNorm, RoPE, attention with QK-norm, SwiGLU MLP.

Shape legend for the suffixes on tensor names:
    B batch, T sequence position, D d_model, H query heads, G key/value heads,
    K head_dim, A attention width H*K, F d_ff (SwiGLU hidden width).

No layer has a bias (Qwen3 sets `attention_bias=False` and its MLP has none).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from optarena.model.config import ModelConfig


class RMSNorm(nn.Module):
    """y = w * x / sqrt(mean(x^2) + eps), weight initialised to 1 (Zhang & Sennrich, arXiv 1910.07467).

    The statistics are computed in at least float32, as HF Qwen3 does, so bf16 activations do not
    lose the mean square; float64 inputs stay float64 so a float64 model is exact.
    """

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_f = x.to(torch.promote_types(x.dtype, torch.float32))
        x_f = x_f * torch.rsqrt(x_f.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        # Cast back before the weight, in HF's order, so mixed precision rounds the same way.
        return self.weight * x_f.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


def rope_tables(head_dim: int, max_seq_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the RoPE angles t * theta^(-2i/K), each (T, K) in the rotate-half layout.

    Rotate-half (GPT-NeoX / HF Llama / HF Qwen3) pairs channel i with channel i + K/2, so frequency
    i appears twice: in column i and in column i + K/2. The angles are computed in float64: float32
    angles are off by ~t * 6e-8 rad, which grows to 1e-4 rad at t = 2000. The caller casts the
    tables to the activation dtype.
    """
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))  # (K/2,)
    angle_TK2 = torch.outer(torch.arange(max_seq_len, dtype=torch.float64), inv_freq)  # (T, K/2)
    angle_TK = torch.cat((angle_TK2, angle_TK2), dim=-1)  # (T, K)
    return angle_TK.cos(), angle_TK.sin()


def apply_rope(x_BHTK: torch.Tensor, cos_TK: torch.Tensor, sin_TK: torch.Tensor) -> torch.Tensor:
    """Rotate each (x_i, x_{i+K/2}) pair by its angle: x*cos + rotate_half(x)*sin."""
    x1, x2 = x_BHTK.chunk(2, dim=-1)  # (B, H, T, K/2) each
    rotated_BHTK = torch.cat((-x2, x1), dim=-1)
    return x_BHTK * cos_TK + rotated_BHTK * sin_TK


class Attention(nn.Module):
    """Causal self-attention with per-head QK-RMSNorm applied before RoPE (Qwen3), optional GQA."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.d_model, cfg.d_attn, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, cfg.d_kv, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, cfg.d_kv, bias=False)
        self.o_proj = nn.Linear(cfg.d_attn, cfg.d_model, bias=False)
        # One weight of size head_dim shared by all heads, as in Qwen3 (not one per head).
        self.q_norm = RMSNorm(cfg.head_dim, cfg.norm_eps)
        self.k_norm = RMSNorm(cfg.head_dim, cfg.norm_eps)

    def forward(self, x_BTD: torch.Tensor, cos_TK: torch.Tensor, sin_TK: torch.Tensor) -> torch.Tensor:
        B, T, _ = x_BTD.shape
        q_BTHK = self.q_proj(x_BTD).view(B, T, self.n_heads, self.head_dim)
        k_BTGK = self.k_proj(x_BTD).view(B, T, self.n_kv_heads, self.head_dim)
        v_BGTK = self.v_proj(x_BTD).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q_BHTK = apply_rope(self.q_norm(q_BTHK).transpose(1, 2), cos_TK, sin_TK)
        k_BGTK = apply_rope(self.k_norm(k_BTGK).transpose(1, 2), cos_TK, sin_TK)
        # enable_gqa lets SDPA (flash on GPU) read each kv head for its H/G query heads without
        # materialising repeated K and V; query head h uses kv head h // (H/G), as HF's repeat_kv.
        y_BHTK = F.scaled_dot_product_attention(
            q_BHTK, k_BGTK, v_BGTK, is_causal=True, enable_gqa=self.n_kv_heads != self.n_heads
        )
        y_BTA = y_BHTK.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)
        return self.o_proj(y_BTA)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)) (Shazeer, arXiv 2002.05202)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down_proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x_BTD: torch.Tensor) -> torch.Tensor:
        h_BTF = F.silu(self.gate_proj(x_BTD)) * self.up_proj(x_BTD)
        return self.down_proj(h_BTF)
