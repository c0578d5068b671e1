"""optarena._torch: the one count of the bytes tensors hold (the bench's opt_state_bytes and the perf
tables' state memory) and the one reading of a device setting (perf's --device)."""

from __future__ import annotations

import pytest
import torch

from optarena._torch import resolve_device, tensor_bytes
from optarena.bench.worker import StepProbe
from optarena.perf import OptimBenchConfig, TrainBenchConfig, run_optim_bench, run_train_bench


def test_tensor_bytes_counts_each_storage_once_in_nested_containers():
    a = torch.zeros(10)  # 40 bytes
    b = torch.zeros(3, dtype=torch.bfloat16)  # 6 bytes
    step = torch.tensor(0.0)  # a 0-d counter: 4 bytes
    state = {0: {"exp_avg": a, "step": step, "note": "text", "lr": 0.1}, 1: [b, (a,)], 2: torch.empty(0)}
    assert tensor_bytes(state) == 40 + 6 + 4
    assert tensor_bytes([]) == 0 and tensor_bytes("not a tensor") == 0


def test_views_of_one_buffer_count_the_buffer_they_hold():
    flat = torch.zeros(100)  # a flat buffer whose views are the state
    views = {"m": flat[:30], "v": flat[30:].view(7, 10)}
    assert tensor_bytes(views) == 400  # the memory held, not 30 + 70 elements of the first view
    assert tensor_bytes(flat[:5]) == 400  # a slice keeps its whole storage alive


def test_the_bench_probe_counts_with_the_shared_rule():
    shared = torch.zeros(8)
    p, q = torch.nn.Parameter(torch.zeros(8)), torch.nn.Parameter(torch.zeros(8))
    one, two = torch.optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([q], lr=0.1, momentum=0.9)
    with StepProbe() as probe:
        for opt, x in ((one, p), (two, q)):
            x.grad = torch.ones(8)
            opt.step()
    one.state[p]["momentum_buffer"] = shared  # a tensor two optimizers share counts once
    two.state[q]["momentum_buffer"] = shared[2:]
    assert probe.state_bytes() == tensor_bytes([one.state, two.state]) == 32


def test_resolve_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"--device='cuda' but no CUDA device is available"):
        resolve_device("cuda", setting="--device")
    with pytest.raises(ValueError, match=r"run.device='cuda' but no CUDA device"):
        resolve_device("cuda", local_rank=1)
    # optarena perf reads --device through it: the mistake is a ValueError (exit 2), before any work
    with pytest.raises(ValueError, match=r"--device='cuda' but no CUDA"):
        run_optim_bench(OptimBenchConfig(model="tiny", device="cuda"))
    with pytest.raises(ValueError, match=r"--device='cuda' but no CUDA"):
        run_train_bench(TrainBenchConfig(model="tiny", device="cuda"))


def test_resolve_device_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # torch.device needs no GPU to be named
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda")  # the current GPU
    assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)  # torchrun's LOCAL_RANK
    assert resolve_device("cuda", local_rank=0) == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"run.device='cuda:1' pins one GPU; under torchrun use 'cuda'"):
        resolve_device("cuda:1", local_rank=0, world=2)
    with pytest.raises(ValueError, match=r"--device='cuda:2' but this machine has 2 CUDA device\(s\) \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2", setting="--device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"run.device='cuda:0' but this machine has no CUDA device"):
        resolve_device("cuda:0")
