"""Golden losses: short runs of the CPU tier whose final losses are committed and checked in CI.

A change that silently alters training (the model, the data, an optimizer, the schedule, the
loader, the evaluation) moves these numbers; the test `tests/bench/test_golden.py` reruns every
entry of the committed file `tests/bench/golden_losses.json` and compares. Each entry is one
optimizer at a fixed LR (stored beside its loss, so retuning the suites' LR tables does not touch
it), trained for GOLDEN_STEPS steps with the settings of the `cpu-tier` suite and scored on the
first GOLDEN_VAL_TOKENS validation bytes.

The tolerance is measured, not guessed: `measure` runs every entry twice under one torch thread
(as the tests do) and the file's tolerance is ten times the largest difference seen, and at least
TOLERANCE_FLOOR. On one machine those repeats are bitwise equal, so the floor decides. A third run
under two threads is recorded too (`two_threads`): another reduction order, which 40 steps amplify
to up to ~0.01 nats (Muon), so a machine whose CPU kernels sum in another order (another SIMD
width, another torch build) needs its own file, written by the same command.
Regenerate after an intended change with

    python scripts/golden_losses.py --write      # and say in the commit why the numbers moved
"""

from __future__ import annotations

import platform
import tempfile
from pathlib import Path
from typing import Any

GOLDEN_STEPS = 40
GOLDEN_VAL_TOKENS = 8192
TOLERANCE_FLOOR = 1e-4
# One of each family: torch's AdamW, sign methods, Newton-Schulz, the Adam family with a mask, log-time
# ADANA, clipping inside the step, variance reduction.
ENTRIES = {"adamw": 6e-3, "lion": 1.8e-3, "muon": 0.06, "grams": 6e-3, "adana": 2e-3,
           "stable-momentum": 6e-3, "svrm": 4e-3}  # fmt: skip
MUON_ADAMW_LR = 9e-3


def settings(optimizer: str, lr: float, out: str | Path) -> list[tuple[str, Any]]:
    """The trainer settings of one golden run: the cpu-tier suite's, shortened."""
    from .suite import load_suite

    tier = load_suite("cpu-tier")
    hp = {"adamw_lr": MUON_ADAMW_LR} if optimizer == "muon" else {}
    return [*tier.train, ("model.preset", tier.models[0]), ("data.source", tier.data),
            ("optim.name", optimizer), ("optim.lr", lr), ("optim.hp", hp), ("budget.steps", GOLDEN_STEPS),
            ("log.eval_every", 0), ("log.final_eval_tokens", GOLDEN_VAL_TOKENS), ("log.progress", "off"),
            ("log.checkpoint_every", 0), ("run.out", str(out)), ("run.seed", 0)]  # fmt: skip


def run_entry(optimizer: str, lr: float, threads: int = 1) -> float:
    """The final validation loss of one golden run, under `threads` torch threads."""
    import torch

    from optarena.train import load_config, train

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = train(load_config(None, settings(optimizer, lr, tmp)))
    finally:
        torch.set_num_threads(previous)
    if result.status != "finished" or result.final_val_loss is None:
        raise RuntimeError(f"golden run {optimizer} at lr {lr} ended {result.status}")
    return float(result.final_val_loss)


def measure() -> dict[str, Any]:
    """Every entry's loss (one thread, twice) and the tolerance from their spread."""
    import torch

    from optarena import __version__

    losses, spread = {}, 0.0
    for name, lr in ENTRIES.items():
        one, again, two = (run_entry(name, lr, threads=t) for t in (1, 1, 2))
        losses[name] = {"lr": lr, "final_val_loss": one, "repeat": again, "two_threads": two}
        spread = max(spread, abs(one - again))
    return {
        "what": f"{GOLDEN_STEPS} steps of the cpu-tier suite's settings, final loss on the first "
                f"{GOLDEN_VAL_TOKENS} validation bytes, one torch thread; optarena.bench.golden",
        "tolerance": max(10 * spread, TOLERANCE_FLOOR),
        "max_repeat_spread": spread,
        "made_with": {"optarena": __version__, "torch": torch.__version__, "python": platform.python_version(),
                      "machine": platform.machine(), "processor": platform.processor() or "unknown"},
        "entries": losses,
    }  # fmt: skip

