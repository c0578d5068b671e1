"""Suite progress: one line per finished cell with the overall count and an ETA, and a heartbeat
naming the cells in flight when none has finished for a while.

The ETA weighs cells by their cost (training + evaluation FLOPs), so a ladder whose last cells are
its biggest models is not promised early: remaining FLOPs / FLOPs done per second so far in this
invocation, counting the steps done by the cells in flight (read from their metrics.jsonl), so that
the first estimate with several jobs is not off by the number of jobs. Cells done by an earlier
invocation do not count towards the rate.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO

from .cells import Cell


class SuiteProgress:
    def __init__(self, stream: TextIO | None) -> None:
        self.stream, self.t0 = stream, time.perf_counter()
        self.done_cost = 0.0  # by this invocation
        self.total = self.done = 0
        self.remaining_cost = 0.0
        self.partial = 0.0  # cost done so far by the cells in flight

    def update(self, total: int, done: int, remaining_cost: float) -> None:
        self.total, self.done, self.remaining_cost = total, done, remaining_cost

    def say(self, text: str) -> None:
        if self.stream is not None:
            print(text, file=self.stream, flush=True)

    def finished(self, cell: Cell, outcome: dict[str, Any], inflight: list[tuple[Cell, Path]]) -> None:
        self.done_cost += cell.group.cost
        self.done += 1
        self.remaining_cost = max(0.0, self.remaining_cost - cell.group.cost)
        self.partial = sum(c.group.cost * min(1.0, _last_step(out) / max(c.group.steps, 1)) for c, out in inflight)
        pct = 100 * self.done / max(self.total, 1)
        self.say(f"[{self.done:>{len(str(self.total))}}/{self.total}] {pct:3.0f}%  {cell.label()}: "
                 f"{describe(outcome)} in {_duration(outcome.get('wall_s') or 0)}  |  "
                 f"elapsed {_duration(self.elapsed())}, ETA {self.eta()}")

    def heartbeat(self, cells: list[Cell], out_dirs: list[Path]) -> None:
        for cell, out in zip(cells, out_dirs, strict=True):
            self.say(f"    running {cell.label()}: step {_last_step(out)}/{cell.group.steps}")

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def eta(self) -> str:
        if self.done_cost <= 0:
            return "after the first cell"
        rate = (self.done_cost + self.partial) / self.elapsed()
        return _duration(max(0.0, self.remaining_cost - self.partial) / rate)


def describe(outcome: dict[str, Any]) -> str:
    status = outcome["status"]
    if status == "finished":
        loss = outcome.get("final_val_loss")
        return f"val {loss:.4f}" if loss is not None else "finished"
    if status == "diverged":
        return f"diverged at step {outcome.get('diverged_at_step')}"
    error = (outcome.get("error") or "").strip().splitlines()
    return f"FAILED ({error[-1] if error else 'no traceback'})"


def _last_step(out: Path) -> int:
    try:
        with (out / "metrics.jsonl").open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            last = f.read().splitlines()[-1]
        return int(json.loads(last)["step"])
    except (OSError, IndexError, ValueError, KeyError):
        return 0


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
