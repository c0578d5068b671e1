"""A suite: a TOML file naming the grid of training runs a benchmark makes, read into a `Suite`.

    name = "seed-134m"                  # optional; the file's stem by default
    description = "one line for `optarena bench --list`"
    extends = "quick-sweep"             # optional: start from another named suite's settings
    models = ["tiny"]                   # model presets
    data = "embedded"                   # a --data string: embedded | synthetic[:..] | a shard dir
    tokens = [196608]                   # token budgets, each its own run and schedule;
    # ratio = [5, 20]                   #   or Chinchilla-style budgets: ratio x parameters
    lr_mults = [0.5, 1, 2]              # the LR grid, as multipliers of each optimizer's centre LR
    max_extend = 2                      # extensions of the grid when the best LR is at an edge
    seeds = 3                           # seeds of each finalist (the sweep's seed is one of them);
    #                                     or per optimizer: seeds = { default = 1, adamw = 3 }
    lr_table = "quick_lrs.toml"         # optional: centre LRs from a tuned table (lrtable.py)
    baseline = "adamw"                  # the row the report compares the others with (this is the
                                        #   default); it must name one of the optimizers below
    tune_rounds = 1                     # optional: passes of the coordinate search (tuning.py)

    [tune]                              # optional: hyperparameters tuned after the LR, in order, as
    weight_decay = [0.0, 0.01, 0.1]     #   absolute grids (tuned.py); an optimizer's own `tune` replaces it

    [train]                             # fixed settings of every run: any TrainConfig key
    seq_len = 128                       #   (leaf or section.key; see optarena.train.config)

    [optimizers]                        # display name = centre LR, or a table:
    adamw = 3e-3
    muon = { lr = 0.02, opt = { adamw_lr = 3e-3 }, scale = ["adamw_lr"] }
    lion = { lr = { tiny = 3e-4, "134m" = 1e-4 } }      # a centre LR per model
    dms = { lr = 6.0, tune = { weight_decay = [0.0, 2e-5, 2e-4] } }   # its own grid of the same length

    [[variant]]                         # hyperparameter variants: each its own row in results
    name = "stable-momentum clip=0.5"
    optimizer = "stable-momentum"
    lr = 1e-3
    opt = { clip = 0.5 }

    [full]                              # `--full`: the paper-size run on GPUs; overrides the keys
    models = ["134m"]                   #   above ([full.train] merges into [train]; [full.optimizers]
    ratio = [20]                        #   replaces [optimizers], for the centre LRs at that size)

An optimizer entry's `opt` holds its hyperparameters besides the LR (strings are read as Python
literals, so `clip = "None"` is None); `scale` names hyperparameters that the LR multiplier scales
too (Muon's `adamw_lr`: its embeddings' LR moves with its matrices'); `seeds` overrides the suite's;
`tune` replaces the suite's [tune] table for that optimizer; `lr_table = false` keeps its own centre
LR where the suite's `lr_table` has an entry for it (e.g. to re-centre a search that ended at its
edge: a rerun keeps the cells it ran, bench/runner.py).
Every optimizer gets the same LR grid, and as many points for each further tuned hyperparameter: a
fair search gives the baseline as many points as the rest.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optarena._text import did_you_mean

from .files import check_keys, read_suite_file, suite_path
from .tuned import Tuned, check_fair, read_tuned

ENTRY_KEYS = ("name", "optimizer", "lr", "opt", "scale", "seeds", "tune", "train", "lr_table")
# What an optimizer row's own `train` table may set: settings of the step, not of the budget or the
# data, so every row of a cell still trains on the same tokens for the same number of steps.
ENTRY_TRAIN_SECTIONS = ("optim", "schedule")
# The report's baseline when a suite names none, and in every database made before suites could. A suite
# without an adamw row and without `baseline` (an ablation of one optimizer) then has no baseline.
DEFAULT_BASELINE = "adamw"
# Settings the suite sets per cell, so [train] may not: key -> where the suite says it instead.
MANAGED = {"model.preset": "models", "optim.name": "[optimizers]", "optim.lr": "[optimizers] lr",
           "optim.hp": "an optimizer's `opt`", "budget.tokens": "tokens", "budget.steps": "tokens",
           "budget.ratio": "ratio", "run.seed": "seeds", "run.out": "--out", "run.resume": "(always on)",
           "data.source": "data", "log.tensorboard_dir": "(SUITE_OUT/tensorboard/CELL)",
           "log.wandb_group": "(the suite's name and --out)", "log.wandb_name": "(the cell's key)"}


@dataclass(frozen=True)
class Variant:
    """One "optimizer" row of the results: a registry optimizer with fixed hyperparameters."""

    name: str  # display name; the registry name unless a variant
    optimizer: str  # the registry name built
    lr: float | dict[str, float]  # centre LR, or one per model preset
    opt: dict[str, Any] = field(default_factory=dict)  # hyperparameters besides lr
    scale: tuple[str, ...] = ()  # hyperparameters the LR multiplier scales too
    seeds: int | None = None  # finalist seeds, if not the suite's
    at_edge: bool | None = None  # from a tuned LR table: its best LR sat at the sweep's edge
    tuned_points: int | None = None  # from a tuned LR table: the LR points its sweep tried
    tune: tuple[Tuned, ...] = ()  # hyperparameters the coordinate search tunes after the LR, in order
    train: tuple[tuple[str, Any], ...] = ()  # this row's TrainConfig overrides, after the suite's [train]
    lr_table: bool = True  # False: the suite's lr_table does not set this row's centre

    def centre(self, model: str) -> float:
        if isinstance(self.lr, dict):
            if model not in self.lr:
                raise ValueError(f"optimizer {self.name!r} has no centre LR for model {model!r} "
                                 f"(it has: {', '.join(self.lr)})")
            return self.lr[model]
        return self.lr


@dataclass(frozen=True)
class Budget:
    kind: str  # "tokens" | "ratio"
    value: float

    @property
    def label(self) -> str:
        return f"{int(self.value):,} tokens" if self.kind == "tokens" else f"{self.value:g} x params"


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    models: tuple[str, ...]
    data: str
    budgets: tuple[Budget, ...]
    variants: tuple[Variant, ...]
    lr_mults: tuple[float, ...] = (1.0,)
    max_extend: int = 2
    seeds: int = 3
    train: tuple[tuple[str, Any], ...] = ()  # TrainConfig overrides, in order
    text: str = ""  # the TOML text it was read from (with its base's, when it extends one)
    lr_table: str | None = None  # the LR table's path, when one set the centres
    lr_table_tuned: bool | None = None  # its `tuned` flag: false while it holds hand-set centres
    mode: str = "cpu"  # "cpu" | "full" | "smoke"
    baseline: str = DEFAULT_BASELINE  # the display name the report compares every optimizer with
    tune_rounds: int = 1  # passes of the coordinate search over the LR and the `tune` hyperparameters

    def seeds_of(self, variant: Variant) -> int:
        return variant.seeds if variant.seeds is not None else self.seeds

    @property
    def tuned(self) -> bool:
        """Whether the suite sweeps LRs (else each optimizer runs at its centre LR)."""
        return len(self.lr_mults) > 1

    @property
    def tunes_more(self) -> bool:
        """Whether the search tunes hyperparameters besides the LR (the suite's or an optimizer's `tune`)."""
        return any(v.tune for v in self.variants)

    def cells_per_group(self, v: Variant) -> int:
        """One group's cells before any grid extension: the LR points, each further coordinate's points
        but the one it shares with the sweep before (its start), a later round's as many again at most
        (fewer where a coordinate did not move), and the finalist seeds."""
        lr, more = len(self.lr_mults), sum(len(t.grid) - 1 for t in v.tune)
        later = (self.tune_rounds - 1) * (lr - 1 + more) if v.tune else 0
        return lr + more + later + self.seeds_of(v) - 1

    def planned_cells(self) -> int:
        """Cells before any grid extension: sweep points plus finalist seeds."""
        return len(self.models) * len(self.budgets) * sum(self.cells_per_group(v) for v in self.variants)

    def max_cells(self) -> int:
        """Planned cells plus every extension the sweeps may make (LR and float grids, each round)."""
        extra = 0
        for v in self.variants:
            sweeps = int(self.tuned) + sum(t.numeric for t in v.tune)
            extra += self.max_extend * sweeps * (self.tune_rounds if v.tune else 1)
        return self.planned_cells() + extra * len(self.models) * len(self.budgets)


# -- reading ------------------------------------------------------------------------------------------
def load_suite(name_or_path: str | Path, *, full: bool = False, data: str | None = None,
               train: tuple[tuple[str, Any], ...] = (), check: bool = True) -> Suite:
    """The suite as it will run: `full` applies its [full] table, `data` replaces its data,
    `train` (key, value) pairs go after its [train] settings.

    ``check=False`` reads the file alone, without torch: its optimizers, their hyperparameters and
    its models are not checked against the code (see ``read_tuned``). Such a suite is for counting
    and describing (``optarena bench --list``, whose named suites the tests load checked), not to run.
    """
    path = suite_path(name_or_path)
    doc, text = read_suite_file(path, full)
    suite = _build(doc, path, text, mode="full" if full else "cpu", check=check)
    if data is not None:
        suite = dataclasses.replace(suite, data=data)
    return dataclasses.replace(suite, train=suite.train + tuple(train)) if train else suite


def _build(doc: dict[str, Any], path: Path, text: str, mode: str, check: bool = True) -> Suite:
    where = path.name
    for key in ("description", "models", "data"):
        if key not in doc:
            raise ValueError(f"{where}: missing `{key}`")
    variants = _with_tune(_variants(doc, where), doc, where, check)
    seeds = doc.get("seeds", 3)
    if isinstance(seeds, Mapping):  # seeds = { default = 1, adamw = 3 }
        seeds = dict(seeds)
        unknown = sorted(set(seeds) - {"default"} - {v.name for v in variants})
        if unknown:
            raise ValueError(f"{where}: `seeds` names unknown optimizer(s): {', '.join(unknown)}")
        variants = tuple(dataclasses.replace(v, seeds=_count(seeds[v.name], f"seeds.{v.name}", where))
                         if v.name in seeds else v for v in variants)
        seeds = seeds.get("default", 3)
    table_path = tuned = None
    if "lr_table" in doc:
        from .lrtable import apply_table, read_table

        table_path = (path.parent / doc["lr_table"]).resolve()
        variants = apply_table(variants, table_path, models=doc["models"])
        tuned = bool(read_table(table_path).get("tuned", False))
    suite = Suite(
        name=doc["name"], description=doc["description"], models=tuple(_strings(doc, "models", where)),
        data=str(doc["data"]), budgets=_budgets(doc, where), variants=variants,
        lr_mults=tuple(sorted(_lr_mults(doc.get("lr_mults", [1.0]), where))),
        max_extend=_count(doc.get("max_extend", 2), "max_extend", where, minimum=0),
        seeds=_count(seeds, "seeds", where),
        train=_train_entries(doc.get("train", {}), where), text=text,
        lr_table=str(table_path) if table_path else None, lr_table_tuned=tuned, mode=mode,
        baseline=_baseline(doc, variants, where), tune_rounds=_count(doc.get("tune_rounds", 1), "tune_rounds", where),
    )  # fmt: skip
    if check:
        _check(suite, where)
    return suite


def _entries(doc: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    """(name, table) of every optimizer row: [optimizers] entries, then [[variant]]s."""
    entries = [(name, {"lr": e} if not isinstance(e, Mapping) else dict(e))
               for name, e in doc.get("optimizers", {}).items()]
    return entries + [(e.get("name"), dict(e)) for e in doc.get("variant", [])]


def _variants(doc: dict[str, Any], where: str) -> tuple[Variant, ...]:
    entries = _entries(doc)
    if not entries:
        raise ValueError(f"{where}: no optimizers ([optimizers] or [[variant]])")
    variants = [_variant(name, e, where) for name, e in entries]
    names = [v.name for v in variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{where}: optimizer name(s) used twice: {', '.join(twice)}")
    return tuple(variants)


def _variant(name: Any, entry: dict[str, Any], where: str) -> Variant:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: every [[variant]] needs a `name`")
    check_keys(entry, ENTRY_KEYS, f"{where} optimizer {name!r}")
    if "lr" not in entry:
        raise ValueError(f"{where}: optimizer {name!r} needs a centre `lr`")
    lr = entry["lr"]
    at = f"{where} optimizer {name!r}"
    lr = ({str(k): _lr(v, f"lr.{k}", at) for k, v in lr.items()} if isinstance(lr, Mapping)
          else _lr(lr, "lr", at))
    opt = dict(entry.get("opt", {}))
    scale = tuple(entry.get("scale", ()))
    missing = [k for k in scale if k not in opt]
    if missing:
        raise ValueError(f"{where}: optimizer {name!r} scales {', '.join(missing)} with the LR, "
                         "so its `opt` must give their centre values")
    seeds = entry.get("seeds")
    if entry.get("lr_table", True) not in (True, False):
        raise ValueError(f"{at}: `lr_table` must be true or false, got {entry['lr_table']!r}")
    return Variant(name=name, optimizer=str(entry.get("optimizer", name)), lr=lr, opt=opt, scale=scale,
                   lr_table=entry.get("lr_table", True), seeds=None if seeds is None else _count(seeds, "seeds", at),
                   train=_entry_train(entry.get("train", {}), f"{where} optimizer {name!r}"))


def _entry_train(table: Any, where: str) -> tuple[tuple[str, Any], ...]:
    """An optimizer row's `train` table, e.g. { grad_clip = 0.0 }: only step settings (ENTRY_TRAIN_SECTIONS)."""
    from optarena.train.loading import resolve_key

    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: `train` must be a table of training settings, got {table!r}")
    entries = _train_entries(table, where)
    for key, _ in entries:
        section, name, _ = resolve_key(key)
        if section not in ENTRY_TRAIN_SECTIONS or f"{section}.{name}" in MANAGED:
            raise ValueError(f"{where}: `train` may set only {' and '.join(ENTRY_TRAIN_SECTIONS)} settings "
                             f"(the same budget and data for every row of a cell), not {key!r}")
    return entries


def _with_tune(variants: tuple[Variant, ...], doc: dict[str, Any], where: str, check: bool = True
               ) -> tuple[Variant, ...]:
    """Each row with its tuned hyperparameters: its own `tune` table, else the suite's; checked fair."""
    own = {name: e["tune"] for name, e in _entries(doc) if "tune" in e}
    tuned = {v.name: read_tuned(v.name, v.optimizer, v.opt, v.scale, own.get(v.name, doc.get("tune")), where,
                                check) if v.name in own or "tune" in doc else () for v in variants}
    check_fair(tuned, where)
    return tuple(dataclasses.replace(v, tune=tuned[v.name]) for v in variants)


def _baseline(doc: dict[str, Any], variants: tuple[Variant, ...], where: str) -> str:
    if "baseline" not in doc:
        return DEFAULT_BASELINE
    name, names = doc["baseline"], [v.name for v in variants]
    if name not in names:
        hint = did_you_mean(name, names)
        raise ValueError(f"{where}: `baseline` {name!r} is not one of the suite's optimizers{hint}; "
                         f"choices: {', '.join(names)}")
    return name


def _budgets(doc: dict[str, Any], where: str) -> tuple[Budget, ...]:
    if ("tokens" in doc) == ("ratio" in doc):
        raise ValueError(f"{where}: give the budgets as `tokens` or as `ratio` (one of them)")
    kind = "tokens" if "tokens" in doc else "ratio"
    values = doc[kind] if isinstance(doc[kind], list) else [doc[kind]]
    if not values or any(not isinstance(v, (int, float)) or v <= 0 for v in values):
        raise ValueError(f"{where}: `{kind}` must be a list of positive numbers, got {doc[kind]!r}")
    return tuple(Budget(kind, int(v) if kind == "tokens" else float(v)) for v in values)


def _train_entries(table: Mapping[str, Any], where: str) -> tuple[tuple[str, Any], ...]:
    from optarena.train.loading import flatten_toml, resolve_key

    entries = flatten_toml(table, source=f"{where} [train]")
    for key, _ in entries:
        section, name, _ = resolve_key(key)
        path = f"{section}.{name}"
        if path in MANAGED:
            raise ValueError(f"{where} [train]: {key!r} is set per run by the suite (use {MANAGED[path]})")
    return tuple(entries)


def _check(suite: Suite, where: str) -> None:
    from optarena.model import PRESETS
    from optarena.train import load_config

    try:  # the [train] values' types and ranges, named with the file (the cells' configs add the rest)
        load_config(None, list(suite.train))
    except ValueError as e:
        raise ValueError(f"{where} [train]: {e}") from None
    for v in suite.variants:  # the optimizer exists and takes these hyperparameters (values: at build)
        try:
            load_config(None, [("optim.name", v.optimizer), ("optim.hp", v.opt)])
        except ValueError as e:
            raise ValueError(f"{where}: optimizer {v.name!r}: {e}") from None
    for model in suite.models:
        if model not in PRESETS:
            raise ValueError(f"{where}: unknown model {model!r}{did_you_mean(model, PRESETS)}")
        for v in suite.variants:
            v.centre(model)
    if not suite.lr_mults or any(m <= 0 for m in suite.lr_mults) or len(set(suite.lr_mults)) < len(suite.lr_mults):
        raise ValueError(f"{where}: lr_mults must be distinct positive numbers, got {list(suite.lr_mults)}")
    if suite.max_extend < 0 or suite.seeds < 1 or any(suite.seeds_of(v) < 1 for v in suite.variants):
        raise ValueError(f"{where}: max_extend must be >= 0 and seeds >= 1")
    if suite.tune_rounds < 1:
        raise ValueError(f"{where}: tune_rounds must be >= 1, got {suite.tune_rounds}")


def _lr(value: Any, key: str, where: str) -> float:
    """A centre LR: a finite number > 0 (not text: `lr = "fast"` names its row and key)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{where}: `{key}` must be a number > 0, got {value!r}")
    return float(value)


def _lr_mults(values: Any, where: str) -> list[float]:
    if not isinstance(values, list) or not all(isinstance(m, (int, float)) and not isinstance(m, bool)
                                               and math.isfinite(m) for m in values):
        raise ValueError(f"{where}: `lr_mults` must be a list of numbers, got {values!r}")
    return [float(m) for m in values]


def _count(value: Any, key: str, where: str, minimum: int = 1) -> int:
    """An integer setting (seeds, max_extend, tune_rounds): a TOML integer, not text or a fraction."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}: {key} must be >= {minimum} (an integer), got {value!r}")
    return value


def _strings(doc: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = doc[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: `{key}` must be a non-empty list of names, got {value!r}")
    return value
