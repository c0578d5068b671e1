import numpy as np
import pytest

from optarena.scaling import ScalingFit, bootstrap_multiplier, fit_broken_power_law

from .helpers import BASE, sample, scaled

K = 1.3
TRUTH = ScalingFit(a=1.9, curves={"adamw": BASE, "opt": scaled(BASE, K), "other": scaled(BASE, 1.1)})
GRID = np.logspace(-1.5, 1.5, 7)


@pytest.mark.parametrize("weights", ["compute", "equal"])
def test_band_contains_the_true_multiplier_on_noisy_points(weights):
    points = sample(TRUTH, np.logspace(-2, 2, 10), noise=2e-3, seed=2)  # 0.2% loss noise
    band = bootstrap_multiplier(points, "opt", GRID, n=20, seed=0, weights=weights)
    assert band.samples.shape == (20, len(GRID)) and band.levels == (5.0, 95.0)
    assert np.all(band.low <= K) and np.all(K <= band.high)
    assert np.all(band.high - band.low < 0.5)  # informative, not just wide


def test_same_seed_same_band_and_reuses_a_given_fit():
    points = sample(TRUTH, np.logspace(-2, 2, 8), noise=2e-3, seed=3)
    fit = fit_broken_power_law(points, weights="equal", broken=False)
    one = bootstrap_multiplier(points, "opt", GRID, n=4, seed=7, fit=fit, weights="equal", broken=False)
    two = bootstrap_multiplier(points, "opt", GRID, n=4, seed=7, fit=fit, weights="equal", broken=False)
    np.testing.assert_array_equal(one.samples, two.samples)
    assert not np.allclose(one.samples[0], one.samples[1])  # replicates do differ
