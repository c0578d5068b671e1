"""Scaling laws across optimizers: joint broken-power-law fits, compute multipliers and their bands.

    points = {"adamw": [(C, L), ...], "adana": [...]}        # C in PetaFLOP-hours (compute.py)
    fit = fit_broken_power_law(points)                       # shared saturation a (power_law.py)
    gain = compute_multiplier(fit, "adana", C_grid)          # >1: adana needs less compute (multiplier.py)
    band = bootstrap_multiplier(points, "adana", C_grid)     # residual bootstrap (bootstrap.py)
    fig = plot_multiplier(fit, ["adana"], C_grid, bands={"adana": band})   # plots.py, needs matplotlib
"""

from optarena.scaling.bootstrap import MultiplierBand, bootstrap_multiplier
from optarena.scaling.compute import FLOPS_PER_PFH, compute_flops, compute_pfh
from optarena.scaling.multiplier import affine_by_part, compute_multiplier
from optarena.scaling.power_law import CurveParams, ScalingFit, fit_broken_power_law

__all__ = [
    "FLOPS_PER_PFH",
    "CurveParams",
    "MultiplierBand",
    "ScalingFit",
    "affine_by_part",
    "bootstrap_multiplier",
    "compute_flops",
    "compute_multiplier",
    "compute_pfh",
    "fit_broken_power_law",
]
