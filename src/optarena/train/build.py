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
    compiled = torch.compile(model) if cfg.run.compile else model
    train_model = compiled
    if dist.enabled:
        train_model = DDP(compiled, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)
    optimizer = make_optimizer(cfg, model, plan.total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg.schedule, plan.total_steps))
    loader = TokenLoader(data.train, plan.batch_seqs, plan.seq_len, rank=dist.rank,
                         world_size=dist.world_size, seed=cfg.run.seed, shuffle=cfg.data.shuffle)
    val_batch = plan.micro_batch * dist.world_size

    def val(max_tokens: int | None) -> ValidationSet:
        return validation_batches(data.val, plan.seq_len, val_batch, max_tokens,
                                  rank=dist.rank, world_size=dist.world_size)

    return Parts(model, train_model, compiled, optimizer, scheduler, loader,
                 val(cfg.log.eval_tokens), val(cfg.log.final_eval_tokens), autocast_for(cfg.run.dtype, dist.device))


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


def autocast_for(dtype: str, device: torch.device) -> Autocast:
    """bf16 autocast on CUDA by default, plain float32 on the CPU (where bf16 is slow and buys nothing)."""
    if dtype == "auto":
        dtype = "bfloat16" if device.type == "cuda" else "float32"
    if dtype == "float32":
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
