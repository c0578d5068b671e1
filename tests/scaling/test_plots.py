import base64

import numpy as np
import pytest

from optarena.scaling import MultiplierBand, ScalingFit, affine_by_part
from optarena.scaling.plots import plot_multiplier, plot_scaling, to_base64_png  # imports matplotlib lazily

from .helpers import BASE, sample, scaled

pytest.importorskip("matplotlib")  # the optional "plot" extra

FIT = ScalingFit(a=1.9, curves={"adamw": BASE, "opt": scaled(BASE, 1.3)})
POINTS = sample(FIT, np.logspace(-2, 2, 6))
GRID = np.logspace(-2, 2, 20)


def test_plot_scaling_writes_png(tmp_path):
    fig = plot_scaling(FIT, POINTS, tmp_path / "scaling.png")
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 2 * 2  # points and curve per optimizer


def test_plot_multiplier_on_given_axes_with_band_and_affine():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    band = MultiplierBand(GRID, np.full(20, 1.3), np.full(20, 1.2), np.full(20, 1.4), np.ones((1, 20)), (5.0, 95.0))
    C_opt, L_opt = np.asarray(POINTS["opt"]).T
    affine = {"opt": (C_opt, affine_by_part(POINTS["adamw"], C_opt, L_opt))}
    out = plot_multiplier(FIT, ["opt"], GRID, bands={"opt": band}, affine=affine, path_or_ax=ax)
    assert out is fig and len(ax.collections) == 1  # the band
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1.3, rtol=1e-9)
    assert base64.b64decode(to_base64_png(fig))[:4] == b"\x89PNG"
