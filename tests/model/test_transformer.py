"""Transformer: shapes, loss, causality, tying, parameter names, initialisation."""

import dataclasses
import math
import re

import pytest
import torch
import torch.nn.functional as F

from optarena.model import ModelConfig, Transformer, get_preset

NAME_PATTERNS = [
    r"embed\.weight",
    r"layers\.\d+\.attn_norm\.weight",
    r"layers\.\d+\.attn\.(q_proj|k_proj|v_proj|o_proj|q_norm|k_norm)\.weight",
    r"layers\.\d+\.mlp_norm\.weight",
    r"layers\.\d+\.mlp\.(gate_proj|up_proj|down_proj)\.weight",
    r"norm\.weight",
    r"lm_head\.weight",
]


def tiny(**overrides) -> Transformer:
    torch.manual_seed(0)
    return Transformer(get_preset("tiny", **overrides))


def test_shapes_and_loss_equals_cross_entropy():
    model = tiny()
    idx_BT = torch.randint(0, 512, (3, 17))
    targets_BT = torch.randint(0, 512, (3, 17))
    logits_BTV = model(idx_BT)
    assert logits_BTV.shape == (3, 17, 512)
    loss = model(idx_BT, targets_BT)
    assert loss.shape == () and loss.dtype == torch.float32
    torch.testing.assert_close(loss, F.cross_entropy(logits_BTV.reshape(-1, 512), targets_BT.reshape(-1)))


def test_loss_ignores_minus_one():
    model = tiny()
    idx_BT = torch.randint(0, 512, (2, 9))
    targets_BT = torch.randint(0, 512, (2, 9))
    masked_BT = targets_BT.clone()
    masked_BT[:, 5:] = -1
    logits_BTV = model(idx_BT)
    expected = F.cross_entropy(logits_BTV[:, :5].reshape(-1, 512), targets_BT[:, :5].reshape(-1))
    torch.testing.assert_close(model(idx_BT, masked_BT), expected)


def test_loss_is_float32_under_bf16_autocast():
    model = tiny()
    idx_BT = torch.randint(0, 512, (2, 8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(idx_BT).dtype == torch.bfloat16
        loss = model(idx_BT, idx_BT)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, model(idx_BT, idx_BT), atol=0.05, rtol=0)


@pytest.mark.parametrize("t", [0, 5, 11])
def test_causal_changing_token_t_leaves_earlier_logits(t):
    model = tiny().double()
    idx_BT = torch.randint(0, 512, (2, 12))
    changed_BT = idx_BT.clone()
    changed_BT[:, t] = (changed_BT[:, t] + 1) % 512
    before, after = model(idx_BT), model(changed_BT)
    torch.testing.assert_close(before[:, :t], after[:, :t], rtol=0, atol=0)
    assert not torch.allclose(before[:, t], after[:, t])


def test_sequence_longer_than_max_seq_len_is_rejected():
    with pytest.raises(ValueError, match="max_seq_len"):
        tiny(max_seq_len=8)(torch.zeros(1, 9, dtype=torch.long))


@pytest.mark.parametrize("tie", [True, False])
def test_parameter_names_say_their_role(tie):
    model = tiny(tie_embeddings=tie)
    names = [n for n, _ in model.named_parameters()]
    assert all(any(re.fullmatch(p, n) for p in NAME_PATTERNS) for n in names), names
    assert ("lm_head.weight" in names) == (not tie)
    assert len(names) == 1 + 11 * 3 + 1 + (not tie)  # embed, 11 per layer, final norm, head
    norm_classes = {type(model.get_submodule(n.rsplit(".", 1)[0])).__name__ for n in names if "norm" in n}
    assert norm_classes == {"RMSNorm"}


def test_tied_embeddings_share_one_tensor_untied_do_not():
    tied, untied = tiny(tie_embeddings=True), tiny(tie_embeddings=False)
    assert tied.lm_head.weight is tied.embed.weight
    assert untied.lm_head.weight.data_ptr() != untied.embed.weight.data_ptr()
    assert not torch.equal(untied.lm_head.weight, untied.embed.weight)


def test_meta_build_then_materialise_keeps_the_tie_and_rope():
    with torch.device("meta"):
        model = Transformer(get_preset("tiny"))
    model.to_empty(device="cpu")
    model.init_weights()
    assert model.lm_head.weight is model.embed.weight
    torch.testing.assert_close(model.rope_cos_TK, tiny().rope_cos_TK)


def test_no_biases_anywhere():
    assert all(m.bias is None for m in tiny().modules() if isinstance(m, torch.nn.Linear))


def test_init_statistics():
    cfg = ModelConfig(
        vocab_size=1024, d_model=256, n_layers=8, n_heads=4, n_kv_heads=4, head_dim=64, d_ff=704, tie_embeddings=False
    )
    torch.manual_seed(0)
    params = dict(Transformer(cfg).named_parameters())
    residual_std = 0.02 / math.sqrt(2 * 8)
    for name, p in params.items():
        if "norm" in name:
            assert torch.all(p == 1), name
        else:
            expected = residual_std if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
            assert abs(p.std().item() / expected - 1) < 0.03, name
            assert abs(p.mean().item()) < 0.1 * expected, name


def test_gradients_reach_every_parameter():
    model = tiny(tie_embeddings=False)
    model(torch.randint(0, 512, (2, 8)), torch.randint(0, 512, (2, 8))).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_replacing_config_fields_changes_the_model():
    cfg = dataclasses.replace(get_preset("tiny"), n_kv_heads=4)
    assert Transformer(cfg).layers[0].attn.k_proj.weight.shape == (64, 64)
