"""Figure 1 of Grams (Cao, Li, Song, arXiv 2412.17107): five optimizers on a simple 2-D convex function.

The paper shows Grams, Adam, Lion, C-Adam and C-Lion on "a simple convex function": the trajectories
over contour lines (left), log distance to the optimum against step (middle) and the objective against
step (right). It does not give the function, start, learning rates or step count, and the official
repository (Gunale0926/Grams@f91a375) holds only the optimizer (grams/src/grams.py), no figure script.
So the setting below is **our choice**, made to fit the paper's description:

    f(w) = ½ (w − w*)ᵀ H (w − w*) = ½(x − 1)² + ½(x + y − ½)²,   H = [[2, 1], [1, 1]],  w* = (1, −½)

a two-residual least squares: convex, not separable, condition number κ(H) ≈ 6.9. The start lies 3
away from w* at 100° (w* + 3·(cos 100°, sin 100°) ≈ (0.48, 2.45)). There g = H(w − w*) ≈ (1.9, 2.4) has
signs (+, +), so sign-like steps head down-left at 45° while w* lies almost straight down: every method
must turn, which separates them (chosen, after looking at five start angles, for an informative
picture; at all five, the distance after 200 steps ranks Grams < C-Adam < Adam < both Lions). The
irrational offset also keeps Lion's ±lr lattice from landing exactly on w* by coincidence.

Every optimizer gets the same lr = 0.1: in a deterministic problem Adam's first steps are ±lr per
coordinate like Lion's, so one lr gives every method the same initial step length (Lion's usual
"3–10× smaller lr" compensates for its larger update norm in noisy high-dimensional training, which
this toy does not have).

Optimizers are the registry's entries with their own defaults and no weight decay: ``grams`` (official
code's eps 1e-6, HF style), ``adam`` (torch.optim.Adam), ``cautious-adamw`` (the paper's C-Adam),
``lion`` and ``cautious-lion`` (C-Optim's betas 0.95/0.98). Legend: w = (x, y) the parameter, g = ∇f(w).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from optarena import optim

HESSIAN = ((2.0, 1.0), (1.0, 1.0))
OPTIMUM = (1.0, -0.5)
START = (OPTIMUM[0] + 3 * math.cos(math.radians(100)), OPTIMUM[1] + 3 * math.sin(math.radians(100)))
DEFAULT_STEPS = 200
DEFAULT_LR = 0.1

# registry name -> the paper's label, in the paper's legend order.
LABELS = {"grams": "Grams", "adam": "Adam", "lion": "Lion", "cautious-adamw": "C-Adam",
          "cautious-lion": "C-Lion"}


@dataclass(frozen=True)
class Trajectory:
    """One optimizer's run; row i is the state after i steps (row 0 = the start)."""

    points: np.ndarray  # (steps+1, 2)
    distance: np.ndarray  # (steps+1,)  ‖w − w*‖₂
    objective: np.ndarray  # (steps+1,)  f(w)


def objective(points: np.ndarray) -> np.ndarray:
    """f at each row of ``points`` (..., 2)."""
    d = np.asarray(points, dtype=np.float64) - np.asarray(OPTIMUM)
    return 0.5 * np.einsum("...i,ij,...j->...", d, np.asarray(HESSIAN), d)


def _trajectory(points: np.ndarray) -> Trajectory:
    return Trajectory(points, np.linalg.norm(points - np.asarray(OPTIMUM), axis=-1), objective(points))


def run_one(name: str, lr: float, steps: int = DEFAULT_STEPS) -> Trajectory:
    """``steps`` updates of registry optimizer ``name`` from START, on one float64 parameter w."""
    hessian = torch.tensor(HESSIAN, dtype=torch.float64)
    w_star = torch.tensor(OPTIMUM, dtype=torch.float64)
    w = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = optim.create(name, [w], lr=lr, weight_decay=0.0)
    points = np.empty((steps + 1, 2))
    points[0] = START
    for t in range(1, steps + 1):
        with torch.no_grad():
            w.grad = hessian @ (w - w_star)  # exact gradient of the quadratic
        opt.step()
        points[t] = w.detach().numpy()
    return _trajectory(points)


def run(steps: int = DEFAULT_STEPS, lrs: Mapping[str, float] | None = None) -> dict[str, Trajectory]:
    """Every optimizer of LABELS; ``lrs`` overrides the shared lr per registry name."""
    lrs = dict(lrs or {})
    unknown = sorted(set(lrs) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown optimizer(s) {', '.join(unknown)}; choose from {', '.join(LABELS)}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return {name: run_one(name, lrs.get(name, DEFAULT_LR), steps) for name in LABELS}


def plot(results: Mapping[str, Trajectory], path: str) -> None:
    """Write the three-panel figure (trajectories, log distance, objective) as an image at ``path``."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state, works headless (Agg)

    fig = Figure(figsize=(15, 4.5), layout="constrained")
    ax_path, ax_dist, ax_obj = fig.subplots(1, 3)
    _contours(ax_path, results)
    for name, tr in results.items():
        label = LABELS.get(name, name)
        ax_path.plot(tr.points[:, 0], tr.points[:, 1], ".-", ms=3, lw=1, label=label)
        ax_dist.semilogy(tr.distance, lw=1.2, label=label)  # exact zeros are masked, not plotted
        ax_obj.semilogy(tr.objective, lw=1.2, label=label)
    ax_path.plot(*START, "ko", ms=5)
    ax_path.plot(*OPTIMUM, "k*", ms=12)
    ax_path.set(xlabel="x", ylabel="y", title="trajectories")
    ax_dist.set(xlabel="step", ylabel="‖w − w*‖", title="distance to optimum")
    ax_obj.set(xlabel="step", ylabel="f(w)", title="objective")
    for ax in (ax_path, ax_dist, ax_obj):
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)


def _contours(ax, results: Mapping[str, Trajectory]) -> None:
    pts = np.concatenate([tr.points for tr in results.values()])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.15 * (hi - lo).max()
    xs = np.linspace(lo[0] - pad, hi[0] + pad, 200)
    ys = np.linspace(lo[1] - pad, hi[1] + pad, 200)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)  # (200, 200, 2)
    ax.contour(xs, ys, objective(grid), levels=20, cmap="Greys", linewidths=0.6)


def table(results: Mapping[str, Trajectory], lrs: Mapping[str, float] | None = None) -> str:
    lrs = lrs or {}
    rows = [f"{'optimizer':<8} {'lr':>7} {'‖w−w*‖ final':>14} {'f final':>11}"]
    for name, tr in results.items():
        rows.append(f"{LABELS.get(name, name):<8} {lrs.get(name, DEFAULT_LR):>7.3g} "
                    f"{tr.distance[-1]:>14.3e} {tr.objective[-1]:>11.3e}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="optarena toy grams-fig1", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="grams_figure1.png", help="image path (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="steps (default: %(default)s)")
    ap.add_argument("--lr", type=float, default=DEFAULT_LR, help="lr for every optimizer (default: %(default)s)")
    args = ap.parse_args(argv)
    lrs = dict.fromkeys(LABELS, args.lr)
    results = run(args.steps, lrs)
    print(table(results, lrs))
    plot(results, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
