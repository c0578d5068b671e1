"""Checkpoints: everything that decides the rest of a run, written so that a crash never leaves half of one.

One process: DIR/checkpoint.pt holds the model (unwrapped: no DDP/compile prefixes), optimizer, LR
scheduler, data-loader position, RNG states (torch, CUDA, Python, NumPy), the step, the divergence
guard's state (its reference loss and ln V count), the elapsed time and the metrics history, plus
the resolved config that made it. It is written to a temporary file in the same directory and moved
over the old one with os.replace (optarena._files.atomic_write). The file holds tensors and plain
Python values only, so it loads with `torch.load(weights_only=True)`.

Several ranks (torchrun, DDP or FSDP2): a sharded checkpoint through torch.distributed.checkpoint
(DCP), DIR/checkpoint/step-NNNNNNNNN/, in which every rank writes its own shards (``__RANK_0.distcp``)
of the model and optimizer state as torch.distributed.checkpoint.state_dict names them (by
parameter name): under FSDP2 each rank its slices of the parameters and of their state, under DDP
the replicated tensors once (DCP keeps one copy) and each rank the state only it holds (Muon's
momentum of the matrices it updates, optim/muon.py). Nothing is gathered to one rank, so a
checkpoint costs each rank its own share of memory and disk. Rank 0 adds trainer.pt (the rest: step,
scheduler, loader, RNG, history, config; identical on every rank) and, once every rank's shards and
DCP's .metadata are written, names the step in DIR/checkpoint/latest (atomically), then removes the
older steps. A crash at any point leaves `latest` naming a complete checkpoint; a step directory it
does not name is an unfinished write, removed at the next start. On resume every rank builds its
state dict (the optimizer's state initialised by a step with zero gradients and LR 0, what
torch.distributed.checkpoint.state_dict does), reads its own shards into it, and loads it: the
resumed run equals the uninterrupted one bit for bit on the CPU (tests/train/test_ddp_resume.py,
tests/train/test_fsdp.py). A sharded checkpoint records its world size and parallel mode; a resume
under another is refused (DCP can reshard, but that path is not tested here).
"""

from __future__ import annotations

import random
import shutil
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


SHARDED = "checkpoint"  # DIR/checkpoint/: a sharded checkpoint's step directories and `latest`
LATEST = "latest"
TRAINER_FILE = "trainer.pt"


def sharded_root(out: str | Path) -> Path:
    return Path(out) / SHARDED


def find(out: str | Path) -> Path | None:
    """The checkpoint a resume of run directory `out` reads: checkpoint.pt, or the step directory that
    DIR/checkpoint/latest names; None when there is neither."""
    single = path_in(out)
    if single.exists():
        return single
    name = _latest(sharded_root(out))
    return None if name is None else sharded_root(out) / name


def _latest(root: Path) -> str | None:
    """The step directory that root/latest names; None before the first complete sharded save."""
    latest = root / LATEST
    return latest.read_text().strip() if latest.exists() else None


def is_sharded(path: Path) -> bool:
    """Whether :func:`find`'s answer is a sharded step directory (else a checkpoint.pt, even one that
    is not a file: its load says what is wrong with it)."""
    return path.name != FILENAME


def save_sharded(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, trainer_state: dict[str, Any],
                 is_main: bool, barrier: Any) -> Path:
    """Every rank writes its shards of the model and optimizer state (a collective: every rank calls
    it); rank 0 writes `trainer_state` beside them and then points `latest` at the new step. Returns
    the step directory. `barrier()` waits for every rank."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    root = sharded_root(out)
    name = f"step-{trainer_state['step']:09d}"
    target = root / name
    if _latest(root) == name:  # this very state is saved already
        return target
    if is_main:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)  # an unfinished write of this step, never `latest`
    barrier()
    model_state, optimizer_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=target)
    if is_main:  # dcp.save has returned on rank 0: every rank's shards and the metadata are written
        save(target / TRAINER_FILE, trainer_state)
        atomic_write(root / LATEST, name + "\n")
        remove_unfinished(out)  # the steps before it
    barrier()
    return target


def load_trainer_state(path: Path, device: torch.device) -> dict[str, Any]:
    """A sharded checkpoint's trainer state (its step directory `path`), checked like a checkpoint.pt
    less the model and optimizer, which :func:`load_sharded` reads."""
    trainer = path / TRAINER_FILE
    if not trainer.exists() or not (path / ".metadata").exists():
        raise ValueError(f"cannot resume from {path}: not a complete sharded checkpoint (no {TRAINER_FILE} "
                         "or .metadata); move it away to start the run afresh")
    return load(trainer, device, {k: t for k, t in REQUIRED.items() if k not in ("model", "optimizer")})


def load_sharded(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Read step directory `path` into `model` and `optimizer`, each rank its own shards (a collective)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    model_state, optimizer_state = get_state_dict(model, optimizer)  # the placeholders this rank reads into
    both = {"model": model_state, "optimizer": optimizer_state}
    try:
        dcp.load(both, checkpoint_id=path)
    except Exception as e:  # a shard missing or truncated, a state of another model
        raise ValueError(f"cannot resume from {path}: its shards do not load ({type(e).__name__}: "
                         f"{_first_line(e)}); move it away to start the run afresh") from None
    set_state_dict(model, optimizer, model_state_dict=both["model"], optim_state_dict=both["optimizer"])


def remove(out: str | Path) -> None:
    """Delete a run directory's checkpoint, either form (a suite's cells keep none by default)."""
    path_in(out).unlink(missing_ok=True)
    shutil.rmtree(sharded_root(out), ignore_errors=True)


def remove_unfinished(out: str | Path) -> None:
    """Delete the step directories of DIR/checkpoint that `latest` does not name: older steps, and
    writes a crash cut short."""
    root = sharded_root(out)
    if not root.is_dir():
        return
    keep = _latest(root)
    for d in root.glob("step-*"):
        if d.name != keep:
            shutil.rmtree(d, ignore_errors=True)


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
