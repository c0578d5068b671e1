"""Process group and device: one process, or one rank of a `torchrun` launch (RANK, WORLD_SIZE).

Backend: NCCL on CUDA, Gloo on CPU. Each rank binds to cuda:LOCAL_RANK. A process group that the
caller already initialised is used and left open; one made here is destroyed by `close`.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as td


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # destroy the process group on close

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init(device: str = "auto", timeout_s: float = 600.0) -> Dist:
    """Join the torchrun world if launched by it, and pick this rank's device. A collective that waits
    longer than `timeout_s` for a stalled or dead peer raises (the run is then recorded as failed)
    instead of blocking the others for torch's default 30 minutes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = _device(device, local, world)
    if world == 1:
        return Dist(device=dev)
    owns = not td.is_initialized()
    if owns:
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        td.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world,
                              timeout=datetime.timedelta(seconds=timeout_s))
    return Dist(rank, world, local, dev, owns)


def barrier(dist: Dist) -> None:
    """Wait for every rank. Called after a run that ended normally, before the group is torn down: a
    rank that destroys its Gloo pairs while a peer still talks to it can abort the peer ("terminate
    called without an active exception", seen once in CI on the 2-process test)."""
    if dist.world_size > 1 and td.is_initialized():
        td.barrier()


def close(dist: Dist) -> None:
    if dist.owns_group and td.is_initialized():
        td.destroy_process_group()


def _device(name: str, local_rank: int, world: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("run.device='cuda' but no CUDA device is available")
        return torch.device("cuda", local_rank)
    if name.startswith("cuda:") and world > 1:
        raise ValueError(f"run.device={name!r} pins one GPU; under torchrun use 'cuda' (rank -> cuda:LOCAL_RANK)")
    return torch.device(name)


def all_reduce_sum(t: torch.Tensor, dist: Dist) -> torch.Tensor:
    if dist.enabled:
        td.all_reduce(t, op=td.ReduceOp.SUM)
    return t


def all_reduce_mean(t: torch.Tensor, dist: Dist) -> torch.Tensor:
    return all_reduce_sum(t, dist).div_(dist.world_size) if dist.enabled else t


def broadcast_flag(flag: bool, dist: Dist) -> bool:
    """Rank 0's boolean, on every rank."""
    if not dist.enabled:
        return flag
    t = torch.tensor([int(flag)], device=dist.device)
    td.broadcast(t, src=0)
    return bool(t.item())
