"""Joint fit of broken power laws with one shared saturation (ADANA §3, arXiv 2602.05298).

For every curve i (one optimizer's best-LR final losses L against training compute C, in PFH):

    L_i(C) = a + b_i·C^(−c_i) + e_i·C^(−f_i)

The saturation a is shared by all curves and fitted jointly; b, c, e, f belong to each curve. This is
the authors' model (mlexpos/adana visualization/compare_scaling_rules_new.py,
`fit_all_saturated_power_laws_joint`), with the same constraints and objective:

  * a_lb <= a <= 0.99·min L_obs. The authors write a = a_lb + σ(a_raw)·(0.99·min L − a_lb) because
    their Adagrad is unconstrained; our solver takes the same interval as a box bound on a itself.
    (With the sigmoid, an optimum at a = a_lb, which noisy data often have, sends a_raw to −∞ and the
    solver crawled for thousands of evaluations.) Their init a_raw = −3.1 is mapped through σ.
  * log b and log e, so b, e > 0. We also fit log c and log f, bounded to [1e-4, 4], so the exponents
    stay positive (the authors fit c and f raw, with no sign constraint).
  * minimise Σ_i Σ_k w_k·(log L̂_ik − log L_ik)² / Σ w over all points of all curves, with w = C
    (their default: the large runs we care about weigh most) or w = 1 (`weights="equal"`).

Optimiser: the authors run Adagrad(lr 0.1) for 50k steps from one start. We solve the same weighted
least-squares problem with scipy's trust-region-reflective `least_squares`, an analytic Jacobian and
float64, from five starts (their init a_raw=−3.1, b=0.5, c=0.05, e=2.5, f=0.045, and four data-driven
ones), keeping the lowest objective.

Identifiability (measured in tests/scaling): noiseless points give back the true parameters to ~1e-10.
With 0.1–0.3% loss noise the predictions stay within ~1% but **a is not identified**: the objective
has a flat valley in which a slides (often to a_lb) and the flat e·C^(−f) term absorbs it. With
w = C over a ladder spaced ×2.3 in compute, each curve has only ~2.5 effective points (Σw)²/Σw².
Read a, and any extrapolation far beyond the data, with that in mind.

Few points: a curve with fewer than `MIN_POINTS_BROKEN` = 5 points gets the single law
a + b·C^(−c) (e = f = 0); with 4 free parameters of its own the broken law would pass through 4
points exactly and predict nothing. `broken=False` uses the single law for every curve. Every curve
needs at least 2 points (b and c, given the shared a).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import least_squares

MIN_POINTS_BROKEN = 5
AUTHORS_INIT = {"a_raw": -3.1, "b": 0.5, "c": 0.05, "e": 2.5, "f": 0.045}
EXPONENT_BOUNDS = (1e-4, 4.0)
MAX_EVALS = 2000  # per start
Points = Mapping[str, Sequence[tuple[float, float]]]


@dataclass(frozen=True)
class CurveParams:
    """One curve's b·C^(−c) + e·C^(−f); e = f = 0 for the single law."""

    b: float
    c: float
    e: float = 0.0
    f: float = 0.0

    @property
    def law(self) -> str:
        return "broken" if self.e > 0 else "single"


@dataclass(frozen=True)
class ScalingFit:
    """Fitted curves L_i(C) = a + b_i·C^(−c_i) + e_i·C^(−f_i) sharing the saturation `a`."""

    a: float
    curves: Mapping[str, CurveParams]
    loss: float = math.nan  # the weighted log-space objective at the optimum
    weights: str = "compute"

    def predict(self, name: str, C) -> np.ndarray:
        if name not in self.curves:
            raise KeyError(f"no fitted curve {name!r}; have {', '.join(self.curves)}")
        p = self.curves[name]
        C = np.asarray(C, dtype=np.float64)
        return self.a + p.b * C**-p.c + p.e * C**-p.f

    @property
    def params(self) -> dict:
        """JSON-ready {"a": ..., "curves": {name: {"b", "c", "e", "f"}}, "loss": ..., "weights": ...}."""
        curves = {name: asdict(p) for name, p in self.curves.items()}
        return {"a": self.a, "curves": curves, "loss": self.loss, "weights": self.weights}


def as_arrays(points: Points) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Validate {name: [(C, L), ...]} and return {name: (C, L)} as float64 arrays sorted by C."""
    out = {}
    for name, pts in points.items():
        arr = np.asarray(pts, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"{name}: points must be (C, L) pairs, got shape {arr.shape}")
        if not (np.isfinite(arr).all() and (arr > 0).all()):
            raise ValueError(f"{name}: compute and loss must be finite and positive")
        if len(arr) < 2:
            raise ValueError(f"{name}: need at least 2 points, got {len(arr)}")
        arr = arr[np.argsort(arr[:, 0])]
        out[name] = (arr[:, 0], arr[:, 1])
    if not out:
        raise ValueError("no curves to fit")
    return out


@dataclass
class _Curve:
    name: str
    log_C: np.ndarray
    log_L: np.ndarray
    sqrt_w: np.ndarray  # sqrt(w / Σw over all curves)
    offset: int  # first column of this curve's parameters (log b, log c[, log e, log f])
    num_terms: int  # 2 for the broken law, 1 for the single law


class _Problem:
    """Residuals r = sqrt(w/Σw)·(log L̂ − log L) and their Jacobian; θ = [a, per-curve logs]."""

    def __init__(self, data, weights: str, a_lower: float, broken: bool):
        if weights not in ("compute", "equal"):
            raise ValueError(f"weights must be 'compute' or 'equal', got {weights!r}")
        min_loss = min(float(L.min()) for _, L in data.values())
        if not 0.0 <= a_lower < 0.99 * min_loss:
            raise ValueError(f"a_lower must be in [0, 0.99·min loss = {0.99 * min_loss:.4g}), got {a_lower}")
        self.a_lower, self.span = a_lower, 0.99 * min_loss - a_lower
        total_w = sum(float(C.sum()) if weights == "compute" else len(C) for C, _ in data.values())
        self.curves, offset = [], 1
        for name, (C, L) in data.items():
            num_terms = 2 if broken and len(C) >= MIN_POINTS_BROKEN else 1
            w = C if weights == "compute" else np.ones_like(C)
            self.curves.append(_Curve(name, np.log(C), np.log(L), np.sqrt(w / total_w), offset, num_terms))
            offset += 2 * num_terms
        self.num_params = offset

    def _terms(self, theta, cur: _Curve) -> tuple[np.ndarray, np.ndarray]:
        p = theta[cur.offset : cur.offset + 2 * cur.num_terms].reshape(-1, 2)  # rows (log coef, log exponent)
        exponent = np.exp(p[:, 1:])
        return np.exp(p[:, :1] - exponent * cur.log_C), exponent  # (terms, pts), (terms, 1)

    def residuals(self, theta) -> np.ndarray:
        a = theta[0]
        return np.concatenate([c.sqrt_w * (np.log(a + self._terms(theta, c)[0].sum(0)) - c.log_L) for c in self.curves])

    def jacobian(self, theta) -> np.ndarray:
        a = theta[0]
        rows = []
        for cur in self.curves:
            terms, exponent = self._terms(theta, cur)
            scale = cur.sqrt_w / (a + terms.sum(0))  # d r / d L̂
            J = np.zeros((len(cur.log_C), self.num_params))
            J[:, 0] = scale
            J[:, cur.offset : cur.offset + 2 * cur.num_terms : 2] = (scale * terms).T  # d/d log coef
            J[:, cur.offset + 1 : cur.offset + 2 * cur.num_terms : 2] = (scale * terms * -exponent * cur.log_C).T
            rows.append(J)
        return np.concatenate(rows)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.full(self.num_params, -np.inf), np.full(self.num_params, np.inf)
        lo[0], hi[0] = self.a_lower, self.a_lower + self.span
        lo[2::2], hi[2::2] = math.log(EXPONENT_BOUNDS[0]), math.log(EXPONENT_BOUNDS[1])
        return lo, hi

    def unpack(self, theta, loss: float, weights: str) -> ScalingFit:
        curves = {}
        for cur in self.curves:
            coef_exp = np.exp(theta[cur.offset : cur.offset + 2 * cur.num_terms])
            curves[cur.name] = CurveParams(*map(float, coef_exp))
        return ScalingFit(a=float(theta[0]), curves=curves, loss=loss, weights=weights)


def _authors_start(prob: _Problem) -> np.ndarray:
    i = AUTHORS_INIT
    broken = [math.log(i["b"]), math.log(i["c"]), math.log(i["e"]), math.log(i["f"])]
    single = [math.log(i["b"] + i["e"]), math.log(i["c"])]  # the two terms merged
    a = prob.a_lower + prob.span / (1.0 + math.exp(-i["a_raw"]))  # the authors' sigmoid map
    return np.array([a] + [v for c in prob.curves for v in (broken if c.num_terms == 2 else single)])


def _data_start(prob: _Problem, frac: float) -> np.ndarray:
    """a = a_lb + frac·span; per curve, the single law through log(L − a) vs log C, then (broken) split
    into a steeper and a flatter term (exponents 2s and s/2) that each carry half of it at mean log C."""
    a = prob.a_lower + frac * prob.span
    theta = [a]
    for cur in prob.curves:
        slope, log_B = np.polyfit(cur.log_C, np.log(np.exp(cur.log_L) - a), 1)
        s, mid = float(np.clip(-slope, 0.01, 1.5)), float(cur.log_C.mean())
        if cur.num_terms == 1:
            theta += [log_B, math.log(s)]
        else:
            half = log_B + math.log(0.5)
            theta += [half + s * mid, math.log(2 * s), half - 0.5 * s * mid, math.log(0.5 * s)]
    return np.array(theta)


def _start_from(prob: _Problem, fit: ScalingFit) -> np.ndarray:
    theta = [fit.a]
    for cur in prob.curves:
        p = fit.curves[cur.name]
        if (p.law == "broken") != (cur.num_terms == 2):
            raise ValueError(f"init curve {cur.name!r} is a {p.law} law but the data call for the other")
        theta += [math.log(p.b), math.log(p.c)] + ([math.log(p.e), math.log(p.f)] if cur.num_terms == 2 else [])
    lo, hi = prob.bounds()
    return np.clip(np.array(theta), lo, hi)


def fit_broken_power_law(
    points: Points,
    weights: str = "compute",
    a_lower: float = 0.0,
    broken: bool = True,
    init: ScalingFit | None = None,
    tol: float = 1e-10,
) -> ScalingFit:
    """Fit L_i(C) = a + b_i·C^(−c_i) + e_i·C^(−f_i) to {name: [(C, L), ...]} with a shared `a`.

    `weights`: "compute" (w = C, the authors' default) or "equal". `a_lower`: lower bound a_lb of the
    saturation. `broken=False`: single law for every curve. `init`: start only from this fit's
    parameters (a warm start, used by the bootstrap) instead of the multi-start. `tol`: scipy's
    ftol = xtol = gtol; below ~1e-10 the solver only crawls along the flat valley of a (docstring above).
    """
    prob = _Problem(as_arrays(points), weights, a_lower, broken)
    if init is not None:
        starts = [_start_from(prob, init)]
    else:
        starts = [_authors_start(prob)] + [_data_start(prob, frac) for frac in (0.1, 0.4, 0.7, 0.9)]
    lo, hi = prob.bounds()
    best = None
    for theta0 in starts:
        res = least_squares(
            prob.residuals, np.clip(theta0, lo, hi), jac=prob.jacobian, bounds=(lo, hi),
            method="trf", x_scale="jac", ftol=tol, xtol=tol, gtol=tol, max_nfev=MAX_EVALS,
        )  # fmt: skip
        if best is None or res.cost < best.cost:
            best = res
    return prob.unpack(best.x, loss=2.0 * float(best.cost), weights=weights)  # cost = ½ Σ r²
