"""DIR/metrics.jsonl, one JSON object per logged or evaluated step, and its optional mirrors.

Keys of an entry: step, tokens, train_loss, lr, grad_norm (before clipping), tokens_per_s
(training throughput since the previous entry, evaluation excluded), elapsed_s (wall time of the
run, across resumes), peak_mem_bytes (CUDA max allocated, else the process's peak RSS); evaluated
steps add val_loss and val_tokens (the fixed prefix scored during training, the same at every
evaluated step so the curve's points compare); the last step also adds final_val_loss and
final_val_tokens (the final evaluation set: the whole validation set or its
log.final_eval_tokens prefix; the run's final loss).
Non-finite numbers are written as null (strict JSON).

On resume the file is rewritten from the checkpoint's history, so it never holds entries from
steps after the checkpoint that the resumed run will redo.

The mirrors (log.tensorboard, log.wandb; the `logging` extra) get the same entries' numbers. A run
writes them where its log settings say; `optarena bench` points every cell of a suite at one place
(optarena.bench.cells.Cell.overrides): one TensorBoard log directory per cell under
SUITE_OUT/tensorboard, one W&B group for the suite.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch

from optarena._files import atomic_write

from .config import LogSection
from .record import json_safe

FILENAME = "metrics.jsonl"


def peak_memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    try:
        import resource
    except ImportError:  # Windows
        return 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB, macOS bytes


class MetricsLog:
    """Appends entries to metrics.jsonl (rank 0 only) and to the enabled mirrors."""

    def __init__(self, out: Path, history: list[dict[str, Any]], mirrors: list[Any], enabled: bool) -> None:
        self.path, self.history, self.mirrors, self.enabled = out / FILENAME, history, mirrors, enabled
        if enabled:
            self._rewrite()

    def write(self, entry: dict[str, Any]) -> None:
        self.history.append(entry)
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(json_safe(entry), allow_nan=False) + "\n")
        for mirror in self.mirrors:
            mirror.log(entry)

    def close(self) -> None:
        for mirror in self.mirrors:
            mirror.close()

    def _rewrite(self) -> None:
        atomic_write(self.path, "".join(json.dumps(json_safe(e), allow_nan=False) + "\n" for e in self.history))


def require_mirrors(tensorboard: bool, wandb: bool) -> None:
    """A requested mirror whose package is missing is a clear error, raised before any work."""
    import importlib.util

    for wanted, package in ((tensorboard, "tensorboard"), (wandb, "wandb")):
        if wanted and importlib.util.find_spec(package) is None:
            raise ValueError(f"log.{package}=true needs the {package!r} package, which is not installed "
                             f"(pip install 'optarena[logging]'); or set log.{package}=false")


def make_mirrors(out: Path, log: LogSection, config: dict[str, Any]) -> list[Any]:
    """The mirrors ``log`` turns on, where it says: TensorBoard in ``log.tensorboard_dir`` (default
    out/tensorboard); W&B in ``log.wandb_project``, group ``log.wandb_group``, run named
    ``log.wandb_name`` (default out's name), ``config`` (the run's settings) as its config."""
    require_mirrors(log.tensorboard, log.wandb)
    mirrors: list[Any] = []
    if log.tensorboard:
        mirrors.append(_TensorBoard(Path(log.tensorboard_dir) if log.tensorboard_dir else out / "tensorboard"))
    if log.wandb:
        mirrors.append(_WandB(out, log, config))
    return mirrors


class _TensorBoard:
    def __init__(self, log_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir))

    def log(self, entry: dict[str, Any]) -> None:
        for key, value in _scalars(entry).items():
            self.writer.add_scalar(key, value, entry["step"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class _WandB:
    def __init__(self, out: Path, log: LogSection, config: dict[str, Any]) -> None:
        import wandb

        # The run id is a hash of the run directory, so a resumed run continues the same W&B run.
        run_id = "optarena-" + hashlib.sha1(str(out.resolve()).encode()).hexdigest()[:12]
        self.run = wandb.init(project=log.wandb_project, group=log.wandb_group, name=log.wandb_name or out.name,
                              id=run_id, dir=str(out), config=config, resume="allow")

    def log(self, entry: dict[str, Any]) -> None:
        self.run.log(_scalars(entry), step=entry["step"])

    def close(self) -> None:
        self.run.finish()


def _scalars(entry: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in entry.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)}

