"""scripts/results_tables.py: the LR-grid table, diverged points included."""

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "results_tables.py"
_spec = importlib.util.spec_from_file_location("results_tables", _PATH)
results_tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results_tables)


def _run(opt, mult, loss, seed=0, centre=0.01):
    status = "diverged" if loss is None else "finished"
    return {"optimizer": opt, "lr_mult": mult, "lr": centre * mult, "seed": seed, "status": status, "final_val_loss": loss}


def test_lr_grid_marks_diverged_points_and_bolds_the_best():
    runs = [
        _run("a", 0.5, 2.0),
        _run("a", 1.0, None),  # the centre itself diverged: its LR still comes from lr / lr_mult
        _run("a", 2.0, 1.9),
        _run("b", 1.0, 1.5, centre=0.004),
        _run("b", 1.0, 1.0, seed=1, centre=0.004),  # other seeds are left out
    ]
    lines = results_tables.lr_grid(runs).splitlines()
    assert lines[0] == "| optimizer | centre LR | x0.5 | x1 | x2 |"
    assert lines[2] == "| `a` | 0.01 | 2.0000 | diverged | **1.9000** |"
    assert lines[3] == "| `b` | 0.004 | — | **1.5000** | — |"


def test_lr_grid_without_a_finished_run_is_an_error():
    with pytest.raises(ValueError, match="no finished seed-0 run"):
        results_tables.lr_grid([_run("a", 1.0, None)])


def test_lr_grid_shows_the_lr_sweeps_point_not_a_later_coordinates():
    """A weight-decay sweep at the best LR runs after the LR sweep there: the grid keeps the first run."""
    runs = [dict(_run("a", 1.0, 1.8), id=1), dict(_run("a", 2.0, 1.9), id=2),
            dict(_run("a", 1.0, 1.7), id=3)]  # the same LR at another weight decay
    assert results_tables.lr_grid(runs).splitlines()[2] == "| `a` | 0.01 | **1.8000** | 1.9000 |"


def test_lr_grid_of_a_ladder_has_a_row_per_model():
    runs = [dict(_run("a", 1.0, 1.8), model="tiny", tokens=100), dict(_run("a", 2.0, 1.9), model="tiny", tokens=100),
            dict(_run("a", 1.0, 1.6), model="mini", tokens=300), dict(_run("b", 1.0, 1.5), model="mini", tokens=300)]
    lines = results_tables.lr_grid(runs).splitlines()
    assert lines[0] == "| model | tokens | optimizer | centre LR | x1 | x2 |"
    assert lines[2:] == ["| mini | 300 | `a` | 0.01 | **1.6000** | — |", "| mini | 300 | `b` | 0.01 | **1.5000** | — |",
                         "| tiny | 100 | `a` | 0.01 | **1.8000** | 1.9000 |"]
