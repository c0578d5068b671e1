"""Measure the golden losses of optarena.bench.golden and print (or --write) tests/bench/golden_losses.json.

    python scripts/golden_losses.py            # print the measurement; compare with the committed file
    python scripts/golden_losses.py --write    # replace the committed file (after an intended change)

Takes two to three minutes on the 2-core machine (each entry runs three times: twice under one
torch thread, once under two).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from optarena.bench import golden

FILE = Path(__file__).resolve().parents[1] / "tests" / "bench" / "golden_losses.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {FILE.relative_to(FILE.parents[2])}")
    args = parser.parse_args()
    measured = golden.measure()
    text = json.dumps(measured, indent=1) + "\n"
    if args.write:
        FILE.write_text(text)
        print(f"wrote {FILE}")
    else:
        print(text, end="")
        if FILE.exists():
            committed = json.loads(FILE.read_text())
            for name, entry in measured["entries"].items():
                old = committed["entries"].get(name, {}).get("final_val_loss")
                delta = "new" if old is None else f"{entry['final_val_loss'] - old:+.2e}"
                print(f"{name:16s} {entry['final_val_loss']:.6f}  vs committed: {delta}")


if __name__ == "__main__":
    main()
