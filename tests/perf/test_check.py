"""`optarena perf check`: the fused steps against the eager ones on a device (CPU here; the same code on
a GPU), and what it reports when they differ or recompile."""

import pytest
import torch

from optarena.cli import main
from optarena.perf import check


def test_fused_steps_equal_eager_on_cpu(tmp_path, capsys):
    md = tmp_path / "check.md"
    assert main(["perf", "check", "--device", "cpu", "--optimizers", "lion,grams", "--md", str(md)]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 fused steps equal their eager steps" in out
    assert "| `lion` | ok |" in out and "| 1, 1, 1, 1, 1 |" in out  # one graph, compiled at the first step
    assert md.read_text().startswith("`optarena perf check --device cpu --dtype float64 --steps 5 --optimizers "
                                     "lion,grams`: torch ")


def test_float32_has_its_own_tolerance():
    (row,) = check.run_check(["adamw-logtime-wd"], device="cpu", dtype=torch.float32, steps=3)
    assert row.ok and 0 <= row.max_rel <= check.TOLERANCES[torch.float32][0]


def test_a_difference_and_a_recompile_fail(monkeypatch, capsys):
    real = check._trajectory

    def broken(name, device, dtype, steps, fused):
        tensors, graphs = real(name, device, dtype, steps, fused)
        if not fused:
            return tensors, graphs
        tensors[0] = tensors[0] + 1e-6  # one parameter off by far more than reassociation
        return tensors, [graphs[0]] + [graphs[0] + 1] * (steps - 1)  # and a second graph at step 2

    monkeypatch.setattr(check, "_trajectory", broken)
    assert main(["perf", "check", "--device", "cpu", "--optimizers", "lion", "--steps", "2"]) == 1
    out = capsys.readouterr().out
    assert "| `lion` | **FAIL** |" in out and "0 of 1 fused steps" in out
    assert "differs: max |Δ| 1e-06" in out.replace("\\|", "|") and "recompiled: graphs after each step [1, 2]" in out


@pytest.mark.parametrize("argv, message", [
    (["--optimizers", "muon"], "no fused step for muon"),
    (["--steps", "1"], "--steps must be >= 2"),
    (["--device", "cuda:7"], "--device='cuda:7' but this machine has"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    if argv[:1] == ["--device"] and torch.cuda.is_available():
        pytest.skip("a CUDA machine may have a device 7")
    assert main(["perf", "check", *argv]) == 2
    assert message in capsys.readouterr().err
