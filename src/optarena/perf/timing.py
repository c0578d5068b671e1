"""Interleaved best-of-N timing, device sync, memory probes and the copy-bandwidth floor.

Interleaving matters on a shared machine: a burst of load from elsewhere then hits every contender in
that round alike, and the best of N rounds is each contender's time with the least interference. The
clock is wall time, or with ``clock="cpu"`` the process's CPU time, which ignores the time the process
waits for a core while others run (exact with one torch thread; more threads add OpenMP's spinning).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import torch
from torch.profiler import ProfilerActivity, profile


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def best_times(fns: Mapping[str, Callable[[], object]], rounds: int, device: torch.device,
               before: Callable[[], object] | None = None, clock: str = "wall") -> dict[str, float]:
    """Seconds per call of each function: the best of ``rounds`` interleaved rounds.

    The order rotates each round so that no contender always runs right after another; ``before`` runs
    untimed ahead of every call (e.g. restoring gradients).
    """
    if clock == "cpu" and device.type != "cpu":
        raise ValueError("clock 'cpu' times CPU work only; use the wall clock on a GPU")
    now = CLOCKS[clock]
    names = list(fns)
    best = dict.fromkeys(names, float("inf"))
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            if before is not None:
                before()
            sync(device)
            start = now()
            fns[name]()
            sync(device)
            best[name] = min(best[name], now() - start)
    return best


def copy_bandwidth(device: torch.device, num_bytes: int = 1 << 28, rounds: int = 5, clock: str = "wall") -> float:
    """Bytes per second moved by a large device copy (each copy reads and writes ``num_bytes``)."""
    src = torch.empty(num_bytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    seconds = best_times({"copy": lambda: dst.copy_(src)}, rounds, device, clock=clock)["copy"]
    return 2 * num_bytes / seconds


class PeakMemory:
    """Bytes allocated at the peak of a block above the level at its start: CUDA's allocator statistics,
    or on CPU the allocations that torch's profiler attributes to each op with ``profile_memory``."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak = device, 0

    def __enter__(self) -> PeakMemory:
        sync(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            self.profiler = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
            self.profiler.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        sync(self.device)
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.start
            return
        self.profiler.__exit__(*exc)
        # Each op's own allocations net of its own frees, and frees outside ops ("[memory]"), in time
        # order: a running level whose maximum is the peak (an op's internal temporaries excepted).
        level = 0
        for e in sorted(self.profiler.events(), key=lambda e: e.time_range.start):
            level += e.self_cpu_memory_usage
            self.peak = max(self.peak, level)
