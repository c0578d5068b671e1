"""Why Dana-Star misses the CPU target of 1.3x torch AdamW: its per-coordinate power alone.

Dana-Star's damping K = max(tau*t, 1)^(1-kappa) is a power of a per-coordinate state, so every step
computes one pow (an exp and a log) per parameter, which no other optimizer of the library does. This
script times, in the same interleaved rounds on one model's parameters (default: the 20m preset):

* torch AdamW, the for-loop path (the CPU reference of `optarena perf optim`);
* that power alone, x^0.15 over a buffer as large as the parameters (out of place, like the update);
* Dana-Star and Dana-Star-MK4, eager and compiled (optarena.optim),

and prints each as a ratio to AdamW. Run it with `.venv/bin/python scripts/perf_dana_star_floor.py`
(options: --model, --rounds, --threads, --clock); docs/results/perf_cpu.md has its output.
"""

from __future__ import annotations

import argparse

import torch

from optarena import optim
from optarena._text import markdown_table
from optarena.model import Transformer, get_preset
from optarena.perf.timing import best_times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="20m")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Transformer(get_preset(args.model))
    params = [p for p in model.parameters() if p.requires_grad]
    grads = [torch.randn_like(p) * 1e-3 for p in params]
    tau = [torch.rand_like(p) for p in params]  # a power's input: a state-sized buffer in [0, 1)

    def restore() -> None:
        for p, g in zip(params, grads):
            p.grad = g.clone()

    opts = {"torch AdamW (for-loop)": torch.optim.AdamW(params, lr=1e-3, weight_decay=0.1, foreach=False)}
    for name in ("dana-star", "dana-star-mk4"):
        opts[f"{name} eager"] = optim.create(name, params, lr=1e-3, total_steps=10_000)
        opts[f"{name} compiled"] = optim.create(name, params, lr=1e-3, total_steps=10_000).compile_update()
    restore()
    for opt in opts.values():  # state, and compilation, before timing
        opt.step()
        opt.step()
    fns = {name: opt.step for name, opt in opts.items()}
    fns["x^0.15 alone (one per parameter)"] = lambda: [torch.pow(x, 0.15) for x in tau]
    fns["x^0.15, 1 MiB pieces"] = lambda: [torch.pow(c, 0.15) for x in tau for c in x.view(-1).split(1 << 18)]
    t = best_times(fns, args.rounds, torch.device("cpu"), before=restore, clock=args.clock)
    ref = t["torch AdamW (for-loop)"]
    n = sum(p.numel() for p in params)
    print(f"{args.model}: {n:,} parameters, {args.threads} thread(s), {args.clock} clock, best of {args.rounds}")
    rows = [(name, f"{1e3 * seconds:.1f}", f"{seconds / ref:.2f}") for name, seconds in t.items()]
    print(markdown_table(("step", "ms", "x torch AdamW"), rows))


if __name__ == "__main__":
    main()
