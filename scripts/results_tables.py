"""Two markdown tables from a suite's results.db that the report does not print, for docs/results.

    .venv/bin/python scripts/results_tables.py lr-grid DIR    final loss of every optimizer at every LR
    .venv/bin/python scripts/results_tables.py holdout DIR    each optimizer vs AdamW on seeds >= 1 only

``lr-grid`` gives a sweep's seed-0 loss at each LR multiplier (the points the LR was chosen on), the best in
bold; the finalists' other seeds are left out.
``holdout``: the LRs of `quick_lrs.toml` were chosen on seed 0, so seed 0 flatters every optimizer a
little; this is the mean paired difference to AdamW over the other seeds, which played no part in
the choice.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
from collections import defaultdict
from pathlib import Path


def lr_grid(db: sqlite3.Connection) -> None:
    rows = defaultdict(dict)
    for opt, mult, lr, loss in db.execute("SELECT optimizer, lr_mult, lr, final_val_loss FROM runs "
                                          "WHERE status = 'finished' AND seed = 0 ORDER BY optimizer, lr_mult"):
        rows[opt][mult] = (lr, loss)
    mults = sorted({m for r in rows.values() for m in r})
    print("| optimizer | centre LR | " + " | ".join(f"x{m:g}" for m in mults) + " |")
    print("|---" * (len(mults) + 2) + "|")
    for opt, r in rows.items():
        best = min(loss for _, loss in r.values())
        cells = [("**%.4f**" if r[m][1] == best else "%.4f") % r[m][1] if m in r else "—" for m in mults]
        print(f"| `{opt}` | {r[1.0][0]:g} | " + " | ".join(cells) + " |")


def holdout(db: sqlite3.Connection) -> None:
    loss = defaultdict(dict)
    for opt, seed, value in db.execute("SELECT optimizer, seed, final_val_loss FROM runs "
                                       "WHERE status = 'finished' AND seed >= 1"):
        loss[opt][seed] = value
    base = loss["adamw"]
    diffs = {opt: statistics.mean(s[k] - base[k] for k in s) for opt, s in loss.items() if s.keys() == base.keys()}
    print(f"| optimizer | seeds {', '.join(map(str, sorted(base)))}: mean Δ vs AdamW (paired) |\n|---|---|")
    for opt in sorted(diffs, key=diffs.get):
        print(f"| `{opt}` | {diffs[opt]:+.4f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("table", choices=("lr-grid", "holdout"))
    ap.add_argument("dir", type=Path)
    args = ap.parse_args()
    db = sqlite3.connect(f"file:{args.dir / 'results.db'}?mode=ro", uri=True)
    (lr_grid if args.table == "lr-grid" else holdout)(db)


if __name__ == "__main__":
    main()
