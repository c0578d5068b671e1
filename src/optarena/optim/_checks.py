"""Hyperparameter checks shared by every optimizer.

Each check raises a ``ValueError`` that names the optimizer, the argument, the value and the valid
range, so a typo in a sweep fails at construction rather than as a NaN an hour later.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Interval:
    """A real interval; ``closed`` says which ends belong to it, e.g. ``"[)"``."""

    lo: float
    hi: float
    closed: str = "[)"

    def __contains__(self, x: float) -> bool:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
            return False
        above = x >= self.lo if self.closed[0] == "[" else x > self.lo
        below = x <= self.hi if self.closed[1] == "]" else x < self.hi
        return above and below

    def __str__(self) -> str:
        hi = "inf" if math.isinf(self.hi) else f"{self.hi:g}"
        return f"{self.closed[0]}{self.lo:g}, {hi}{self.closed[1]}"


NONNEGATIVE = Interval(0.0, math.inf, "[)")
POSITIVE = Interval(0.0, math.inf, "()")
UNIT = Interval(0.0, 1.0, "[)")  # momentum coefficients: 1 would freeze the buffer
UNIT_CLOSED = Interval(0.0, 1.0, "[]")


def check_number(owner: str, name: str, value: Any, interval: Interval) -> None:
    if value not in interval:
        raise ValueError(f"{owner}: invalid {name}={value!r}; expected a number in {interval}")


def as_tuple(value: Any) -> Any:
    """A constructor's sequence argument (betas) as a tuple, anything else as given, for the check to
    report as the user wrote it: tuple("fast") would be ('f', 'a', 's', 't'), tuple(0.9) a TypeError."""
    return tuple(value) if isinstance(value, Iterable) and not isinstance(value, (str, bytes)) else value


def check_betas(owner: str, value: Any, count: int, interval: Interval = UNIT, name: str = "betas") -> None:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != count:
        raise ValueError(f"{owner}: invalid {name}={value!r}; expected a tuple of {count} numbers in {interval}")
    for i, beta in enumerate(value):
        check_number(owner, f"{name}[{i}]", beta, interval)


def check_choice(owner: str, name: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{owner}: invalid {name}={value!r}; expected one of {', '.join(map(repr, choices))}")


def check_optional(owner: str, name: str, value: Any, interval: Interval) -> None:
    if value is not None:
        check_number(owner, name, value, interval)


def check_total_steps(owner: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: invalid total_steps={value!r}; expected an integer >= 1 (the run length T)")
