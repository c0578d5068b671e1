"""Cells: one training run of a suite, its deterministic key, and the trainer settings it implies.

A *group* is one comparison: (model, optimizer variant, token budget, data). Its *cells* are the
runs at each point of its coordinate search (tuning.py) and each finalist seed. The key of a cell is

    model|optimizer|lr|seed|tokens|data[|name=value ...]

with the LR at 6 significant digits, so that a rerun of the suite recognises finished cells, and a
budget given as a Chinchilla ratio is keyed by the tokens it resolves to (`Plan.tokens`: whole
batches), which is also what the trainer is told, so the key and the run cannot disagree. A tuned
hyperparameter (tuned.py) adds `|name=value` where the cell moves it from its start, the optimizer's
own value: a cell at the starts is the very run a suite without `tune` makes, under the same key, so
adding `tune` to a suite resumes its database, and a suite that tunes nothing keeps today's keys.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .suite import Budget, Suite, Variant
from .tuned import show

PHASES = ("sweep", "extend", "seeds", "fixed")


def round_lr(x: float) -> float:
    """6 significant digits: 3e-3 * 0.5 * 2 keys the same cell as 3e-3."""
    return float(f"{x:.6g}")


def data_key(spec: str) -> str:
    """A data spec as keyed: directories by their absolute path, so `~/d` and `/home/u/d` agree."""
    if spec == "embedded" or spec.startswith(("embedded:", "synthetic", "hf:")):
        return spec
    return str(Path(spec).expanduser().resolve())


@dataclass(frozen=True)
class Group:
    model: str
    variant: Variant
    budget: Budget
    tokens: int  # the budget resolved: optimizer steps x batch tokens
    steps: int
    data: str
    cost: float  # FLOPs of one run, training plus the final evaluation (for the ETA)
    params_total: int
    loss_floor: float | None

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.model, self.variant.name, self.tokens, self.data)


@dataclass(frozen=True)
class Mirrors:
    """The metrics mirrors ``optarena bench --tensorboard / --wandb [PROJECT]`` turns on in every cell,
    besides any the suite's [train] turns on. They are how the runs are watched, not what they compute,
    so they stay out of the suite's settings: a suite resumes with or without them."""

    tensorboard: bool = False
    wandb_project: str | None = None  # the W&B project; None: no W&B unless the suite's [train] says so


def wandb_group(suite: str, root: Path) -> str:
    """The W&B group of a suite's cells: the suite's name and its results directory, so two runs of one
    suite into two directories are two groups; the directory's tail where W&B's 128 characters end."""
    where, room = str(root.resolve()), 128 - len(suite) - 1
    return f"{suite}@{where if len(where) <= room else '…' + where[len(where) - room + 1:]}"[:128]


@dataclass(frozen=True)
class Cell:
    group: Group
    lr_mult: float
    seed: int
    phase: str
    tuned: tuple[tuple[str, Any], ...] = ()  # (name, value) of each tuned hyperparameter; () = their starts

    @property
    def lr(self) -> float:
        return round_lr(self.group.variant.centre(self.group.model) * self.lr_mult)

    @property
    def key(self) -> str:
        g = self.group
        moved = "".join(f"|{name}={show(x)}" for name, x in self.moved())
        return f"{g.model}|{g.variant.name}|{self.lr:.6g}|{self.seed}|{g.tokens}|{g.data}{moved}"

    def moved(self) -> list[tuple[str, Any]]:
        """The tuned hyperparameters this cell sets away from their starts."""
        starts = {t.name: t.start for t in self.group.variant.tune}
        return [(name, x) for name, x in self.tuned if x != starts[name]]

    def hp(self) -> dict[str, Any]:
        """The optimizer's hyperparameters besides lr; `scale` ones move with the LR multiplier, tuned
        ones are the cell's."""
        v = self.group.variant
        return {**{k: (x * self.lr_mult if k in v.scale else x) for k, x in v.opt.items()}, **dict(self.tuned)}

    def out_dir(self, root: Path) -> Path:
        g = self.group
        moved = "".join(f"_{name}={show(x)}" for name, x in self.moved())
        slug = re.sub(r"[^A-Za-z0-9.=-]+", "_",
                      f"{g.model}_{g.variant.name}_lr{self.lr:.4g}_s{self.seed}_t{g.tokens}{moved}")
        return root / "runs" / f"{slug}_{hashlib.sha1(self.key.encode()).hexdigest()[:8]}"

    def overrides(self, suite: Suite, root: Path, mirrors: Mirrors | None = None) -> list[tuple[str, Any]]:
        """TrainConfig overrides of this run, whose suite writes into ``root``: the suite's [train], its
        row's `train`, then what the cell fixes, the metrics mirrors ``mirrors`` turns on and where
        every mirror writes (:meth:`mirror_overrides`)."""
        g = self.group
        return [*suite.train, *g.variant.train, ("model.preset", g.model), ("data.source", g.data),
                ("optim.name", g.variant.optimizer), ("optim.lr", self.lr), ("optim.hp", self.hp()),
                ("budget.tokens", g.tokens), ("run.seed", self.seed), ("run.out", str(self.out_dir(root))),
                ("run.resume", True), ("log.progress", "off"), *self.mirror_overrides(suite, root, mirrors)]

    def mirror_overrides(self, suite: Suite, root: Path, mirrors: Mirrors | None = None) -> list[tuple[str, Any]]:
        """Every cell of a suite mirrors its metrics into one place, whether ``mirrors`` (``optarena bench
        --tensorboard / --wandb``) or the suite's [train] turns the mirrors on: TensorBoard into
        ROOT/tensorboard/<the cell's directory name>, so ``tensorboard --logdir ROOT/tensorboard`` shows
        the cells side by side; W&B into one group, the suite's name and ``root`` (:func:`wandb_group`),
        the run named by the cell's key, with the cell's settings as its config."""
        m = mirrors or Mirrors()
        return [*((("log.tensorboard", True),) if m.tensorboard else ()),
                *((("log.wandb", True), ("log.wandb_project", m.wandb_project)) if m.wandb_project else ()),
                ("log.tensorboard_dir", str(root / "tensorboard" / self.out_dir(root).name)),
                ("log.wandb_group", wandb_group(suite.name, root)), ("log.wandb_name", self.key)]

    def label(self) -> str:
        g = self.group
        tuned = "".join(f" · {name} {show(x)}" for name, x in self.tuned)
        return (f"{g.model} · {g.variant.name} · lr {self.lr:.3g} (x{self.lr_mult:g}){tuned} · seed {self.seed} · "
                f"{g.tokens:,} tok")


# -- resolving a suite's groups -----------------------------------------------------------------------
@dataclass(frozen=True)
class DataInfo:
    vocab_size: int
    val_tokens: int
    loss_floor: float | None
    note: str = ""


def data_info(spec: str, allow_missing: bool = False) -> DataInfo:
    """What the plans need from the data; with `allow_missing`, a dir not yet there is assumed GPT-2."""
    from optarena.data import resolve_data

    try:
        ds = resolve_data(spec)
    except ValueError:
        if not allow_missing:
            raise
        return DataInfo(50304, 0, None, note=f"data {spec!r} not found: assumed GPT-2 tokens, no val set")
    return DataInfo(ds.vocab_size, ds.val.num_tokens, ds.meta.get("loss_floor"))


def resolve_groups(suite: Suite, info: DataInfo) -> list[Group]:
    """Every (model, budget, optimizer) group, with the budget resolved through the trainer's plan."""
    from optarena.model import count_params, flops_per_token
    from optarena.train import load_config, make_plan

    data = data_key(suite.data)
    groups = []
    for model in suite.models:
        for budget in suite.budgets:
            cfg = load_config(None, [*suite.train, ("model.preset", model), ("data.source", data),
                                     (f"budget.{budget.kind}", budget.value)])
            plan = make_plan(cfg, info.vocab_size)
            flops = flops_per_token(plan.model, plan.seq_len)
            cost = flops * (plan.tokens + info.val_tokens / 3)  # evaluation: forward only, ~1/3
            for v in suite.variants:
                groups.append(Group(model, v, budget, plan.tokens, plan.total_steps, data, cost,
                                    count_params(plan.model).total, info.loss_floor))
    return groups
