"""Two markdown tables from a suite's results.db that the report does not print, for docs/results.

    .venv/bin/python scripts/results_tables.py lr-grid DIR    final loss of every optimizer at every LR
    .venv/bin/python scripts/results_tables.py holdout DIR    each optimizer vs AdamW on seeds >= 1 only

``lr-grid`` gives a sweep's seed-0 loss at each LR multiplier (the points the LR was chosen on, at the other
tuned hyperparameters' starting values), the best in bold and a point whose run diverged as "diverged";
the finalists' other seeds, and the other coordinates' sweeps at the best LR, are left out.
``holdout``: the LRs of `quick_lrs.toml` were chosen on seed 0, so seed 0 flatters every optimizer a
little; this is the mean paired difference to AdamW over the other seeds, which played no part in
the choice.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from optarena._text import markdown_table
from optarena.bench.db import ResultsDB


def lr_grid(runs: list[dict[str, Any]]) -> str:
    """Seed-0 loss of each optimizer at each LR multiplier; a diverged point reads "diverged". A suite of
    several models or budgets (a ladder) gets a row per model, budget and optimizer."""
    cells = sorted({(r.get("model"), r.get("tokens")) for r in runs})
    by_model, by_tokens = len({m for m, _ in cells}) > 1, len({t for _, t in cells}) > 1
    rows: dict[tuple, dict[float, tuple[float, float | None]]] = defaultdict(dict)
    # At an LR, the first seed-0 run is the LR sweep's (at the other tuned hyperparameters' starting
    # values); later ones at the same LR are another coordinate's sweep (e.g. weight decay at the best LR)
    def key(r: dict[str, Any]) -> tuple[str, int, str]:
        return (r.get("model") or "") if by_model else "", (r.get("tokens") or 0) if by_tokens else 0, r["optimizer"]

    for r in sorted((r for r in runs if r["seed"] == 0), key=lambda r: (key(r), r["lr_mult"], r.get("id", 0))):
        loss = r["final_val_loss"] if r["status"] == "finished" else None
        rows[key(r)].setdefault(r["lr_mult"], (r["lr"], loss))
    if not any(loss is not None for r in rows.values() for _, loss in r.values()):
        raise ValueError("no finished seed-0 run: no LR grid to show")
    mults = sorted({m for r in rows.values() for m in r})
    body = []
    for (model, tokens, opt), r in rows.items():
        finished = [loss for _, loss in r.values() if loss is not None]
        best = min(finished) if finished else None
        mult, (lr, _) = next(iter(r.items()))
        points = [
            "—" if m not in r else "diverged" if r[m][1] is None else ("**%.4f**" if r[m][1] == best else "%.4f") % r[m][1]
            for m in mults
        ]
        head = ([model] if by_model else []) + ([f"{tokens:,}"] if by_tokens else [])
        body.append((*head, f"`{opt}`", f"{lr / mult:.3g}", *points))
    header = ("model",) * by_model + ("tokens",) * by_tokens + ("optimizer", "centre LR")
    return markdown_table((*header, *(f"x{m:g}" for m in mults)), body)


def holdout(runs: list[dict[str, Any]]) -> str:
    loss: dict[str, dict[int, float]] = defaultdict(dict)
    for r in runs:
        if r["seed"] >= 1:
            loss[r["optimizer"]][r["seed"]] = r["final_val_loss"]
    base = loss.get("adamw")
    if not base:
        raise ValueError("no finished adamw run with a seed >= 1: nothing to pair the other optimizers with")
    diffs = {opt: statistics.mean(s[k] - base[k] for k in s) for opt, s in loss.items() if s.keys() == base.keys()}
    header = ("optimizer", f"seeds {', '.join(map(str, sorted(base)))}: mean Δ vs AdamW (paired)")
    return markdown_table(header, [(f"`{opt}`", f"{diffs[opt]:+.4f}") for opt in sorted(diffs, key=diffs.get)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("table", choices=("lr-grid", "holdout"))
    ap.add_argument("dir", type=Path)
    args = ap.parse_args()
    try:
        with ResultsDB(args.dir) as db:
            if args.table == "lr-grid":
                print(lr_grid(db.runs(status=("finished", "diverged"))))
            else:
                print(holdout(db.runs(status="finished")))
    except (FileNotFoundError, ValueError) as e:
        print(f"results_tables: error: {args.dir}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
