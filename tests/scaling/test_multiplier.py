import numpy as np
import pytest
from scipy.interpolate import interp1d

from optarena.scaling import CurveParams, ScalingFit, affine_by_part, compute_multiplier, fit_broken_power_law

from .helpers import BASE, sample, scaled

GRID = np.logspace(-4, 6, 41)  # well beyond any data: the exact case holds everywhere


@pytest.mark.parametrize("k", [0.5, 1.0, 1.37, 4.0])
@pytest.mark.parametrize("base", [BASE, CurveParams(1.5, 0.3)], ids=["broken", "single"])
def test_exact_when_optimizer_is_baseline_with_compute_scaled(k, base):
    fit = ScalingFit(a=1.9, curves={"adamw": base, "opt": scaled(base, k)})
    np.testing.assert_allclose(compute_multiplier(fit, "opt", GRID), k, rtol=1e-9)
    np.testing.assert_allclose(compute_multiplier(fit, "adamw", GRID), 1.0, rtol=1e-9)


def test_custom_baseline_name():
    fit = ScalingFit(a=1.9, curves={"lion": BASE, "opt": scaled(BASE, 2.0)})
    np.testing.assert_allclose(compute_multiplier(fit, "opt", [1.0, 10.0], baseline="lion"), 2.0, rtol=1e-9)
    with pytest.raises(KeyError, match="adamw"):
        compute_multiplier(fit, "opt", [1.0])


def test_fitted_on_noiseless_scaled_points_gives_k():
    k = 1.3
    truth = ScalingFit(a=1.9, curves={"adamw": BASE, "opt": scaled(BASE, k), "other": scaled(BASE, 0.8)})
    fit = fit_broken_power_law(sample(truth, np.logspace(-2, 2, 10)))
    np.testing.assert_allclose(compute_multiplier(fit, "opt", np.logspace(-2, 2, 9)), k, rtol=1e-3)


def test_nan_where_the_baseline_root_leaves_the_bracket():
    # C' = k·C = 1e25 · 1e6 = 1e31 PFH lies beyond the 1e30 bracket; 1e25 · 1e-4 = 1e21 does not.
    fit = ScalingFit(a=1.9, curves={"adamw": BASE, "opt": scaled(BASE, 1e25)})
    gains = compute_multiplier(fit, "opt", [1e-4, 1e6])
    assert gains[0] == pytest.approx(1e25, rel=1e-6) and np.isnan(gains[1])


def _reference_piecewise(C_base, L_base):
    """log L as a function of log C: linear between points, the end segments extended (scipy)."""
    f = interp1d(np.log(C_base), np.log(L_base), kind="linear", fill_value="extrapolate")
    return lambda C: np.exp(f(np.log(C)))


@pytest.mark.parametrize("k", [0.3, 1.25, 3.0])
def test_affine_by_part_exact_on_piecewise_linear_log_log_baseline(k):
    C_base = np.array([1.0, 10.0, 30.0, 100.0, 1000.0])
    L_base = np.array([4.0, 3.5, 3.3, 3.1, 2.8])  # kinks at every point in log-log
    baseline = _reference_piecewise(C_base, L_base)
    C_opt = np.logspace(-1, 3.5, 13)  # k·C covers both extrapolations and every segment
    L_opt = baseline(k * C_opt)  # the optimizer is the baseline with compute scaled by k
    gains = affine_by_part(list(zip(C_base, L_base)), C_opt, L_opt)
    np.testing.assert_allclose(gains, k, rtol=1e-10)


def test_affine_by_part_sorts_points_and_rejects_non_monotone_baseline():
    pts = [(100.0, 3.1), (1.0, 4.0), (10.0, 3.5)]
    assert affine_by_part(pts, [5.0], [3.5]) == pytest.approx([2.0])
    with pytest.raises(ValueError, match="decrease"):
        affine_by_part([(1.0, 4.0), (10.0, 3.5), (100.0, 3.6)], [1.0], [3.8])
