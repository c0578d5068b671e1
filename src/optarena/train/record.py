"""DIR/run.json: what a run was and where it ended, enough to reproduce it.

    status            "running" | "finished" | "diverged" | "failed" (an exception stopped the
                      process; "error" says which; --resume continues from the last checkpoint)
    config            the resolved TrainConfig; plan: model shape, parameter counts, steps, batch
    data              the data source's meta (tokenizer, vocab, entropies for synthetic data)
    final_val_loss    mean cross-entropy (nats/token) on the final evaluation set (the whole validation
                      set, or its first log.final_eval_tokens targets); null unless finished
    diverged_at_step  the step that tripped a divergence rule (see divergence.py), or null
    diverged_reason   which rule: "non-finite loss", "non-finite gradient", "non-finite parameters",
                      "loss ... above the threshold ...", "loss stuck at ln(V) ..."; null unless diverged
    steps, tokens     optimizer steps and training tokens done so far
    git               commit of the optarena source tree, whether tracked files were modified, and
                      for a modified tree diff_sha256, the SHA-256 of `git diff HEAD --binary`, whose
                      text is DIR/source.diff: `git checkout COMMIT && git apply source.diff` rebuilds
                      the code the run ran (untracked files are not in it); all null outside a checkout
    versions          python, torch, numpy, optarena (+ CUDA/cuDNN when present)
    hardware          CPU model and cores, torch's CPU threads, GPU names, world size

Rewritten atomically (optarena._files.atomic_write) at the start, at each checkpoint and at the end.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

import optarena
from optarena._files import atomic_write

FILENAME = "run.json"
DIFF_FILENAME = "source.diff"  # beside run.json (a run) or results.db (a suite) when the tree is modified


def write_json(path: Path, obj: Any) -> None:
    """Atomic JSON write; non-finite floats become null (strict JSON has no NaN)."""
    atomic_write(path, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


def json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def environment(world_size: int = 1, out: Path | None = None) -> dict[str, Any]:
    """The run's context; with `out`, a modified tree's diff is written to out/source.diff."""
    return {"git": git_state(out), "versions": versions(), "hardware": hardware(world_size),
            "command": sys.argv}


def git_state(out: Path | None = None, src: Path | None = None) -> dict[str, Any]:
    """The commit of the git checkout holding the optarena source (`src`: this package), whether its
    tracked files differ from it, and if they do the hash of that diff, written to out/source.diff
    when `out` is given. All None where git is missing or the package is not tracked by a checkout
    (an installed copy inside some other repository records nothing rather than that repository)."""
    src = src or Path(optarena.__file__).resolve().parent
    state: dict[str, Any] = {"commit": None, "dirty": None, "diff_sha256": None}

    def git(*args: str) -> bytes | None:
        try:
            done = subprocess.run(["git", *args], cwd=src, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None or git("ls-files", "--error-unmatch", "__init__.py") is None:
        return state
    # Tracked files only: untracked run outputs beside the code would mark every run dirty.
    diff = git("diff", "HEAD", "--binary", "--no-color", "--no-ext-diff")
    state.update(commit=commit.decode().strip(), dirty=None if diff is None else bool(diff))
    if diff:
        state["diff_sha256"] = hashlib.sha256(diff).hexdigest()
        if out is not None:
            atomic_write(Path(out) / DIFF_FILENAME, diff)  # bytes: --binary patches and any encoding
    elif out is not None and diff is not None:  # clean now (a resume): an earlier process's diff is not this one's
        (Path(out) / DIFF_FILENAME).unlink(missing_ok=True)
    return state


def versions() -> dict[str, Any]:
    v = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
         "optarena": optarena.__version__}
    if torch.cuda.is_available():
        v.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return v


def hardware(world_size: int = 1) -> dict[str, Any]:
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {"cpu": cpu_model(), "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "gpus": gpus,
            "platform": platform.platform(), "world_size": world_size}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class RunRecord:
    """The run.json document, kept in memory and rewritten whole on each `save`."""

    def __init__(self, out: Path, fields: dict[str, Any], enabled: bool = True) -> None:
        self.path, self.enabled = out / FILENAME, enabled
        self.doc: dict[str, Any] = dict(fields)

    def update(self, **fields: Any) -> None:
        self.doc.update(fields, updated_at=now())
        if self.enabled:
            write_json(self.path, self.doc)
