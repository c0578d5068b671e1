"""`Transformer`: a Qwen3-style decoder-only language model in plain PyTorch.

Architecture (HF `Qwen3ForCausalLM`, checked logit-for-logit in tests/model/test_hf_parity.py):
token embedding -> n_layers x [x += attn(attn_norm(x)); x += mlp(mlp_norm(x))] -> norm -> lm_head.
Pre-norm RMSNorm (eps 1e-6), QK-RMSNorm per head before RoPE (theta 1e6), SwiGLU MLP, no biases,
optional GQA, tied or untied embeddings; attention by `F.scaled_dot_product_attention(is_causal=True)`.

Parameter names state their role, because the optimizer factory assigns roles by name:
    embed.weight                                    token embedding (also the head when tied)
    layers.{i}.attn_norm.weight, layers.{i}.mlp_norm.weight, norm.weight     RMSNorm gains
    layers.{i}.attn.{q_proj,k_proj,v_proj,o_proj}.weight                     attention matrices
    layers.{i}.attn.{q_norm,k_norm}.weight                                   QK-norm gains (head_dim)
    layers.{i}.mlp.{gate_proj,up_proj,down_proj}.weight                      SwiGLU matrices
    lm_head.weight                                  output projection, only when untied
When tied, `lm_head.weight` *is* `embed.weight`, so `named_parameters()` lists it once, as `embed.weight`.

Shape legend: B batch, T position, D d_model, V vocab_size (see layers.py for the rest).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from optarena.model.config import ModelConfig
from optarena.model.layers import MLP, Attention, RMSNorm, rope_tables

_RESIDUAL_OUTPUTS = ("o_proj", "down_proj")


class Block(nn.Module):
    """One pre-norm decoder layer."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x_BTD: torch.Tensor, cos_TK: torch.Tensor, sin_TK: torch.Tensor) -> torch.Tensor:
        x_BTD = x_BTD + self.attn(self.attn_norm(x_BTD), cos_TK, sin_TK)
        return x_BTD + self.mlp(self.mlp_norm(x_BTD))


class Transformer(nn.Module):
    """Qwen3-style decoder. `forward(idx)` gives logits; `forward(idx, targets)` the mean loss.

    Initialisation (`init_weights`, run by the constructor):
      * every nn.Linear and the embedding: normal(0, init_std), init_std = 0.02 by default
        (GPT-2 / nanoGPT / the EPFL 124M baseline, so the 134m preset starts where they start);
      * residual-stream outputs, attn.o_proj and mlp.down_proj: normal(0, init_std / sqrt(2 n_layers)),
        GPT-2's scaling, so the residual stream's variance at init does not grow with depth
        (each layer adds two such outputs);
      * an untied lm_head: normal(0, init_std) like the other matrices;
      * every RMSNorm gain (attn_norm, mlp_norm, q_norm, k_norm, norm): 1.
    To build a large model without memory: construct under `torch.device("meta")`, then
    `model.to_empty(device=...)` and `model.init_weights()` (which also rebuilds the RoPE tables).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        # float64 tables (see rope_tables); non-persistent: they are a function of cfg, not state.
        table_shape = (cfg.max_seq_len, cfg.head_dim)
        self.register_buffer("rope_cos_TK", torch.empty(table_shape, dtype=torch.float64), persistent=False)
        self.register_buffer("rope_sin_TK", torch.empty(table_shape, dtype=torch.float64), persistent=False)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """(Re)initialise every parameter and the RoPE tables as documented in the class docstring."""
        cfg = self.cfg
        if cfg.tie_embeddings:  # here, not only in __init__: Module.to_empty() unties shared tensors
            self.lm_head.weight = self.embed.weight
        residual_std = cfg.init_std / math.sqrt(2 * cfg.n_layers)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                std = residual_std if name.endswith(_RESIDUAL_OUTPUTS) else cfg.init_std
                nn.init.normal_(module.weight, mean=0.0, std=std)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=cfg.init_std)
            elif isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)
        cos_TK, sin_TK = rope_tables(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta)
        self.rope_cos_TK.copy_(cos_TK)
        self.rope_sin_TK.copy_(sin_TK)

    def forward(self, idx_BT: torch.Tensor, targets_BT: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, V) when targets_BT is None, else the mean cross-entropy as a float32 scalar.

        Targets equal to -1 are ignored (padding / document boundaries).
        """
        T = idx_BT.shape[1]
        if T > self.cfg.max_seq_len:
            raise ValueError(f"sequence length {T} exceeds ModelConfig.max_seq_len={self.cfg.max_seq_len}")
        x_BTD = self.embed(idx_BT)
        # Cast once per step to the residual dtype (float32 under autocast: the embedding is not autocast).
        cos_TK = self.rope_cos_TK[:T].to(x_BTD.dtype)
        sin_TK = self.rope_sin_TK[:T].to(x_BTD.dtype)
        for layer in self.layers:
            x_BTD = layer(x_BTD, cos_TK, sin_TK)
        logits_BTV = self.lm_head(self.norm(x_BTD))
        if targets_BT is None:
            return logits_BTV
        # Log-softmax over V in float32 even under autocast: bf16 keeps 8 mantissa bits, too few
        # for a log-sum-exp over tens of thousands of logits.
        return F.cross_entropy(
            logits_BTV.float().view(-1, logits_BTV.shape[-1]), targets_BT.reshape(-1), ignore_index=-1
        )
