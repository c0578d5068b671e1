"""Transformer computes HF transformers' Qwen3ForCausalLM: same weights, same logits.

Stock HF computes RMSNorm statistics and RoPE angles in float32 even for a float64 model, so the
stock comparison agrees to ~1e-6. With those two float32 casts lifted (monkeypatched to the same
formulas in the input's dtype) the float64 logits agree to 1e-10: every other operation is Qwen3's.
"""

import pytest
import torch

from optarena.model import Transformer, get_preset
from optarena.model.hf import copy_into_hf, hf_name, to_hf_qwen3_config

transformers = pytest.importorskip("transformers")
qwen3 = pytest.importorskip("transformers.models.qwen3.modeling_qwen3")


def rms_norm_in_input_dtype(self, x):
    return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon))


def rope_in_input_dtype(self, x, position_ids):
    dim = 2 * self.inv_freq.shape[0]
    theta = self.config.rope_parameters["rope_theta"]
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=x.dtype) / dim))
    angle = position_ids[..., None].to(x.dtype) * inv_freq
    angle = torch.cat((angle, angle), dim=-1)
    return angle.cos(), angle.sin()


def paired_models(tie: bool):
    cfg = get_preset("tiny", tie_embeddings=tie, rope_theta=1000.0)
    torch.manual_seed(0)
    ours = Transformer(cfg).double()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    hf_cfg = transformers.Qwen3Config(**to_hf_qwen3_config(cfg), attn_implementation="sdpa")
    theirs = transformers.Qwen3ForCausalLM(hf_cfg).double().eval()
    copy_into_hf(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize(
    ("tie", "exact"), [(True, True), (False, True), (False, False)], ids=["tied", "untied", "untied-stock-hf"]
)
def test_logits_equal_hf_qwen3(tie, exact, monkeypatch):
    if exact:
        monkeypatch.setattr(qwen3.Qwen3RMSNorm, "forward", rms_norm_in_input_dtype)
        monkeypatch.setattr(qwen3.Qwen3RotaryEmbedding, "forward", rope_in_input_dtype)
    ours, theirs = paired_models(tie)
    idx_BT = torch.randint(0, ours.cfg.vocab_size, (2, 40))
    with torch.no_grad():
        expected = theirs(input_ids=idx_BT).logits
        got = ours(idx_BT)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10 if exact else 1e-5)
    assert expected.abs().mean() > 0.05  # the comparison is not between two near-zero tensors


def test_every_parameter_has_an_hf_name():
    ours, theirs = paired_models(tie=False)
    hf_names = {n for n, _ in theirs.named_parameters()}
    assert {hf_name(n) for n, _ in ours.named_parameters()} == hf_names
