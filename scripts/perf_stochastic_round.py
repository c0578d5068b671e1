"""The cost of writing bf16 optimizer state back with stochastic rounding, per element, on CPU.

Times, in interleaved rounds on a buffer as large as the 20m preset's parameters, cut into the chunks
of 2**18 elements the optimizers' CPU path uses (one thread, CPU clock): the shipped `optarena.optim._lowp.stochastic_round_` (one full-range int64 draw cut into four
16-bit lanes), the same write-back with `torch.randint(0, 2**16)` per element (the first version), and
the random draws alone. docs/results/perf_cpu.md has its output:

    .venv/bin/python scripts/perf_stochastic_round.py
"""

from __future__ import annotations

import argparse

import torch

from optarena._text import markdown_table
from optarena.optim._lowp import stochastic_round_
from optarena.perf.timing import best_times


def randint_round_(dst: torch.Tensor, src: torch.Tensor, generator: torch.Generator) -> None:
    """The first version: one bounded int32 draw per element."""
    noise = torch.randint(0, 1 << 16, src.shape, dtype=torch.int32, generator=generator)
    src.view(torch.int32).add_(noise).bitwise_and_(-(1 << 16))
    dst.copy_(src)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--numel", type=int, default=19_276_928)  # the 20m preset's parameters
    ap.add_argument("--chunk", type=int, default=1 << 18)  # ArenaOptimizer.cpu_chunk_numel
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    n, gen = args.numel, torch.Generator().manual_seed(0)
    src, work, low = torch.randn(n), torch.empty(n), torch.empty(n, dtype=torch.bfloat16)
    chunks = list(zip(work.split(args.chunk), low.split(args.chunk)))
    m = min(n, args.chunk)

    def each_chunk(round_) -> None:
        for w, lo in chunks:
            round_(lo, w, gen)

    def draws(draw) -> None:
        for _ in range(len(chunks)):
            draw()

    fns = {
        "write-back, 64-bit lanes (shipped)": lambda: each_chunk(stochastic_round_),
        "write-back, randint per element": lambda: each_chunk(randint_round_),
        "draw: int64 full range, n/4 words": lambda: draws(lambda: torch.empty((m + 3) // 4, dtype=torch.int64)
                                                          .random_(-(1 << 63), None, generator=gen)),
        "draw: randint(0, 2**16) int32, n": lambda: draws(lambda: torch.randint(0, 1 << 16, (m,), dtype=torch.int32,
                                                                                generator=gen)),
    }
    t = best_times(fns, args.rounds, torch.device("cpu"), before=lambda: work.copy_(src), clock="cpu")
    print(f"{n:,} elements in chunks of {args.chunk:,}, 1 thread, cpu clock, best of {args.rounds}")
    rows = [(name, f"{1e3 * seconds:.1f}", f"{1e9 * seconds / n:.2f}") for name, seconds in t.items()]
    print(markdown_table(("operation", "ms", "ns per element"), rows))


if __name__ == "__main__":
    main()
