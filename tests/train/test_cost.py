"""The up-front cost estimate (train/cost.py): no false alarm on ordinary runs, a warning for a step that
takes minutes, a refusal for a micro-batch that cannot fit, and run.out checked before any work."""

from __future__ import annotations

import pytest

from optarena.train import load_config
from optarena.train.cost import check_out, preflight, step_cost


def cfg(**overrides):
    return load_config(None, {"device": "cpu", "out": "unused", **overrides})


@pytest.mark.parametrize("overrides", [{}, {"preset": "mini"}, {"preset": "small", "seq_len": 512},
                                       {"source": "synthetic", "seq_len": 128, "batch_tokens": 4096}])
def test_ordinary_cpu_runs_warn_of_nothing(overrides, monkeypatch):
    monkeypatch.setattr("torch.get_num_threads", lambda: 2)
    assert preflight(cfg(**overrides)) == []


def test_a_134m_step_on_two_cpu_threads_is_said_to_take_minutes(monkeypatch):
    monkeypatch.setattr("torch.get_num_threads", lambda: 2)
    (warning,) = preflight(cfg(preset="134m", seq_len=1024))  # 16,384 tokens x 0.86 GFLOP
    assert "at least 2 min per step on cpu" in warning


def test_a_long_sequence_on_tiny_is_mostly_attention_and_minutes_per_step(monkeypatch):
    monkeypatch.setattr("torch.get_num_threads", lambda: 2)
    c = cfg(preset="tiny", seq_len=65536, batch_tokens=65536)
    cost = step_cost(c)
    assert cost.attention_share > 0.98
    assert 9e12 < cost.flops < 1.1e13 and cost.seconds >= 60  # 12 L d_attn T per token, at 1e11 FLOP/s
    (warning,) = preflight(c)
    assert "data.seq_len=65536" in warning and "attention" in warning and "per step" in warning


def test_more_than_the_memory_is_refused_naming_the_settings():
    with pytest.raises(ValueError, match=r"data.seq_len=1048576.*GiB.*set data.micro_batch"):
        preflight(cfg(preset="tiny", seq_len=2**20, batch_tokens=2**30))
    # micro-batching the same global batch fits
    assert step_cost(cfg(preset="tiny", seq_len=2**20, batch_tokens=2**30, micro_batch=1)).activation_bytes < 2**35


def test_run_out_must_be_a_directory_that_can_be_made(tmp_path):
    (tmp_path / "file").write_text("x")
    check_out(tmp_path / "new" / "run")  # does not exist yet: fine
    with pytest.raises(ValueError, match="is a file"):
        check_out(tmp_path / "file")
    with pytest.raises(ValueError, match="is inside .*file, which is a file"):
        check_out(tmp_path / "file" / "run")
