import math

import numpy as np
import pytest
from scipy import stats

from optarena.stats import compare_to_baseline, holm, holm_verdicts, summarize, welch_t_test, z_test_against_target


def test_summarize_by_hand():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.n == 4
    assert s.std == pytest.approx(math.sqrt(5 / 3))  # Σ(x − 2.5)² = 5, ddof = 1
    assert s.sem == pytest.approx(math.sqrt(5 / 3) / 2)
    one = summarize([3.28])
    assert one.mean == 3.28 and one.n == 1 and math.isnan(one.std) and math.isnan(one.sem)


def test_welch_matches_the_formula():
    a = [3.281, 3.279, 3.284, 3.280, 3.283]
    b = [3.290, 3.286, 3.295, 3.288]
    va, vb = np.var(a, ddof=1) / 5, np.var(b, ddof=1) / 4
    t = (np.mean(a) - np.mean(b)) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 3)
    w = welch_t_test(a, b)
    assert w.t == pytest.approx(t, rel=1e-10) and w.dof == pytest.approx(dof, rel=1e-10)
    assert w.p_less == pytest.approx(stats.t.cdf(t, dof), rel=1e-8)  # Student-t CDF at the Welch dof
    assert w.p_greater == pytest.approx(stats.t.sf(t, dof), rel=1e-8)
    assert w.p_two_sided == pytest.approx(2 * stats.t.cdf(-abs(t), dof), rel=1e-8)


def test_welch_needs_two_values_and_some_spread():
    with pytest.raises(ValueError, match=">= 2"):
        welch_t_test([3.28], [3.29, 3.30])
    with pytest.raises(ValueError, match="constant"):
        welch_t_test([3.28, 3.28], [3.29, 3.29])


@pytest.mark.parametrize(
    "opt, verdict",
    [
        ([3.270, 3.272, 3.271], "better"),
        ([3.300, 3.302, 3.301], "worse"),
        ([3.280, 3.285, 3.278], "no significant difference"),
    ],
)
def test_verdicts(opt, verdict):
    base = [3.281, 3.283, 3.282]
    v = compare_to_baseline(opt, base)
    assert v.verdict == verdict
    assert v.delta == pytest.approx(np.mean(opt) - np.mean(base))
    assert (v.ci[0] > 0 or v.ci[1] < 0) == (v.p_value < 0.05)  # the interval excludes 0 iff significant
    assert v.ci[0] < v.delta < v.ci[1]


def test_one_seed_gives_no_test():
    v = compare_to_baseline([3.27], [3.281, 3.283, 3.282])
    assert v.verdict == "n/a (1 seed)" and math.isnan(v.p_value) and all(math.isnan(x) for x in v.ci)
    assert v.delta == pytest.approx(3.27 - 3.282) and (v.n_opt, v.n_base) == (1, 3)


def test_interval_and_test_agree_on_random_samples():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x, y = 3.28 + 0.002 * rng.normal(size=4), 3.281 + 0.002 * rng.normal(size=5)
        v = compare_to_baseline(x, y, alpha=0.1)
        assert (v.ci[0] > 0 or v.ci[1] < 0) == (v.p_value < 0.1)


def test_z_test_reproduces_modded_nanogpt_threshold():
    # Track 3: σ = 0.0013, p < .001 "passed when (3.28 − mean)·√n >= 0.004" (z_0.999 · 0.0013 = 0.00402).
    assert z_test_against_target([3.28 - 0.0041 / 2] * 4, 3.28, 0.0013).passed
    assert not z_test_against_target([3.28 - 0.0039 / 2] * 4, 3.28, 0.0013).passed
    baseline_36 = z_test_against_target([3.2787] * 10, 3.28, 0.0013)  # record #36: mean 3.2787, n = 10
    assert baseline_36.passed and baseline_36.z == pytest.approx(0.0013 * math.sqrt(10) / 0.0013)
    assert baseline_36.p_value == pytest.approx(stats.norm.sf(math.sqrt(10)))


def test_holm_by_hand():
    # sorted: 0.01, 0.02, 0.03, 0.04 (m = 4) -> 0.04, 0.06, 0.06 (running max over 0.03·2), 0.06 (0.04·1)
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    # capped at 1: 0.3·3 = 0.9, 0.4·2 = 0.8 -> 0.9 (running max), 0.6·1 -> 0.9
    assert holm([0.6, 0.3, 0.4]) == pytest.approx([0.9, 0.9, 0.9])
    assert holm([0.5, 0.7]) == pytest.approx([1.0, 1.0])  # 0.5·2 = 1.0, then max(1.0, 0.7)
    assert holm([0.02]) == [0.02]  # one test: nothing to adjust
    assert holm([]) == []


def test_holm_leaves_untested_entries_out_of_m():
    adjusted = holm([0.01, None, math.nan, 0.04])  # m = 2: 0.01·2, max(0.02, 0.04·1)
    assert adjusted[0] == pytest.approx(0.02) and adjusted[3] == pytest.approx(0.04)
    assert math.isnan(adjusted[1]) and math.isnan(adjusted[2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])


def test_holm_verdicts_read_the_adjusted_p():
    base = [3.0, 3.01, 3.02]
    a, b = [x - 0.027 for x in base], [x + 0.028 for x in base]  # same spread, b further away: p_b < p_a
    raw = [compare_to_baseline(a, base), compare_to_baseline(b, base), compare_to_baseline([2.9], base)]
    p_a, p_b = raw[0].p_value, raw[1].p_value
    assert p_b < p_a < 0.05 and [v.verdict for v in raw[:2]] == ["better", "worse"]
    adjusted = holm_verdicts(raw)
    assert adjusted[1].p_adjusted == pytest.approx(2 * p_b)  # p_(1)·m, m = 2 (the 1-seed row is no test)
    assert adjusted[0].p_adjusted == pytest.approx(max(2 * p_b, p_a))  # p_(2)·1, running max
    assert min(v.p_adjusted for v in adjusted[:2]) >= 0.05  # the flip: significant alone, not among two
    assert [v.verdict for v in adjusted] == ["no significant difference", "no significant difference", "n/a (1 seed)"]
    assert (adjusted[0].p_value, adjusted[1].p_value) == (p_a, p_b)  # the raw p is kept beside it
    assert adjusted[2] is raw[2] and math.isnan(adjusted[2].p_adjusted)  # untested: untouched
    alone = holm_verdicts(raw[:1])[0]
    assert alone.verdict == "better" and alone.p_adjusted == p_a
