"""How numbers read in a report: one formatter per kind of quantity, "—" for what was not measured."""

from __future__ import annotations

import math
from collections import Counter

from optarena.report.results import Run
from optarena.report.standings import Leaderboard, Standing
from optarena.stats import Verdict

MISSING = "—"


def who(optimizer: str) -> str:
    """An optimizer named in prose: AdamW as the papers write it, any other as its display name in code."""
    return "AdamW" if optimizer == "adamw" else f"`{optimizer}`"


def plain(optimizer: str) -> str:
    """`who` without the code marks, for plot labels and figure titles."""
    return "AdamW" if optimizer == "adamw" else optimizer


def count(x: float | None) -> str:
    """1234567 -> 1.23M; tokens, parameters, throughput."""
    if x is None or not math.isfinite(x):
        return MISSING
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


def lr(x: float | None) -> str:
    return MISSING if x is None else f"{x:.3g}"


def nbytes(x: float | None) -> str:
    if x is None:
        return MISSING
    for div, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if x >= div:
            return f"{x / div:.3g} {unit}"
    return f"{x:.0f} B"


def seconds(x: float | None) -> str:
    if x is None:
        return MISSING
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def ratio(x: float | None, base: float | None) -> str:
    """x/base as "1.23×", "—" when either is missing."""
    if x is None or not base:
        return MISSING
    return f"{x / base:.2f}×"


def loss(s: Standing) -> str:
    m = s.summary
    if m is None:
        return MISSING
    if m.n == 1:
        return f"{m.mean:.4f} (n=1)"
    return f"{m.mean:.4f} ± {m.std:.4f} (n={m.n})"


def delta(d: float, base_mean: float) -> str:
    return f"{d:+.4f} ({100 * d / base_mean:+.2f}%)"


def probability(p: float) -> str:
    """0.0031, <1e-4; "—" without a test."""
    return MISSING if not math.isfinite(p) else f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def p_value(p: float) -> str:
    return "" if not math.isfinite(p) else f"p={p:.2g}" if p >= 1e-4 else "p<1e-4"


def verdict(v: Verdict) -> str:
    """The verdict with its raw and Holm-adjusted p: "better, p=0.003, Holm p=0.012", "n/a (1 seed)"."""
    holm = p_value(v.p_adjusted)
    return ", ".join(x for x in (v.verdict, p_value(v.p_value), holm and f"Holm {holm}") if x)


def statuses(runs: list[Run]) -> str:
    """Run counts by status: "3 diverged, 40 finished"."""
    counts = Counter(r.status for r in runs)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


def board_label(board: Leaderboard, with_data: bool = False) -> str:
    label = f"{board.key.model} · {count(board.key.tokens)} tokens"
    return f"{label} · {board.key.data}" if with_data else label
