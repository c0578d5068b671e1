"""Is an optimizer's final loss really different from the baseline's? Seeds in, verdict out.

  * `summarize`: mean, sample std (ddof=1), n, standard error of the mean.
  * `welch_t_test`: Welch's unequal-variance t-test (scipy.stats.ttest_ind(equal_var=False)), with the
    Welch–Satterthwaite degrees of freedom and all three p-values.
  * `compare_to_baseline`: the verdict a report prints. Lower loss is better. Two-sided Welch test at
    level alpha; "better" or "worse" by the sign of Δ = mean(opt) − mean(base) when p < alpha, else "no
    significant difference". Reading the direction off a two-sided test keeps the error rate of each
    directional claim at alpha/2. The (1 − alpha) Welch interval for Δ excludes 0 exactly when p < alpha.
    With fewer than 2 seeds on either side there is no variance estimate and no test: the verdict is
    "n/a (1 seed)" and p and the interval are NaN (Δ is still reported).
  * `holm`: Holm–Bonferroni adjusted p-values of a family of tests (Holm 1979): sorted ascending,
    p_(i)·(m − i + 1), a running maximum so the order is kept, capped at 1. Rejecting where the adjusted
    p < alpha keeps the chance of any false "better" or "worse" in the family at alpha, whatever the
    dependence between the tests (they share the baseline's seeds). Missing p-values (None, NaN: no
    test) are not tests and do not count in m.
  * `holm_verdicts`: the verdicts of one family (every optimizer of a cell against its baseline) with
    their Holm-adjusted p, and the verdict read off it instead of the raw p.
  * `z_test_against_target`: modded-nanogpt track 3's rule (records/track_3_optimization/README.md): a
    run passes when its mean loss is below the target with one-sided p < 0.001 under a *known* seed std
    σ (0.0013 at 124M), i.e. (target − mean)·√n >= z_0.999·σ ≈ 0.004 at σ = 0.0013.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats


class Summary(NamedTuple):
    mean: float
    std: float  # ddof = 1; NaN for n = 1
    n: int
    sem: float  # std / sqrt(n)


class WelchResult(NamedTuple):
    t: float  # (mean(a) − mean(b)) / sqrt(var_a/n_a + var_b/n_b)
    dof: float  # Welch–Satterthwaite
    p_two_sided: float
    p_less: float  # H1: mean(a) < mean(b), e.g. a has lower loss
    p_greater: float  # H1: mean(a) > mean(b)


class Verdict(NamedTuple):
    verdict: str  # "better" | "worse" | "no significant difference" | "n/a (1 seed)"
    p_value: float  # two-sided Welch
    delta: float  # mean(opt) − mean(base); negative = lower loss
    ci: tuple[float, float]  # (1 − alpha) Welch interval for delta
    n_opt: int
    n_base: int
    p_adjusted: float = math.nan  # Holm-adjusted over its family (`holm_verdicts`); NaN: not adjusted


class ZTest(NamedTuple):
    z: float  # (target − mean)·√n / σ
    p_value: float  # one-sided, H1: true mean < target
    passed: bool


def summarize(values: Sequence[float]) -> Summary:
    x = _as_sample(values)
    std = float(np.std(x, ddof=1)) if len(x) > 1 else math.nan
    return Summary(mean=float(x.mean()), std=std, n=len(x), sem=std / math.sqrt(len(x)))


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> WelchResult:
    """Welch's t-test of mean(a) vs mean(b); needs >= 2 values in each and some spread."""
    x, y = _as_sample(a), _as_sample(b)
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"Welch's test needs >= 2 values per sample, got {len(x)} and {len(y)}")
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    if vx + vy == 0:
        raise ValueError("both samples are constant: the t statistic is undefined")
    dof = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    alternatives = ("two-sided", "less", "greater")
    p = {alt: float(stats.ttest_ind(x, y, equal_var=False, alternative=alt).pvalue) for alt in alternatives}
    t = float((x.mean() - y.mean()) / math.sqrt(vx + vy))
    return WelchResult(t=t, dof=float(dof), p_two_sided=p["two-sided"], p_less=p["less"], p_greater=p["greater"])


def compare_to_baseline(opt_losses: Sequence[float], base_losses: Sequence[float], alpha: float = 0.05) -> Verdict:
    """Verdict on the optimizer's final losses against the baseline's (lower is better); module docstring."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    x, y = _as_sample(opt_losses), _as_sample(base_losses)
    delta = float(x.mean() - y.mean())
    if len(x) < 2 or len(y) < 2:
        return Verdict("n/a (1 seed)", math.nan, delta, (math.nan, math.nan), len(x), len(y))
    w = welch_t_test(x, y)
    half = stats.t.ppf(1 - alpha / 2, w.dof) * math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    verdict = _direction(w.p_two_sided, delta, alpha)
    return Verdict(verdict, w.p_two_sided, delta, (delta - half, delta + half), len(x), len(y))


def holm(pvalues: Sequence[float | None]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order; NaN where the input is None or NaN."""
    tested = [i for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    if any(not 0 <= pvalues[i] <= 1 for i in tested):
        raise ValueError(f"p-values must lie in [0, 1], got {list(pvalues)}")
    m = len(tested)
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(tested, key=lambda i: pvalues[i])):  # rank 0 is p_(1)
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def holm_verdicts(verdicts: Sequence[Verdict], alpha: float = 0.05) -> list[Verdict]:
    """`verdicts` (one family, all from `compare_to_baseline` at `alpha`) with `p_adjusted` set by `holm`
    and each tested verdict decided by it; untested ones ("n/a …") unchanged."""
    adjusted = holm([v.p_value for v in verdicts])
    return [v if math.isnan(p) else v._replace(verdict=_direction(p, v.delta, alpha), p_adjusted=p)
            for v, p in zip(verdicts, adjusted)]


def _direction(p: float, delta: float, alpha: float) -> str:
    if p >= alpha:
        return "no significant difference"
    return "better" if delta < 0 else "worse"


def z_test_against_target(values: Sequence[float], target: float, sigma: float, alpha: float = 0.001) -> ZTest:
    """One-sided z-test that the mean loss is below `target`, with the seed std `sigma` taken as known."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    x = _as_sample(values)
    z = (target - float(x.mean())) * math.sqrt(len(x)) / sigma
    p = float(stats.norm.sf(z))
    return ZTest(z=z, p_value=p, passed=p < alpha)


def _as_sample(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) == 0 or not np.isfinite(x).all():
        raise ValueError(f"need at least one finite value, got {values!r}")
    return x
