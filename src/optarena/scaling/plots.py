"""Figures for reports: loss against compute with the fitted laws, and the compute multiplier.

Matplotlib's object API only (`matplotlib.figure.Figure`, no pyplot): no global state, headless, safe
to call from threads. Each function draws on a given Axes, or on a new Figure; it returns the Figure,
and writes it to `path_or_ax` when that is a path. `to_base64_png` turns a Figure into the string a
self-contained HTML report puts in <img src="data:image/png;base64,...">. An optimizer keeps its
colour across both plots: colours follow the order of `fit.curves`.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from optarena.scaling.bootstrap import MultiplierBand
from optarena.scaling.multiplier import compute_multiplier
from optarena.scaling.power_law import Points, ScalingFit, as_arrays


def plot_scaling(fit: ScalingFit, points: Points, path_or_ax=None):
    """Observed (C, L) per optimizer and its fitted law, log-x."""
    fig, ax = _figure_and_axes(path_or_ax)
    data = as_arrays(points)
    lo = min(C.min() for C, _ in data.values())
    hi = max(C.max() for C, _ in data.values())
    grid = np.logspace(np.log10(lo) - 0.3, np.log10(hi) + 0.3, 200)
    for name, colour in _colours(fit).items():
        if name in data:
            ax.plot(*data[name], "o", color=colour)
        p = fit.curves[name]
        law = f"{p.b:.3g}·C^-{p.c:.3g}" + (f" + {p.e:.3g}·C^-{p.f:.3g}" if p.law == "broken" else "")
        ax.plot(grid, fit.predict(name, grid), "-", color=colour, label=f"{name}: a + {law}")
    # a goes in the title, not as a line: fitted a often sits near 0 and would squash the data
    title = f"joint fit, shared a = {fit.a:.3g}, weights = {fit.weights}"
    ax.set(xscale="log", xlabel="compute (PetaFLOP-hours)", ylabel="final validation loss", title=title)
    ax.legend(fontsize=7)
    return _finish(fig, path_or_ax)


def plot_multiplier(
    fit: ScalingFit,
    names: Sequence[str],
    C_grid,
    baseline: str = "adamw",
    bands: Mapping[str, MultiplierBand] | None = None,
    affine: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    path_or_ax=None,
):
    """Compute multiplier against `baseline` for each of `names` on `C_grid`, log-x, parity line at 1.

    `bands`: {name: bootstrap band}, shaded. `affine`: {name: (C, gain)} from `affine_by_part`, as dots.
    """
    fig, ax = _figure_and_axes(path_or_ax)
    colours = _colours(fit)
    for name in names:
        colour = colours[name]
        ax.plot(C_grid, compute_multiplier(fit, name, C_grid, baseline), "-", color=colour, label=f"{name} (fit)")
        if bands and name in bands:
            band = bands[name]
            lo, hi = band.levels
            ax.fill_between(band.C, band.low, band.high, color=colour, alpha=0.2, lw=0, label=f"{name} {lo:g}-{hi:g}%")
        if affine and name in affine:
            ax.plot(*affine[name], "o", color=colour, ms=4, label=f"{name} (affine by part)")
    ax.axhline(1.0, color="grey", ls="--", lw=0.8)
    ax.set(xscale="log", xlabel="compute (PetaFLOP-hours)", ylabel=f"compute multiplier vs {baseline}")
    ax.legend(fontsize=7)
    return _finish(fig, path_or_ax)


def to_base64_png(fig, dpi: int = 110) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure_and_axes(path_or_ax):
    if path_or_ax is not None and not isinstance(path_or_ax, (str, Path)):
        return path_or_ax.figure, path_or_ax  # an Axes
    from matplotlib.figure import Figure  # lazy: matplotlib is the optional "plot" extra

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    return fig, fig.add_subplot()


def _finish(fig, path_or_ax):
    if isinstance(path_or_ax, (str, Path)):
        fig.savefig(path_or_ax, dpi=120)
    return fig


def _colours(fit: ScalingFit) -> dict[str, str]:
    return {name: f"C{i % 10}" for i, name in enumerate(fit.curves)}
