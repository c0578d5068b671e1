"""ModelConfig validation and preset lookup."""

import dataclasses

import pytest

from optarena.model import PRESETS, ModelConfig, get_preset


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"n_heads": 12, "n_kv_heads": 5}, "n_heads=12"),
        ({"head_dim": 63}, "head_dim=63"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"d_model": -8}, "d_model"),
        ({"n_layers": 2.0}, "n_layers"),
        ({"n_layers": True}, "n_layers"),
        ({"d_ff": None}, "d_ff"),
        ({"max_seq_len": 0}, "max_seq_len"),
        ({"rope_theta": 0.0}, "rope_theta"),
        ({"norm_eps": -1e-6}, "norm_eps"),
        ({"init_std": float("nan")}, "init_std"),
        ({"tie_embeddings": 1}, "tie_embeddings"),
    ],
)
def test_invalid_config_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**overrides)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ModelConfig().d_model = 1


def test_get_preset_overrides_vocab_and_fields():
    cfg = get_preset("134m", vocab_size=4096, max_seq_len=2048)
    assert (cfg.vocab_size, cfg.max_seq_len, cfg.d_model) == (4096, 2048, 768)
    assert PRESETS["134m"].vocab_size == 50304  # the registry entry is unchanged


def test_get_preset_unknown_names_suggest_the_nearest():
    with pytest.raises(ValueError, match="did you mean 'enoki-h12'"):
        get_preset("enoki_h12")
    with pytest.raises(ValueError, match="did you mean 'n_layers'"):
        get_preset("tiny", n_layer=3)


def test_get_preset_validates_the_result():
    with pytest.raises(ValueError, match="n_kv_heads"):
        get_preset("tiny", n_kv_heads=3)


@pytest.mark.parametrize("h", [2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40])
def test_enoki_ladder_follows_adana_shape(h):
    cfg = PRESETS[f"enoki-h{h}"]
    assert (cfg.n_heads, cfg.head_dim, cfg.d_model, cfg.n_layers) == (h, 64, 64 * h, (3 * h) // 4)
    assert cfg.d_ff % 64 == 0 and abs(cfg.d_ff - 8 * cfg.d_model / 3) <= 32
    assert not cfg.tie_embeddings and cfg.vocab_size == 50304
