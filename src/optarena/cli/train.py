"""``optarena train``: one training run. Also under torchrun: ``torchrun --nproc_per_node 8 -m optarena train``.

Settings, later ones winning: the defaults (optarena.train.config), the ``--config`` TOML file,
``--set key=value`` in order, the named flags, then ``--opt key=value`` optimizer hyperparameters
(Python literals: ``--opt betas="(0.9, 0.95)"``). Before the data is read, the run's cost is
estimated: a warning when one step takes ~10 s or more, a refusal when one micro-batch cannot fit
in memory. Exit status 0 when the run finished or diverged (run.json's "status" says which), 2 for a
bad config, data spec, run directory or checkpoint (a one-line message naming it), 130 on Ctrl-C
and 128 + N on signal N (SIGTERM: 143, SIGHUP: 129; run.json says "failed" and which signal), 1 for
anything else (run.json says "failed" and the error).
"""

from __future__ import annotations

import argparse
import os
import sys

from optarena.cli import usage_error

# (flag, config key): every flag takes its value as text and the config field's type parses it.
FLAGS = (
    ("--model", "model.preset"), ("--optimizer", "optim.name"), ("--lr", "optim.lr"),
    ("--data", "data.source"), ("--tokens", "budget.tokens"), ("--steps", "budget.steps"),
    ("--seq-len", "data.seq_len"), ("--batch-tokens", "data.batch_tokens"),
    ("--micro-batch", "data.micro_batch"), ("--schedule", "schedule.kind"), ("--warmup", "schedule.warmup"),
    ("--final-lr-frac", "schedule.final_lr_frac"), ("--grad-clip", "optim.grad_clip"),
    ("--fused", "optim.fused"),
    ("--eval-every", "log.eval_every"), ("--eval-tokens", "log.eval_tokens"), ("--log-every", "log.log_every"),
    ("--checkpoint-every", "log.checkpoint_every"), ("--progress", "log.progress"), ("--seed", "run.seed"),
    ("--device", "run.device"), ("--dtype", "run.dtype"), ("--out", "run.out"),
)  # fmt: skip
SWITCHES = (("--resume", "run.resume"), ("--compile", "run.compile"),
            ("--tensorboard", "log.tensorboard"), ("--wandb", "log.wandb"))
# where the valid values of an open-ended field are listed, for its help
POINTERS = {"model.preset": "one of `optarena models`",
            "optim.name": "one of `optarena optimizers`, or a class path such as torch.optim.NAdam"}


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model with an optimizer; writes DIR/metrics.jsonl, run.json",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults, choices = _field_defaults(), _field_choices()
    p.add_argument("--config", metavar="TOML", help="a run file; flags override it")
    for flag, key in FLAGS:
        values = f": {' | '.join(choices[key])}" if key in choices else f": {POINTERS[key]}" if key in POINTERS else ""
        p.add_argument(flag, dest=_dest(key), metavar=key.split(".")[1].upper(),
                       help=f"{key}{values} (default {defaults[key]})")
    for flag, key in SWITCHES:
        p.add_argument(flag, dest=_dest(key), action=argparse.BooleanOptionalAction,
                       help=f"{key} (default {defaults[key]})")
    flagged = {key for _, key in FLAGS}
    others = "; ".join(f"{key}: {' | '.join(v)}" for key, v in choices.items() if key not in flagged)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config field, by leaf (lr) or path (optim.lr); repeatable"
                        + (f" ({others})" if others else ""))
    p.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="an optimizer hyperparameter (a Python literal); repeatable")
    p.set_defaults(func=run)


def _field_defaults() -> dict[str, object]:
    # From the dataclass fields, not an instance: constructing one would import torch for `--help`.
    import dataclasses

    from optarena.train.config import SECTIONS

    return {f"{s}.{f.name}": f.default for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)}


def _field_choices() -> dict[str, tuple[str, ...]]:
    """The fields that take one of a few names, and those names (the tuples the config checks against)."""
    from optarena.train import config as C

    return {"schedule.kind": C.SCHEDULES, "budget.count": C.BUDGET_COUNTS, "run.dtype": C.DTYPES,
            "optim.fused": C.FUSED, "log.progress": C.PROGRESS}


def _dest(key: str) -> str:
    return "cfg__" + key.replace(".", "__")


def overrides(args: argparse.Namespace) -> list[tuple[str, object]]:
    """(key, value) pairs in precedence order: --set, named flags, --opt."""
    from optarena.train.loading import parse_assignment

    pairs: list[tuple[str, object]] = [parse_assignment(a, "--set") for a in args.set]
    for _, key in FLAGS + SWITCHES:
        value = getattr(args, _dest(key))
        if value is not None:
            pairs.append((key, value))
    pairs += [(f"optim.hp.{k}", v) for k, v in (parse_assignment(a, "--opt") for a in args.opt)]
    return pairs


def run(args: argparse.Namespace) -> int:
    from optarena.train import load_config, train
    from optarena.train.cost import preflight
    from optarena.train.loop import Terminated

    try:
        cfg = load_config(args.config, overrides(args))
        # before the data is read and the model built: run.out, and what one step will cost
        warnings = preflight(cfg, int(os.environ.get("WORLD_SIZE", "1")))
        if _is_rank0():
            for line in warnings:
                print(f"optarena train: warning: {line}", file=sys.stderr, flush=True)
        result = train(cfg)
    except (ValueError, FileNotFoundError) as e:  # a bad config, data spec or checkpoint: named
        return usage_error("train", e)
    except Terminated as e:  # SIGTERM / SIGHUP: run.json says "failed" with the signal; the shell's code
        print(f"optarena train: {e}", file=sys.stderr)
        return 128 + e.signum
    if _is_rank0():
        loss = "-" if result.final_val_loss is None else f"{result.final_val_loss:.4f}"
        at = f" at step {result.diverged_at_step} ({result.diverged_reason})" if result.diverged_at_step else ""
        print(f"{result.status}{at}: final_val_loss {loss}, {result.steps} steps, "
              f"{result.tokens:,} tokens -> {result.out}")
    return 0


def _is_rank0() -> bool:
    return os.environ.get("RANK", "0") == "0"
