"""optarena.train: one training run from a config to a run directory.

    >>> from optarena.train import load_config, train
    >>> cfg = load_config("run.toml", {"lr": 3e-3, "out": "runs/a"})
    >>> result = train(cfg)          # RunResult: status, final_val_loss, steps, tokens, history

    config.py      TrainConfig: frozen typed sections, checked on construction
    loading.py     TOML + flag overrides -> TrainConfig (unknown keys suggest the nearest)
    plan.py        the numbers a config implies: vocab, steps, micro-batching
    schedule.py    LR factors s(t): warmup + cosine / linear / WSD / constant
    build.py       model, optimizer, scheduler, loaders, autocast
    loop.py        train(): steps, accumulation, clipping, evaluation, logging, checkpoints
    evaluate.py    validation loss over fixed tokens (all ranks, all-reduced)
    divergence.py  the rule that stops a diverged run
    checkpoint.py  atomic checkpoints and RNG state; exact resume
    distributed.py torchrun / DDP process group
    metrics.py     metrics.jsonl and its optional TensorBoard / W&B mirrors
    record.py      run.json: config, versions, hardware, git commit, outcome
    progress.py    tqdm bar on a terminal, plain lines in logs
"""


import importlib

# Resolved on first use (PEP 562), so that `optarena --help` can read the config's defaults
# without importing torch.
_EXPORTS = {"TrainConfig": "config", "load_config": "loading", "RunResult": "loop", "train": "loop",
            "Plan": "plan", "make_plan": "plan"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
