"""The regression guard: short CPU-tier runs reproduce their committed losses (optarena.bench.golden)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optarena.bench import golden

COMMITTED = json.loads((Path(__file__).parent / "golden_losses.json").read_text())


def test_the_committed_file_covers_every_entry_at_its_lr():
    assert {n: e["lr"] for n, e in COMMITTED["entries"].items()} == golden.ENTRIES
    assert COMMITTED["tolerance"] >= 10 * COMMITTED["max_repeat_spread"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(golden.ENTRIES))
def test_a_short_run_reproduces_its_golden_loss(name):
    entry = COMMITTED["entries"][name]
    loss = golden.run_entry(name, entry["lr"])
    assert loss == pytest.approx(entry["final_val_loss"], abs=COMMITTED["tolerance"]), (
        f"{name}: {loss:.6f} against the committed {entry['final_val_loss']:.6f}; if training was meant "
        "to change, rerun `python scripts/golden_losses.py --write` and say why in the commit")


def test_the_guard_sees_a_change_in_training(monkeypatch):
    """Changing the LR by 1% moves AdamW's loss by more than the tolerance: the guard can fail."""
    entry = COMMITTED["entries"]["adamw"]
    loss = golden.run_entry("adamw", entry["lr"] * 1.01)
    assert abs(loss - entry["final_val_loss"]) > COMMITTED["tolerance"]
