"""The hyperparameters a suite tunes besides the LR: its `tune` tables read into `Tuned` coordinates.

    tune_rounds = 1                          # passes of the coordinate search (tuning.py); 1 by default
    [tune]                                   # every optimizer's: hyperparameter = its grid, in search order
    weight_decay = [0.0, 0.01, 0.03, 0.1]    #   absolute values (not multipliers: a centre of 0 has none)

    [optimizers]                             # an optimizer's own `tune` replaces the suite's, e.g. where
    dms = { lr = 6.0, tune = { weight_decay = [0.0, 2e-5, 6e-5, 2e-4] } }   # its LR is 500x AdamW's
    adana = { lr = 1e-3, tune = { omega = [2.0, 4.0, 8.0, 16.0] } }         # ADANA's decay is ω

Each coordinate starts at the optimizer's own value (its `opt`, else its registry preset, else its class
default), which must be one of its grid: the LR sweep runs there, and the coordinate's sweep then reuses
that cell. Fairness: every optimizer tunes as many hyperparameters, with as many values each, in the
same positions (their names may differ: AdamW's `weight_decay` against ADANA's `omega`). Numbers are
read as floats (TOML's `0` and `0.0` are the same weight decay) unless the optimizer's default is an
integer (a count); a grid of floats may extend at an edge, any other grid (lists such as `betas`,
strings, flags, counts) is swept as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optarena._text import did_you_mean


@dataclass(frozen=True)
class Tuned:
    """One hyperparameter the coordinate search tunes: its grid and the value it starts at."""

    name: str
    grid: tuple[Any, ...]  # the values swept, in the order given
    start: Any  # the optimizer's own value, one of `grid`

    @property
    def numeric(self) -> bool:
        """A grid of floats extends past an edge by a ratio (tuning.py); any other grid never does."""
        return all(isinstance(x, float) for x in self.grid)


def show(x: Any) -> str:
    """A hyperparameter value as keys, labels and tables write it: floats at 6 significant digits."""
    if isinstance(x, tuple):
        return "[" + ", ".join(show(y) for y in x) + "]"
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def read_tuned(name: str, optimizer: str, opt: Mapping[str, Any], scale: tuple[str, ...],
               grids: Any, where: str, check: bool = True) -> tuple[Tuned, ...]:
    """The coordinates of optimizer row `name` from its `tune` table (or the suite's), each checked.

    ``check=False`` reads the grids without the optimizer's class (importing it imports torch): nothing
    is checked against what it accepts, a number is a count where its whole grid is integers, and a
    coordinate's start is its `opt` value or None. Enough to count cells (``optarena bench --list``).
    """
    if not isinstance(grids, Mapping):
        raise ValueError(f"{where}: `tune` must be a table of hyperparameter = [values], got {grids!r}")
    if not check:
        return tuple(_unchecked(hp, grid, opt) for hp, grid in grids.items())
    accepted, defaults = _defaults(optimizer, name, where)
    return tuple(_coordinate(name, optimizer, hp, grid, opt, scale, accepted, defaults, where)
                 for hp, grid in grids.items())


def check_fair(shapes: Mapping[str, tuple[Tuned, ...]], where: str) -> None:
    """Every optimizer row tunes the same number of hyperparameters with the same number of values."""
    counts = {name: tuple(len(t.grid) for t in tuned) for name, tuned in shapes.items()}
    if len(set(counts.values())) > 1:
        rows = "; ".join(f"{name}: " + (", ".join(f"{t.name} x{len(t.grid)}" for t in tuned) or "nothing")
                         for name, tuned in shapes.items())
        raise ValueError(f"{where}: every optimizer must tune as many hyperparameters with as many values "
                         f"each (a fair search); the suite has {rows}")


def _defaults(optimizer: str, name: str, where: str) -> tuple[list[str], dict[str, Any]]:
    """The hyperparameters `optimizer` accepts, and what it runs them at unless told (preset over default)."""
    from optarena.optim import accepted_hyperparameters, get_spec, names
    from optarena.optim.factory import class_defaults
    from optarena.train.config import optimizer_class

    try:
        cls = optimizer_class(optimizer)
    except ValueError as e:
        raise ValueError(f"{where}: optimizer {name!r}: {e}") from None
    preset = get_spec(optimizer).preset if optimizer in names() else {}
    return accepted_hyperparameters(cls), {**class_defaults(cls), **preset}


def _coordinate(name: str, optimizer: str, hp: str, grid: Any, opt: Mapping[str, Any], scale: tuple[str, ...],
                accepted: list[str], defaults: dict[str, Any], where: str) -> Tuned:
    who = f"{where}: optimizer {name!r} tunes {hp!r}"
    if hp == "lr":
        raise ValueError(f"{who}: the LR is tuned by `lr_mults`")
    if hp not in accepted or hp == "total_steps":
        raise ValueError(f"{who}, which {optimizer} does not take{did_you_mean(hp, accepted)}; it accepts: "
                         f"{', '.join(accepted)} (an optimizer's own `tune` table replaces the suite's)")
    if hp in scale:
        raise ValueError(f"{who}, which its `scale` moves with the LR multiplier: tune one or the other")
    if hp not in opt and hp not in defaults:
        raise ValueError(f"{who}, which has no default: give its starting value in `opt`")
    count = isinstance(defaults.get(hp), int) and not isinstance(defaults.get(hp), bool)
    start = _value(opt.get(hp, defaults.get(hp)), count)
    if not isinstance(grid, list) or len(grid) < 2:
        raise ValueError(f"{who} over {grid!r}: give a list of at least 2 values")
    values = tuple(_value(x, count) for x in grid)
    if len(set(values)) < len(values):
        raise ValueError(f"{who} over {list(grid)}: a value appears twice")
    if start not in values:
        raise ValueError(f"{who} from {show(start)} (its `opt`, else its default), which its grid "
                         f"{[show(x) for x in values]} lacks: the LR sweep runs there, so the grid must hold it")
    return Tuned(hp, values, start)


def _unchecked(hp: str, grid: Any, opt: Mapping[str, Any]) -> Tuned:
    grid = grid if isinstance(grid, list) else [grid]
    count = all(isinstance(x, int) and not isinstance(x, bool) for x in grid)
    start = _value(opt[hp], count) if hp in opt else None
    return Tuned(hp, tuple(_value(x, count) for x in grid), start)


def _value(x: Any, count: bool) -> Any:
    """A grid value as the key and the optimizer see it: lists as tuples, numbers as floats unless a count."""
    if isinstance(x, list | tuple):
        return tuple(_value(y, False) for y in x)
    if isinstance(x, int | float) and not isinstance(x, bool) and not count:
        return float(x)
    return x
