"""optarena.perf: how fast the optimizers and the model run, measured as ratios within one process.

    optarena perf optim --model 20m     # step time and state memory of every optimizer vs torch AdamW
    optarena perf train --model 20m     # tokens/s, MFU and peak memory vs HF transformers' Qwen3

Timings on a shared machine are noisy, so every figure is a best-of-N of interleaved runs, and what is
reported is the ratio to a reference timed in the same rounds (docs/results/perf_cpu.md).
"""

from optarena.perf.optim_bench import OptimBenchConfig, OptimRow, run_optim_bench
from optarena.perf.train_bench import TrainBenchConfig, TrainRow, run_train_bench

__all__ = ["OptimBenchConfig", "OptimRow", "TrainBenchConfig", "TrainRow", "run_optim_bench",
           "run_train_bench"]
