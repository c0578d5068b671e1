"""The probes behind the CPU tier's settings (docs/cpu-tier.md): AdamW on the embedded texts as
bytes, for several model shapes, batch sizes and LRs, each run on one torch thread; prints one
line per run (final loss on the first 131,072 validation bytes, wall time, tokens/s).

    python scripts/probe_cpu_tier.py                      # every probe of docs/cpu-tier.md, one at a time
    python scripts/probe_cpu_tier.py --only tiny-1024     # the probes whose name starts so
    python scripts/probe_cpu_tier.py --jobs 2             # two at a time (as measured: 2 cores)

Shapes other than the `tiny` preset are added to the preset table in this process only (d_model,
layers, heads, kv heads, head dim), with the CPU ladder's rules (SwiGLU 8/3 d, tied embeddings).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import tempfile
import time

SHAPES = {"tiny": None, "d96x4": (96, 4, 4, 4, 24), "d128x4": (128, 4, 4, 4, 32), "d128x6": (128, 6, 4, 4, 32)}
# name: (shape, batch tokens, lr, tokens)
PROBES = {
    "tiny-2048-3e-3": ("tiny", 2048, 3e-3, 2**20), "tiny-2048-6e-3": ("tiny", 2048, 6e-3, 2**20),
    "tiny-2048-1.2e-2": ("tiny", 2048, 1.2e-2, 2**20),
    "tiny-1024-1.5e-3": ("tiny", 1024, 1.5e-3, 2**20), "tiny-1024-3e-3": ("tiny", 1024, 3e-3, 2**20),
    "tiny-1024-6e-3": ("tiny", 1024, 6e-3, 2**20),
    "tiny-512-1.5e-3": ("tiny", 512, 1.5e-3, 2**20), "tiny-512-3e-3": ("tiny", 512, 3e-3, 2**20),
    "d96x4-2048-6e-3": ("d96x4", 2048, 6e-3, 2**19), "d128x4-2048-3e-3": ("d128x4", 2048, 3e-3, 393216),
    "tiny-1024-3e-3-4M": ("tiny", 1024, 3e-3, 2**22), "d128x4-1024-3e-3-2M": ("d128x4", 1024, 3e-3, 2**21),
}  # fmt: skip


def probe(name: str) -> dict:
    import torch

    from optarena.model import presets
    from optarena.train import load_config, train

    torch.set_num_threads(1)
    shape, batch, lr, tokens = PROBES[name]
    if SHAPES[shape] is not None:
        d, layers, heads, kv, head_dim = SHAPES[shape]
        presets.PRESETS[shape] = presets._cpu(257, d, layers, heads, kv, head_dim, seq=128)
    with tempfile.TemporaryDirectory() as out:
        settings = {"preset": shape, "source": "embedded:bytes", "seq_len": 128, "batch_tokens": batch,
                    "tokens": tokens, "name": "adamw", "lr": lr, "warmup": 0.05, "eval_every": 0,
                    "final_eval_tokens": 131072, "log_every": 50, "progress": "off", "out": out}
        start = time.perf_counter()
        result = train(load_config(None, settings))
        wall = time.perf_counter() - start
    return {"probe": name, "final_val_loss": round(result.final_val_loss, 4), "wall_s": round(wall, 1),
            "tokens_per_s": round(tokens / wall), "steps": result.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the probes whose name starts with this")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    names = [n for n in PROBES if n.startswith(args.only)]
    from optarena.data import resolve_data
    from optarena.data.floors import reference_floors

    floors = reference_floors(resolve_data("embedded:bytes"), 131072)
    print(f"floors on the first 131,072 val bytes: unigram {floors['unigram']:.4f}, bigram {floors['bigram']:.4f}")
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
        for line in pool.map(probe, names):
            print(json.dumps({**line, "below_bigram": round(floors["bigram"] - line["final_val_loss"], 4)}))


if __name__ == "__main__":
    main()
