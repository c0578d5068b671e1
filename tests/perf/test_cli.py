"""``optarena perf optim`` and ``perf train`` run end to end on the tiny preset and report every row."""

import json

import pytest
import torch

from optarena import optim
from optarena.cli import main
from optarena.model import Transformer, get_preset
from optarena.perf import OptimBenchConfig
from optarena.perf.optim_bench import _candidates


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()  # --threads sets torch's global thread count
    yield
    torch.set_num_threads(threads)


def test_perf_optim_reports_every_optimizer_with_ratios(tmp_path, capsys):
    out_json, out_md = tmp_path / "perf.json", tmp_path / "perf.md"
    code = main(["perf", "optim", "--model", "tiny", "--rounds", "1", "--threads", "1", "--no-external",
                 "--json", str(out_json), "--md", str(out_md)])
    assert code == 0
    table = capsys.readouterr().out
    record = json.loads(out_json.read_text())
    rows = {(r["name"], r["impl"]): r for r in record["rows"]}
    assert {name for name, _ in rows} == set(optim.names())
    assert {"torch for-loop", "torch foreach"} <= {impl for name, impl in rows if name == "adamw"}
    for (name, impl), row in rows.items():
        assert row["ratio"] > 0 and row["step_ms"] > 0, (name, impl, row["note"])
        assert row["state_ratio"] > 0
        assert name in table
    assert [r["note"] for r in record["rows"]].count("reference") == 1
    # state memory is what each algorithm needs: 2 buffers like AdamW, Lion 1, the three-EMA ones 3
    assert rows[("lion", "optarena")]["state_ratio"] == pytest.approx(0.5, rel=1e-3)
    assert rows[("dana-star", "optarena")]["state_ratio"] == pytest.approx(1.5, rel=1e-3)
    assert rows[("adana", "optarena")]["state_ratio"] == pytest.approx(1.0, rel=1e-3)
    assert record["environment"]["versions"]["torch"] == torch.__version__
    assert "| optimizer |" in out_md.read_text() and "Command: `optarena " in out_md.read_text()


def test_perf_optim_fused_adds_a_fused_candidate_per_arena_optimizer():
    cfg = OptimBenchConfig(model="tiny", optimizers=("lion", "adamw"), fused=True, external=False)
    candidates = _candidates(cfg, cfg.optimizers, notes=[])
    assert [(c.name, c.impl) for c in candidates] == [("lion", "optarena"), ("lion", "optarena fused"),
                                                       ("adamw", "torch (registry)")]
    model = Transformer(get_preset("tiny"))
    assert candidates[1].build(model).fused and not candidates[0].build(model).fused


def test_perf_optim_bf16_state_halves_the_state(tmp_path):
    out_json = tmp_path / "perf.json"
    code = main(["perf", "optim", "--model", "tiny", "--rounds", "1", "--threads", "1", "--no-external",
                 "--optimizers", "grams,dana-star,adamw", "--bf16-state", "--json", str(out_json)])
    assert code == 0
    rows = {(r["name"], r["impl"]): r for r in json.loads(out_json.read_text())["rows"]}
    assert ("adamw", "optarena bf16 state") not in rows  # torch's own AdamW has no such option
    for name, buffers in (("grams", 2), ("dana-star", 3)):
        assert rows[(name, "optarena")]["state_ratio"] == pytest.approx(buffers / 2, rel=1e-3)
        row = rows[(name, "optarena bf16 state")]
        assert row["step_ms"] > 0 and row["state_ratio"] == pytest.approx(buffers / 4, rel=1e-3)


def test_perf_train_reports_ours_and_hf(tmp_path, capsys):
    pytest.importorskip("transformers")
    out_json = tmp_path / "train.json"
    code = main(["perf", "train", "--model", "tiny", "--batch", "2", "--seq-len", "32", "--steps", "1",
                 "--threads", "1", "--peak-flops", "1e12", "--json", str(out_json)])
    assert code == 0
    assert "HF Qwen3ForCausalLM" in capsys.readouterr().out
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["name"] for r in rows] == ["optarena Transformer", "HF Qwen3ForCausalLM"]
    for row in rows:
        assert row["tokens_per_s"] > 0 and 0 < row["mfu"] < 1
    assert rows[0]["ratio"] == 1.0


def test_perf_train_mfu_is_na_on_cpu_without_peak(capsys):
    code = main(["perf", "train", "--model", "tiny", "--batch", "1", "--seq-len", "16", "--steps", "1",
                 "--threads", "1", "--no-hf"])
    assert code == 0
    assert "n/a" in capsys.readouterr().out


def test_perf_train_rejects_a_sequence_longer_than_the_preset(capsys):
    assert main(["perf", "train", "--model", "tiny", "--seq-len", "4096", "--no-hf"]) == 2
    assert "max_seq_len" in capsys.readouterr().err
