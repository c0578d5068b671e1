"""Everything a run trains with, built from the config: model, optimizer, schedule, data, precision."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from optarena import optim
from optarena.data import DataSource, TokenLoader, ValidationSet, validation_batches
from optarena.model import Transformer
from optarena.optim.base import ArenaOptimizer

from .config import TrainConfig, optimizer_class
from .distributed import Dist
from .plan import Plan
from .schedule import lr_factor

Autocast = Callable[[], contextlib.AbstractContextManager]


@dataclass
class Parts:
    model: nn.Module  # the bare model: parameter names, checkpoints
    train_model: nn.Module  # what the training step calls: compiled and/or DDP-wrapped
    eval_model: nn.Module  # compiled or bare, never DDP (evaluation needs no gradient sync)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    loader: TokenLoader
    val_prefix: ValidationSet  # the fixed prefix scored during training
    val_full: ValidationSet  # the whole validation set (or its final_eval_tokens), scored at the end
    autocast: Autocast


def build(cfg: TrainConfig, plan: Plan, data: DataSource, dist: Dist) -> Parts:
    model = make_model(plan, cfg.run.seed).to(dist.device)
    sharded = dist.enabled and cfg.run.parallel == "fsdp"
    autocast = autocast_for(cfg.run.dtype, dist.device)
    if sharded:
        bf16 = autocast is not contextlib.nullcontext
        shard(model, bf16)
        autocast = contextlib.nullcontext  # FSDP2's policy casts the weights for compute
    compiled = torch.compile(model) if cfg.run.compile else model
    train_model = compiled
    if dist.enabled and not sharded:
        train_model = DDP(compiled, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)
    optimizer = make_optimizer(cfg, model, plan.total_steps)
    if isinstance(optimizer, ArenaOptimizer) and fuse_pays(cfg.optim.fused, model, plan.total_steps, dist.device):
        optimizer.fuse()
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg.schedule, plan.total_steps))
    loader = TokenLoader(data.train, plan.batch_seqs, plan.seq_len, rank=dist.rank,
                         world_size=dist.world_size, seed=cfg.run.seed, shuffle=cfg.data.shuffle)
    val_batch = plan.micro_batch * dist.world_size

    def val(max_tokens: int | None) -> ValidationSet:
        return validation_batches(data.val, plan.seq_len, val_batch, max_tokens,
                                  rank=dist.rank, world_size=dist.world_size)

    return Parts(model, train_model, compiled, optimizer, scheduler, loader,
                 val(cfg.log.eval_tokens), val(cfg.log.final_eval_tokens), autocast)


def shard(model: Transformer, bf16: bool) -> None:
    """FSDP2 (torch.distributed.fsdp.fully_shard): every decoder block, then the root (embedding, final
    norm, head), each a unit whose parameters are all-gathered for its forward and backward and whose
    gradients are reduce-scattered; the parameters become DTensors sharded on dim 0 across the ranks.
    With bf16, compute runs on bf16 copies of the fp32 master weights and gradients are reduced in fp32."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else None
    kw = {"mp_policy": policy} if policy is not None else {}
    for block in model.layers:
        fully_shard(block, **kw)
    fully_shard(model, **kw)


def make_model(plan: Plan, seed: int) -> Transformer:
    # Built on the CPU from a seeded generator, so the initial weights are the same on every device.
    torch.manual_seed(seed)
    return Transformer(plan.model)


def make_optimizer(cfg: TrainConfig, model: nn.Module, total_steps: int) -> torch.optim.Optimizer:
    """`optim.create` with the peak LR, and the run length T for optimizers that take it."""
    kwargs = {**cfg.optim.hp, "lr": cfg.optim.lr}
    if "total_steps" in optim.accepted_hyperparameters(optimizer_class(cfg.optim.name)):
        kwargs["total_steps"] = total_steps
    return optim.create(cfg.optim.name, model, **kwargs)


# The fused step (ArenaOptimizer.fuse) saved ~2.4 ns per parameter and step over the eager one on this
# project's 2-core CPU, and its first step compiled for ~40 s on the 20m preset (112 tensors) with a cold
# inductor cache, ~8 s with a warm one (docs/results/perf_cpu.md): below ~1e10 parameter-steps (the CPU
# tier's tiny runs make 6e8) the compilation costs more than it saves.
CPU_FUSE_PAYS = 1e10


def fuse_pays(setting: str, model: nn.Module, total_steps: int, device: torch.device) -> bool:
    """Whether a run fuses its optimizer's step: ``optim.fused`` "on"/"off", or for "auto", on CUDA
    (where only the fused step approaches the memory-bandwidth floor: torch's fused AdamW is 2.8x its
    foreach path on an H100) and on CPU above CPU_FUSE_PAYS parameter-steps."""
    if setting != "auto":
        return setting == "on"
    if device.type == "cuda":
        return True
    return sum(p.numel() for p in model.parameters()) * total_steps >= CPU_FUSE_PAYS


def autocast_for(dtype: str, device: torch.device) -> Autocast:
    """bf16 autocast on CUDA by default, plain float32 on the CPU (where bf16 is slow and buys nothing)."""
    if dtype == "auto":
        dtype = "bfloat16" if device.type == "cuda" else "float32"
    if dtype == "float32":
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
