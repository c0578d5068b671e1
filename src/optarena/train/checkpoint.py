"""Checkpoints: everything that decides the rest of a run, in one file written atomically.

DIR/checkpoint.pt holds the model (unwrapped: no DDP/compile prefixes), optimizer, LR scheduler,
data-loader position, RNG states (torch, CUDA, Python, NumPy), the step, the divergence guard's
state (its reference loss and ln V count), the elapsed time and the metrics history, plus the
resolved config that made it.
It is written to a temporary file in the same directory and moved over the old one with
os.replace (optarena._files.atomic_write), so a crash leaves either the previous checkpoint or the
new one, never half of one.
Only rank 0 writes; every rank reads it back. Under FSDP2 (run.parallel "fsdp") the model and
optimizer state are first gathered whole to rank 0 (:func:`gather_sharded`) and each rank keeps its
shards on resume (:func:`load_sharded`); the file records "parallel": "fsdp", because its optimizer
state is keyed by parameter name, and a resume under the other mode is refused. The file holds tensors and plain Python values only,
so it loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optarena._files import atomic_write

FILENAME = "checkpoint.pt"
# Sections whose change makes a resumed run a different experiment. The others (run, log) may
# change, and so may data.micro_batch: it only trades memory for passes, as can the world size, and
# optim.fused (absent from checkpoints older than it).
FIXED_SECTIONS = ("model", "data", "optim", "schedule", "budget")
FREE_KEYS = (("data", "micro_batch"), ("optim", "fused"))  # fused: a speed path, equal to rounding


def gather_sharded(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """An FSDP2 model's and optimizer's whole state (a collective: every rank calls it; rank 0 gets
    the values, moved to the CPU): the same model keys as an unsharded model's, the optimizer's state
    keyed by parameter name (torch.distributed.checkpoint.state_dict's full form)."""
    from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                         get_optimizer_state_dict)

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return (get_model_state_dict(model, options=options),
            get_optimizer_state_dict(model, optimizer, options=options))


def load_sharded(model: torch.nn.Module, optimizer: torch.optim.Optimizer, model_state: dict,
                 optimizer_state: dict) -> None:
    """The inverse of :func:`gather_sharded`: every rank holds the whole checkpoint and keeps its shards."""
    from torch.distributed.checkpoint.state_dict import (StateDictOptions, set_model_state_dict,
                                                         set_optimizer_state_dict)

    options = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, model_state, options=options)
    set_optimizer_state_dict(model, optimizer, optimizer_state, options=options)


def path_in(out: str | Path) -> Path:
    return Path(out) / FILENAME


def save(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


# What a resume reads, and its type: a file without one of them is not a checkpoint of this trainer.
REQUIRED = {"step": int, "config": dict, "model": dict, "optimizer": dict, "scheduler": dict,
            "loader": dict, "rng": dict, "elapsed_s": float, "history": list}


def load(path: Path, device: torch.device, required: dict[str, type] = REQUIRED) -> dict[str, Any]:
    """The checkpoint's state; a file that torch cannot read (truncated, overwritten, not a checkpoint,
    unreadable) or that lacks one of `required` (by default what a resume needs) is a ValueError
    naming it, not a traceback."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for a bad file
        raise ValueError(f"cannot resume from {path}: not a readable checkpoint ({type(e).__name__}: "
                         f"{_first_line(e)}); move it away to start the run afresh") from None
    if not isinstance(state, dict):
        raise ValueError(f"cannot resume from {path}: expected a checkpoint dict, found {type(state).__name__}")
    missing = [k for k in required if k not in state]
    wrong = [k for k, t in required.items() if k in state and not isinstance(state[k], (t, int) if t is float else t)]
    if missing or wrong:
        what = "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                       wrong and f"wrong type: {', '.join(wrong)}"]))
        raise ValueError(f"cannot resume from {path}: not a checkpoint of this trainer ({what}); "
                         "move it away to start the run afresh")
    return state


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "no message"


def check_same_experiment(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """A resume must not silently change what is being trained."""
    keys = [(s, k) for s in FIXED_SECTIONS for k in current[s] if (s, k) not in FREE_KEYS] + [("run", "seed")]
    saved = {s: saved.get(s) if isinstance(saved.get(s), dict) else {} for s in (*FIXED_SECTIONS, "run")}
    diffs = [f"{s}.{k}: {saved[s].get(k)!r} -> {current[s][k]!r}"
             for s, k in keys if saved[s].get(k) != current[s][k]]
    if diffs:
        raise ValueError(f"cannot resume {path}: the config differs from the checkpoint's ("
                         + "; ".join(diffs) + "); use another run.out for a new experiment")


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        # NumPy's state holds an ndarray, which weights_only loading refuses: store it as a tensor.
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    random.setstate(_tuples(state["python"]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))


def _tuples(x: Any) -> Any:
    # random.setstate needs tuples; a round trip may hand back lists.
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x
