"""Synthetic scaling data with known parameters, shared by the scaling tests."""

import numpy as np

from optarena.scaling import CurveParams, ScalingFit

BASE = CurveParams(b=0.9, c=0.35, e=0.6, f=0.08)  # "adamw": L from ~7.3 at C = 1e-2 to ~2.5 at C = 1e2


def scaled(p: CurveParams, k: float) -> CurveParams:
    """The curve C -> L(k·C): the same law, reaching every loss with k times less compute."""
    return CurveParams(p.b * k**-p.c, p.c, p.e * k**-p.f, p.f)


def law(truth: ScalingFit, name: str, C) -> np.ndarray:
    """a + b·C^(−c) + e·C^(−f), written out here rather than taken from ScalingFit.predict."""
    p, C = truth.curves[name], np.asarray(C, dtype=np.float64)
    return truth.a + p.b * np.power(C, -p.c) + p.e * np.power(C, -p.f)


def sample(truth: ScalingFit, C, noise: float = 0.0, seed: int = 0) -> dict:
    """{name: [(C, L)]} on the truth's curves, L times exp(noise·N(0, 1)) per point."""
    rng = np.random.default_rng(seed)
    return {n: list(zip(C, law(truth, n, C) * np.exp(noise * rng.normal(size=len(C))))) for n in truth.curves}


def three_optimizers() -> ScalingFit:
    """Three optimizers with different exponents and a shared saturation."""
    curves = {"adamw": BASE, "opt1": CurveParams(0.7, 0.30, 0.55, 0.09), "opt2": CurveParams(1.1, 0.40, 0.5, 0.07)}
    return ScalingFit(a=1.9, curves=curves)
