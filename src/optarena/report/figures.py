"""The per-cell plots of a report. Matplotlib's object API only (no pyplot state), headless.

Each function returns a `matplotlib.figure.Figure`; `png(fig)` turns it into the base64 string the
HTML embeds. An optimizer keeps its colour in every plot of a report (`palette`); the baseline is black.
The loss plots draw the cell's reference floors as dashed grey lines, labelled, inside the view.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
from collections.abc import Sequence

import numpy as np

from optarena.report import fmt
from optarena.report.curves import MeanCurve
from optarena.report.standings import Leaderboard
from optarena.scaling.plots import to_base64_png

FloorLines = Sequence[tuple[str, float]]  # (name, nats/token) of each reference floor, as Floors.lines() gives
FLOOR_COLOUR = "#6e6e6e"
FIGSIZE = (6.4, 4.0)  # inches; at DPI about 700 × 440 px, two side by side in the page
DPI = 110


# tab10 without its grey, then darker tab20b shades; hex, so they mean the same inside `colour_cycle`
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
           "#393b79", "#637939", "#8c6d31")  # fmt: skip


def palette(names, baseline: str) -> dict[str, str]:
    """Colour per optimizer name: the baseline black, the rest in sorted order (cycling past 12)."""
    others = sorted(set(names) - {baseline})
    return {baseline: "#000000", **{name: COLOURS[i % len(COLOURS)] for i, name in enumerate(others)}}


def png(fig) -> str:
    return to_base64_png(fig, dpi=DPI)


def available() -> bool:
    """Whether matplotlib (the optional "plot" extra) is installed; without it a report has no plots."""
    return importlib.util.find_spec("matplotlib") is not None


@contextlib.contextmanager
def colour_cycle(colours: list[str]):
    """Make "C0", "C1", … mean `colours` while plotting and saving, so the scaling plots (which colour
    curves C0, C1, … in fit order) use this report's colours."""
    import matplotlib
    from cycler import cycler

    with matplotlib.rc_context({"axes.prop_cycle": cycler(color=colours)}):
        yield


def loss_vs_tokens(means: dict[str, MeanCurve], colours: dict[str, str], title: str, floors: FloorLines = (),
                   baseline: str = ""):
    """Seed-mean validation loss against tokens (min-max over seeds shaded), at each best LR; `floors`:
    (name, nats/token) pairs drawn as dashed lines; `baseline`'s line drawn thicker."""
    fig, ax = _axes()
    for name, c in means.items():
        ax.plot(
            c.x,
            c.mean,
            "-",
            color=colours[name],
            lw=1.6 if name == baseline else 1.3,
            label=f"{name} (n={c.num_seeds})",
        )
        if c.num_seeds > 1:
            ax.fill_between(c.x, c.low, c.high, color=colours[name], alpha=0.15, lw=0)
    _zoom_on_tail(ax, means.values())
    _floor_lines(ax, floors)
    _tokens_axis(ax, means.values())
    ax.set(ylabel="validation loss", title=title)
    ax.legend(fontsize=7)
    return fig


def lr_sensitivity(board: Leaderboard, colours: dict[str, str], title: str, floors: FloorLines = ()):
    """Final loss against LR per optimizer (mean ± std over seeds); diverged LRs as x on the top edge;
    `floors` as in `loss_vs_tokens`."""
    from matplotlib.transforms import blended_transform_factory

    fig, ax = _axes()
    top_edge = blended_transform_factory(ax.transData, ax.transAxes)
    finite = []
    for s in board.standings:
        pts = [p for p in s.lr_points if p.losses]
        lrs, means = [p.lr for p in pts], [p.mean for p in pts]
        stds = [float(np.std(p.losses, ddof=1)) if len(p.losses) > 1 else 0.0 for p in pts]
        label = s.optimizer + (f" (best LR at {s.edge} edge!)" if s.edge else "")
        if pts:
            ax.errorbar(
                lrs, means, yerr=stds, fmt="o-", ms=3.5, lw=1.2, capsize=2, color=colours[s.optimizer], label=label
            )
            finite += means
        if s.best_lr is not None and s.summary is not None:
            ax.plot([s.best_lr], [s.summary.mean], "o", ms=10, mfc="none", mew=1.6, color=colours[s.optimizer])
        diverged = [p.lr for p in s.lr_points if p.num_diverged]
        if diverged:
            ax.plot(
                diverged,
                [0.97] * len(diverged),
                "x",
                ms=8,
                mew=2,
                color=colours[s.optimizer],
                transform=top_edge,
                clip_on=False,
                label=None if pts else label,
            )
    if finite:  # bad LRs can sit far above the optimum: show up to 25% above the best loss
        lo = min(finite)
        hi = min(max(finite), 1.25 * lo)
        pad = 0.05 * max(hi - lo, 1e-3)
        ax.set_ylim(lo - pad, hi + pad)
    _floor_lines(ax, floors)
    ax.set(xscale="log", xlabel="peak learning rate", ylabel="final validation loss", title=title)
    _plain_log_ticks(ax.xaxis, lambda v: f"{v:g}")
    ax.plot([], [], "x", color="grey", mew=2, label="diverged (at top)")
    ax.plot([], [], "o", ms=10, mfc="none", color="grey", label="best LR")
    ax.legend(fontsize=7)
    return fig


def loss_ratio(ratios: dict[str, tuple[np.ndarray, np.ndarray]], colours: dict[str, str], title: str, xlabel: str,
               baseline: str):
    """L_opt / L_baseline against tokens (or steps), parity line at 1."""
    fig, ax = _axes()
    for name, (x, ratio) in ratios.items():
        ax.plot(x, ratio, "-", color=colours[name], lw=1.3, label=name)
    ax.axhline(1.0, color="black", ls="--", lw=0.8, label=fmt.plain(baseline))
    ax.set(xlabel=xlabel, ylabel=f"val loss / {fmt.plain(baseline)} val loss", title=title)
    if xlabel == "tokens":
        _eng(ax)
    ax.legend(fontsize=7)
    return fig


def excess_loss(means: dict[str, MeanCurve], floor: float, colours: dict[str, str], title: str):
    """Validation loss minus the data's entropy floor, log-log: the part an optimizer can still remove."""
    fig, ax = _axes()
    for name, c in means.items():
        excess = c.mean - floor
        ok = (excess > 0) & (c.x > 0)
        ax.plot(c.x[ok], excess[ok], "-", color=colours[name], lw=1.3, label=name)
    ax.set(xscale="log", yscale="log", ylabel=f"val loss − floor ({floor:.4f} nats)", title=title)
    ax.set_xlabel(x_label(means.values()))
    _plain_log_ticks(ax.yaxis, lambda v: f"{v:g}")
    _plain_log_ticks(ax.xaxis, _engineering())
    ax.legend(fontsize=7)
    return fig


def _floor_lines(ax, floors: FloorLines) -> None:
    """Each (name, value) as a dashed horizontal line, labelled at its left end (where loss curves are
    still high); the y-range widened to show every one: a floor above or below the curves is what the
    reader needs to see."""
    if not floors:
        return
    from matplotlib.transforms import blended_transform_factory

    lo, hi = ax.get_ylim()
    values = [value for _, value in floors]
    pad = 0.03 * (max(hi, *values) - min(lo, *values))
    ax.set_ylim(min(lo, min(values) - pad), max(hi, max(values) + pad))
    left_edge = blended_transform_factory(ax.transAxes, ax.transData)
    for name, value in floors:
        ax.axhline(value, color=FLOOR_COLOUR, ls="--", lw=0.9, zorder=1)
        ax.text(0.01, value, f"{name} floor {value:.3f}", transform=left_edge, ha="left", va="bottom",
                fontsize=7, color=FLOOR_COLOUR)


def _axes():
    from matplotlib.figure import Figure  # lazy: matplotlib is the optional "plot" extra

    fig = Figure(figsize=FIGSIZE, layout="tight")  # "constrained" costs ~0.2 s more per figure
    ax = fig.add_subplot()
    ax.grid(True, which="major", alpha=0.3)
    return fig, ax


def x_label(curves) -> str:
    return "tokens" if all(np.isfinite(c.tokens).all() for c in curves) else "step"


def _tokens_axis(ax, curves) -> None:
    label = x_label(curves)
    ax.set_xlabel(label)
    if label == "tokens":
        _eng(ax)


def _eng(ax) -> None:
    ax.xaxis.set_major_formatter(_engineering())


def _engineering():
    """Tokens as 20M, 1.5B."""
    from matplotlib.ticker import EngFormatter

    return EngFormatter(sep="")


def _plain_log_ticks(axis, formatter) -> None:
    """A log axis spanning a decade or two gets labels like 3×10^0 by default, and they collide:
    print `formatter(v)`, on minor ticks only at 2, 3, 5 × 10^k (under 1.5 decades) or 2, 5 (under 2.5)."""
    from matplotlib.ticker import FuncFormatter

    decades = _decades(axis.get_view_interval())
    labelled = (2, 3, 5) if decades < 1.5 else (2, 5) if decades < 2.5 else ()
    axis.set_major_formatter(FuncFormatter(lambda v, _: formatter(v)))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: formatter(v) if _mantissa(v) in labelled else ""))


def _mantissa(v: float) -> int:
    return round(v / 10 ** math.floor(math.log10(v))) if v > 0 else 0


def _decades(lim: tuple[float, float]) -> float:
    return abs(math.log10(lim[1] / lim[0]))


def _zoom_on_tail(ax, curves) -> None:
    """Loss falls from ~ln(vocab) at step 0: start the y-axis at the loss after 10% of training."""
    tops, bottoms = [], []
    for c in curves:
        x = c.x
        later = x >= x[0] + 0.1 * (x[-1] - x[0])
        if later.sum() >= 2:
            tops.append(c.high[later][0])
        bottoms.append(c.low.min())
    if tops and bottoms and math.isfinite(max(tops)):
        lo, hi = min(bottoms), max(tops)
        pad = 0.03 * max(hi - lo, 1e-3)
        ax.set_ylim(lo - pad, hi + pad)
