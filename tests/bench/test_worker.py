"""The worker's measurements: optimizer state bytes and step time via global step hooks, throughput, and
the data's reference floors on the tokens of the run's final loss."""

from __future__ import annotations

import math

import pytest
import torch

from optarena import optim
from optarena.bench import ResultsDB, load_suite, run_suite
from optarena.bench.worker import StepProbe, mean_throughput
from optarena.data import read_shard
from optarena.data.floors import ngram_floors
from optarena.model import Transformer, get_preset

from .conftest import SOURCE
from .fakes import fake_trainer


def steps(opt, model, n=3):
    for _ in range(n):
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        opt.step()


def test_probe_measures_adamw_state_and_step_time():
    model = Transformer(get_preset("tiny", vocab_size=64))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with StepProbe() as probe:
        steps(opt, model)
    params = list(model.parameters())
    # exp_avg and exp_avg_sq in fp32 per parameter, and torch's 0-d float32 step counter
    assert probe.state_bytes() == sum(2 * 4 * p.numel() + 4 for p in params)
    assert len(probe.times) == 3 and probe.mean_step_s() > 0
    steps(opt, model)  # after the block the hooks are gone
    assert len(probe.times) == 3


@pytest.mark.parametrize("name", ["muon", "lion", "adana"])
def test_probe_sees_registry_optimizers(name):
    model = Transformer(get_preset("tiny", vocab_size=64))
    kwargs = {"total_steps": 10} if name == "adana" else {}
    opt = optim.create(name, model, **kwargs)
    with StepProbe() as probe:
        steps(opt, model, n=2)
    numel = sum(p.numel() for p in model.parameters())
    assert numel * 4 <= probe.state_bytes() <= 4 * numel * 4  # one to four fp32 buffers per parameter
    assert len(probe.times) == 2


def test_nested_optimizers_are_timed_once():
    inner = torch.optim.SGD([torch.nn.Parameter(torch.zeros(3))], lr=0.1)

    class Outer(torch.optim.SGD):
        def step(self, closure=None):
            inner.step()
            return super().step(closure)

    p = torch.nn.Parameter(torch.zeros(2))
    outer = Outer([p], lr=0.1, momentum=0.9)
    with StepProbe() as probe:
        for _ in range(2):
            p.grad = torch.ones(2)
            outer.step()
    assert len(probe.times) == 2  # the inner step is inside the outer one's time
    assert probe.state_bytes() == 2 * 4  # outer momentum buffer (the inner has no state)


def test_mean_throughput_weights_by_tokens():
    history = [{"tokens": 100, "tokens_per_s": 100.0},  # 1 s
               {"tokens": 400, "tokens_per_s": 300.0},  # 1 s
               {"tokens": 400, "tokens_per_s": 0.0, "val_loss": 1.0}]  # an eval-only entry
    assert math.isclose(mean_throughput(history), 200.0)
    assert mean_throughput([]) is None


FLOOR_SUITE = """
tokens = [512]
lr_mults = [1]
max_extend = 0
seeds = 1
[optimizers]
adamw = 1e-3
"""


def run_fake(write_suite, tmp_path, monkeypatch, **fake):
    """The suite through the real worker (jobs=0: in this process), the trainer replaced by a fake."""
    monkeypatch.setattr("optarena.train.train", fake_trainer(**fake))
    run_suite(load_suite(write_suite(FLOOR_SUITE)), tmp_path / "out", jobs=0, stream=None)
    (run,) = ResultsDB(tmp_path / "out").runs()
    return run


def test_worker_records_the_floors_on_the_tokens_of_the_final_loss(write_suite, tmp_path, monkeypatch, shard_dir):
    run = run_fake(write_suite, tmp_path, monkeypatch, final_val_tokens=1024)
    train, val = read_shard(shard_dir / "train_000000.bin"), read_shard(shard_dir / "val_000000.bin")
    expected = ngram_floors(train, val[: 1024 + 1], SOURCE.vocab_size)
    assert run["status"] == "finished" and run["final_val_tokens"] == 1024
    assert (run["unigram_floor"], run["bigram_floor"]) == (expected["unigram"], expected["bigram"])
    assert run["loss_floor"] == SOURCE.entropy_rate()  # the data's own entropy rate, kept beside them
    assert run["bigram_floor"] != ngram_floors(train, val, SOURCE.vocab_size)["bigram"]  # the whole set differs
    curve = ngram_floors(train, val[: 512 + 1], SOURCE.vocab_size)  # the fake's curve scores 512 targets
    assert (run["curve_val_tokens"], run["curve_unigram_floor"], run["curve_bigram_floor"]) == (
        512, curve["unigram"], curve["bigram"])


def test_a_floors_failure_is_a_warning_not_a_failed_run(write_suite, tmp_path, monkeypatch, caplog):
    def broken(data, val_tokens):
        raise OSError("disk gone")

    monkeypatch.setattr("optarena.data.floors.reference_floors", broken)
    run = run_fake(write_suite, tmp_path, monkeypatch)
    assert run["status"] == "finished" and run["final_val_loss"] == 3.2 and run["final_val_tokens"] == 1024
    assert run["unigram_floor"] is None and run["bigram_floor"] is None
    assert "reference floors" in caplog.text and "OSError: disk gone" in caplog.text


def test_a_diverged_run_has_no_floors(write_suite, tmp_path, monkeypatch):
    run = run_fake(write_suite, tmp_path, monkeypatch, status="diverged")
    assert run["status"] == "diverged"
    assert (run["final_val_tokens"], run["unigram_floor"], run["bigram_floor"]) == (None, None, None)
    assert (run["curve_val_tokens"], run["curve_unigram_floor"], run["curve_bigram_floor"]) == (None, None, None)


def test_worker_records_the_stability_of_the_run(write_suite, tmp_path, monkeypatch):
    """Two logged points: too few for spikes (None) but enough for the gradient-norm spread, which
    the fake's history lacks: both None, recorded as such rather than as zeros."""
    run = run_fake(write_suite, tmp_path, monkeypatch)
    assert (run["spikes"], run["max_spike"], run["grad_norm_cv"]) == (None, None, None)


def test_stability_columns_follow_the_stability_module(monkeypatch):
    from optarena.bench import worker
    from optarena.train.stability import stability

    history = [{"step": s, "train_loss": 2.0 + (0.5 if s == 30 else 0.0), "grad_norm": 1.0 + s % 3}
               for s in range(1, 41)]
    got = worker._stability_columns(history, warmup_steps=5)
    want = stability(history, 5)
    assert got == {k: want[k] for k in ("spikes", "max_spike", "grad_norm_cv", "grad_norm_p99_median")}
    assert got["spikes"] == 1 and got["max_spike"] == 0.5
