"""Transformer vs. an independent float64 forward written here from the formulas.

The reference reads weights by parameter name and uses none of optarena.model's layers:
RMSNorm, rotate-half RoPE with QK-norm before it, causal softmax attention with an explicit mask
and explicit GQA head mapping, SwiGLU, final norm and head.
"""

import math

import pytest
import torch

from optarena.model import Transformer, get_preset


def rms_norm(x, w, eps):
    return w * x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps)


def rope(x_BHTK, theta):
    K, T = x_BHTK.shape[-1], x_BHTK.shape[-2]
    out = torch.empty_like(x_BHTK)
    for i in range(K // 2):  # pair (i, i + K/2) turns at frequency theta^(-2i/K)
        angle_T = torch.arange(T, dtype=torch.float64) * math.exp(-2 * i / K * math.log(theta))
        a, b = x_BHTK[..., i], x_BHTK[..., i + K // 2]
        out[..., i] = a * torch.cos(angle_T) - b * torch.sin(angle_T)
        out[..., i + K // 2] = b * torch.cos(angle_T) + a * torch.sin(angle_T)
    return out


def attention(x_BTD, p, cfg):
    B, T, _ = x_BTD.shape
    H, G, K = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    q = (x_BTD @ p["q_proj.weight"].T).view(B, T, H, K)
    k = (x_BTD @ p["k_proj.weight"].T).view(B, T, G, K)
    v = (x_BTD @ p["v_proj.weight"].T).view(B, T, G, K)
    q = rope(rms_norm(q, p["q_norm.weight"], cfg.norm_eps).transpose(1, 2), cfg.rope_theta)
    k = rope(rms_norm(k, p["k_norm.weight"], cfg.norm_eps).transpose(1, 2), cfg.rope_theta)
    v = v.transpose(1, 2)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    heads = []
    for h in range(H):
        g = h * G // H  # query heads [g*H/G, (g+1)*H/G) share kv head g
        scores = (q[:, h] @ k[:, g].transpose(-1, -2)) / math.sqrt(K)
        heads.append(torch.softmax(scores.masked_fill(future, -math.inf), dim=-1) @ v[:, g])
    y = torch.cat(heads, dim=-1)  # (B, T, H*K), head-major like the o_proj input
    return y @ p["o_proj.weight"].T


def swiglu(x, p):
    gate, up = x @ p["gate_proj.weight"].T, x @ p["up_proj.weight"].T
    return (gate * torch.sigmoid(gate) * up) @ p["down_proj.weight"].T


def reference_logits(state, cfg, idx_BT):
    x = state["embed.weight"][idx_BT]
    for i in range(cfg.n_layers):
        layer = {k.removeprefix(f"layers.{i}."): v for k, v in state.items() if k.startswith(f"layers.{i}.")}
        attn = {k.removeprefix("attn."): v for k, v in layer.items() if k.startswith("attn.")}
        mlp = {k.removeprefix("mlp."): v for k, v in layer.items() if k.startswith("mlp.")}
        x = x + attention(rms_norm(x, layer["attn_norm.weight"], cfg.norm_eps), attn, cfg)
        x = x + swiglu(rms_norm(x, layer["mlp_norm.weight"], cfg.norm_eps), mlp)
    head = state["embed.weight"] if cfg.tie_embeddings else state["lm_head.weight"]
    return rms_norm(x, state["norm.weight"], cfg.norm_eps) @ head.T


@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("rope_theta", [1e6, 100.0])  # 100 makes every frequency turn visibly
def test_module_matches_reference_float64(tie, rope_theta):
    cfg = get_preset("tiny", tie_embeddings=tie, rope_theta=rope_theta)
    assert cfg.n_kv_heads < cfg.n_heads  # GQA on
    torch.manual_seed(0)
    model = Transformer(cfg).double()
    with torch.no_grad():  # random norm gains, so a swapped or missing gain would show
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    idx_BT = torch.randint(0, cfg.vocab_size, (2, 24))
    state = {n: p.detach() for n, p in model.named_parameters()}
    expected = reference_logits(state, cfg, idx_BT)
    torch.testing.assert_close(model(idx_BT), expected, rtol=0, atol=1e-12)
