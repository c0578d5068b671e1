"""``optarena perf train``: tokens/s, MFU and peak memory of a training step, beside HF's Qwen3.

A step is forward + backward + optimizer step on fixed random tokens (B, T): our ``Transformer`` and,
when transformers is installed, ``Qwen3ForCausalLM`` of the same shape and weights (optarena.model.hf),
with the same optimizer and the same loss (float32 cross-entropy over the logits). The two steps are
timed in interleaved rounds, best of N each; bf16 autocast on CUDA, float32 on CPU.

MFU = flops_per_token(cfg, T) · tokens/s / peak FLOP/s (optarena.model.counting's PaLM convention). The
peak comes from ``PEAK_FLOPS`` by GPU name, or ``--peak-flops``; on CPU it is n/a unless given.

Peak memory = the model's weights and optimizer state + the step's peak allocation above them
(gradients, activations, temporaries): CUDA's allocator statistics, or on CPU the allocation events of
torch's profiler (timing.PeakMemory), so that both models are measured alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from optarena import optim
from optarena._torch import resolve_device, tensor_bytes
from optarena.model import Transformer, flops_per_token, get_preset
from optarena.model.hf import copy_into_hf, to_hf_qwen3_config
from optarena.perf.timing import PeakMemory, best_times

# bf16 dense peak FLOP/s by GPU name (first match)
PEAK_FLOPS = (("H100", 989e12), ("H200", 989e12), ("A100", 312e12))


@dataclass(frozen=True)
class TrainBenchConfig:
    model: str = "134m"
    batch: int = 8
    seq_len: int | None = None  # None: the preset's max_seq_len
    steps: int = 10  # timed rounds (best of)
    clock: str = "wall"  # or "cpu": the process's CPU time (see optarena.perf.timing)
    warmup: int = 2
    compile: bool = False  # torch.compile both models
    device: str = "auto"
    optimizer: str = "adamw"
    lr: float = 1e-4
    hf: bool = True  # also time transformers' Qwen3ForCausalLM, when installed
    peak_flops: float | None = None
    seed: int = 0


@dataclass
class TrainRow:
    name: str
    step_ms: float | None = None
    tokens_per_s: float | None = None
    ratio: float | None = None  # tokens/s over ours
    mfu: float | None = None
    peak_mb: float | None = None
    note: str = ""


@dataclass
class TrainBench:
    config: TrainBenchConfig
    device: str
    seq_len: int
    flops_per_token: int
    peak_flops: float | None
    rows: list[TrainRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_train_bench(cfg: TrainBenchConfig, progress: Callable[[str], None] = lambda _: None) -> TrainBench:
    device = resolve_device(cfg.device, setting="--device")
    model_cfg = get_preset(cfg.model)
    T = cfg.seq_len or model_cfg.max_seq_len
    if T > model_cfg.max_seq_len:
        raise ValueError(f"--seq-len {T} exceeds the {cfg.model} preset's max_seq_len {model_cfg.max_seq_len}")
    bench = TrainBench(cfg, str(device), T, flops_per_token(model_cfg, T), _peak_flops(cfg, device))
    torch.manual_seed(cfg.seed)
    tokens = torch.randint(0, model_cfg.vocab_size, (cfg.batch, T + 1), device=device)
    x, y = tokens[:, :-1], tokens[:, 1:]
    ours = Transformer(model_cfg).to(device)
    models = {"optarena Transformer": (ours, _our_loss)}
    hf = _hf_model(ours, bench.notes) if cfg.hf else None
    if hf is not None:
        models["HF Qwen3ForCausalLM"] = (hf.to(device), _hf_loss)
    steps, rows = {}, {}
    for name, (model, loss_fn) in models.items():
        progress(name)
        steps[name], rows[name] = _prepare(cfg, device, name, model, loss_fn, x, y)
    times = best_times(steps, cfg.steps, device, clock=cfg.clock)
    for name, row in rows.items():
        row.step_ms = 1e3 * times[name]
        row.tokens_per_s = cfg.batch * T / times[name]
        row.ratio = row.tokens_per_s / (cfg.batch * T / times["optarena Transformer"])
        if bench.peak_flops:
            row.mfu = bench.flops_per_token * row.tokens_per_s / bench.peak_flops
        bench.rows.append(row)
    return bench


def _prepare(cfg: TrainBenchConfig, device: torch.device, name: str, model: nn.Module, loss_fn, x, y):
    """A step closure, warmed up, and its row with the peak memory filled in."""
    model.train()
    opt = optim.create(cfg.optimizer, model, lr=cfg.lr)
    forward = torch.compile(model) if cfg.compile else model

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = loss_fn(forward, x, y)
        loss.backward()
        opt.step()

    for _ in range(cfg.warmup):
        step()
    # zero_grad(set_to_none) frees the gradients first, so the step's peak includes the new ones
    resident = tensor_bytes([list(model.parameters()), opt.state])
    with PeakMemory(device) as mem:
        step()
    return step, TrainRow(name, peak_mb=(resident + mem.peak) / 2**20, note="compiled" if cfg.compile else "")


def _our_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return model(x, y)


def _hf_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(input_ids=x).logits
    return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.reshape(-1))  # as Transformer's


def _hf_model(ours: Transformer, notes: list[str]) -> nn.Module | None:
    try:
        import transformers
    except ImportError:
        notes.append("transformers is not installed: no HF Qwen3 row")
        return None
    hf_cfg = transformers.Qwen3Config(**to_hf_qwen3_config(ours.cfg), attn_implementation="sdpa")
    hf = transformers.Qwen3ForCausalLM(hf_cfg)
    copy_into_hf(ours, hf)
    return hf


def _peak_flops(cfg: TrainBenchConfig, device: torch.device) -> float | None:
    if cfg.peak_flops is not None:
        return cfg.peak_flops
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_FLOPS if key in name), None)
