"""What one training step will cost, estimated from the config before anything is built (`preflight`).

A long sequence makes attention quadratic: `tiny` at data.seq_len 65536 spends ~99% of its FLOPs in
QK^T and AV, and one step takes minutes on a CPU, with nothing on the screen. `preflight` says so up
front, and refuses a micro-batch whose activations cannot fit in the device's memory at all.

    FLOPs per step     flops_per_token (optarena.model.counting) x the global batch's tokens
    seconds per step   FLOPs / an optimistic rate (CPU_FLOPS_PER_THREAD x torch threads, CUDA_FLOPS):
                       a lower bound, so a warning is never a false alarm
    memory per rank    a lower bound: weights, gradients and two optimizer buffers (fp32), plus the
                       activations one micro-batch keeps for backward (FLASH_ACTIVATIONS values per
                       token and layer, attention without its T x T matrix, as SDPA's flash kernels
                       run it) and its float32 logits

The device's memory: total RAM on the CPU, the GPU's total memory on CUDA. Nothing here allocates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from optarena.model import ModelConfig, count_params, flops_per_token

from .config import TrainConfig

CPU_FLOPS_PER_THREAD = 5e10  # above what torch reaches on one core (measured ~4.5e10 on SDPA, less on matmuls)
CUDA_FLOPS = 4e14  # about half an H100's dense bf16 peak: more than a training step reaches
SLOW_STEP_S = 10.0  # warn when one step takes at least this long
MEMORY_WARN = 0.8  # warn when the lower bound exceeds this share of the device's memory
GIB = 2**30


@dataclass(frozen=True)
class StepCost:
    flops: float  # one optimizer step, forward and backward, all ranks together
    attention_share: float  # of those, the share of QK^T and AV
    seconds: float  # lower bound on one step's time on this device
    memory_bytes: float  # lower bound on one rank's memory
    activation_bytes: float  # of which one micro-batch's activations and logits
    device: str  # "cpu" or "cuda:N"
    device_memory: float | None  # bytes; None when unknown


def step_cost(cfg: TrainConfig, world_size: int = 1) -> StepCost:
    """The estimate for `cfg` on this machine's device (run.device), at the preset's vocabulary
    unless model.vocab_size sets one (the data's may be larger: the estimate stays a lower bound)."""
    from .plan import model_config

    vocab = cfg.model.vocab_size or _preset_vocab(cfg.model.preset)
    model = model_config(cfg, vocab)
    T, batch = cfg.data.seq_len, cfg.data.batch_tokens
    per_token = flops_per_token(model, T)
    attention = 12 * model.n_layers * model.d_attn * T
    flops = float(per_token) * batch
    device, rate, memory, bf16 = _device(cfg.run.device, cfg.run.dtype)
    per_rank_seqs = max(1, batch // T // max(1, world_size))
    micro_tokens = (cfg.data.micro_batch or per_rank_seqs) * T
    activations = micro_tokens * _activation_bytes_per_token(model, 2 if bf16 else 4)
    weights = 16 * count_params(model).total  # fp32 weights, gradients, two optimizer buffers
    return StepCost(flops, attention / per_token, flops / world_size / rate, weights + activations,
                    activations, device, memory)


def preflight(cfg: TrainConfig, world_size: int = 1) -> list[str]:
    """Checks before a run starts, cheap (no data read, no model built): run.out must be a directory
    that can be made and written, and one micro-batch must fit in the device's memory; else a
    ValueError naming the setting. Returns warnings to print: a step estimated at SLOW_STEP_S or
    more, or memory close to the device's."""
    check_out(cfg.run.out)
    cost = step_cost(cfg, world_size)
    d = cfg.data
    shape = (f"data.seq_len={d.seq_len}, data.batch_tokens={d.batch_tokens}"
             + (f", data.micro_batch={d.micro_batch}" if d.micro_batch else ""))
    if cost.device_memory and cost.memory_bytes > cost.device_memory:
        split = (" or set data.micro_batch to accumulate smaller micro-batches"
                 if (d.micro_batch or d.batch_tokens // d.seq_len) > 1 else "")
        raise ValueError(
            f"{shape} on model {cfg.model.preset!r} needs at least {cost.memory_bytes / GIB:,.1f} GiB "
            f"({cost.activation_bytes / GIB:,.1f} GiB of it one micro-batch's activations), more than the "
            f"{cost.device_memory / GIB:,.1f} GiB of {cost.device}; lower data.seq_len{split}")
    warnings = []
    if cost.seconds >= SLOW_STEP_S:
        attention = (f", {cost.attention_share:.0%} of it attention over {d.seq_len:,} positions"
                     if cost.attention_share >= 0.5 else "")
        warnings.append(f"{shape} on model {cfg.model.preset!r}: one step is ~{cost.flops:.2g} FLOPs"
                        f"{attention}, at least {_duration(cost.seconds)} per step on {cost.device}, "
                        "and nothing is shown before the first log point; lower data.seq_len or "
                        "data.batch_tokens for a faster run")
    if cost.device_memory and cost.memory_bytes > MEMORY_WARN * cost.device_memory:
        warnings.append(f"{shape} on model {cfg.model.preset!r} needs at least "
                        f"{cost.memory_bytes / GIB:,.1f} GiB of the {cost.device_memory / GIB:,.1f} GiB of "
                        f"{cost.device}; set data.micro_batch if it runs out of memory")
    return warnings


def check_out(out: str | Path) -> None:
    """run.out must be, or be creatable as, a writable directory: a file in its place would only fail
    at the first write, after the data is loaded and the model built."""
    path = Path(out).expanduser()
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        what = "is a file" if existing == path else f"is inside {existing}, which is a file"
        raise ValueError(f"run.out={str(out)!r} {what}, not a directory; choose another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"run.out={str(out)!r}: {existing} is not writable; choose another --out")


def _activation_bytes_per_token(model: ModelConfig, width: int) -> float:
    """What backward needs per token, at least: per layer the norms' and projections' inputs, q, k, v,
    the attention output and the SwiGLU's three hidden tensors; then float32 logits and log-softmax."""
    per_layer = 4 * model.d_model + 3 * model.d_attn + 2 * model.d_kv + 3 * model.d_ff
    return model.n_layers * per_layer * width + 2 * model.vocab_size * 4


def _device(setting: str, dtype: str) -> tuple[str, float, float | None, bool]:
    """(name, FLOP/s assumed, memory in bytes or None, bf16?) of the device run.device names."""
    import torch

    cuda = setting.startswith("cuda") or (setting == "auto" and torch.cuda.is_available())
    if cuda and torch.cuda.is_available():
        index = int(setting.partition(":")[2] or os.environ.get("LOCAL_RANK", 0))
        memory = float(torch.cuda.get_device_properties(index).total_memory)
        return f"cuda:{index}", CUDA_FLOPS, memory, dtype != "float32"
    return "cpu", CPU_FLOPS_PER_THREAD * torch.get_num_threads(), _ram_bytes(), dtype == "bfloat16"


def _ram_bytes() -> float | None:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not on every platform
        return None


def _preset_vocab(preset: str) -> int:
    from optarena.model import get_preset

    return get_preset(preset).vocab_size


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
