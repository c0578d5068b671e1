"""`TrainConfig`: everything a training run needs, as frozen typed dataclasses, checked on construction.

A run is described by seven sections; every field name is unique across sections, so a flag or a
`--set` override may name a field by its leaf (`lr`) or by its path (`optim.lr`):

    model     preset, vocab_size
    data      source, seq_len, batch_tokens, micro_batch, shuffle
    optim     name, lr, hp, grad_clip
    schedule  kind, warmup, warmup_start, final_lr_frac, decay_frac
    budget    tokens, steps, ratio, count
    run       out, seed, device, dtype, compile, resume
    log       log_every, eval_every, eval_tokens, final_eval_tokens, checkpoint_every, progress,
              tensorboard, tensorboard_dir, wandb, wandb_project, wandb_group, wandb_name

A warmup given as a step count (schedule.warmup >= 1) longer than the run is refused (a ValueError
naming schedule.warmup and the run's steps; `optarena train` exits 2), once the run's length is
known (`check_warmup`, called by `make_plan`): the LR would never reach its peak. A fraction < 1
always fits. Float fields refuse inf and nan.

The defaults are the ADANA authors' protocol (arXiv 2602.05298; mlexpos/adana@3eef26f
``scripts/launch.sh``) where it has one: warmup 2% of
the run from 0.01 of the peak LR, cosine to 0.1 of it, grad clip 0.5, a Chinchilla budget of
20 x total parameters. TOML files and command-line flags map onto these classes in `loading.py`.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from optarena._text import did_you_mean

SCHEDULES = ("cosine", "linear", "wsd", "constant")
BUDGET_COUNTS = ("total", "non_embedding")
DTYPES = ("auto", "float32", "bfloat16")
PARALLEL = ("ddp", "fsdp")
FUSED = ("auto", "on", "off")
PROGRESS = ("auto", "bar", "lines", "off")


class _Section:
    """Shared checks: each field's type against its annotation (ints widen to float fields)."""

    section: typing.ClassVar[str]

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _typed(f"{self.section}.{f.name}", getattr(self, f.name), hints[f.name])
            object.__setattr__(self, f.name, value)
        self.check()

    def check(self) -> None:
        """Value checks beyond the types; messages name the field."""


@dataclass(frozen=True)
class ModelSection(_Section):
    section = "model"
    preset: str = "tiny"  # a name from optarena.model.PRESETS (`optarena models`)
    vocab_size: int | None = None  # None: the data's vocabulary rounded up to a multiple of 64

    def check(self) -> None:
        from optarena.model import PRESETS

        _one_of("model.preset", self.preset, tuple(PRESETS))
        _positive("model.vocab_size", self.vocab_size)


@dataclass(frozen=True)
class DataSection(_Section):
    section = "data"
    source: str = "embedded"  # "embedded" | "synthetic[:V=..,order=..,s=..,seed=..]" | shard dir
    seq_len: int = 256
    batch_tokens: int = 16384  # global batch: all ranks and micro-steps together
    micro_batch: int | None = None  # sequences per rank per forward pass; None: no accumulation
    shuffle: bool = False  # False reads sequences in order, as modded-nanogpt does

    def check(self) -> None:
        for name in ("seq_len", "batch_tokens", "micro_batch"):
            _positive(f"data.{name}", getattr(self, name))
        if self.batch_tokens % self.seq_len:
            raise ValueError(f"data.batch_tokens={self.batch_tokens} must be a multiple of "
                             f"data.seq_len={self.seq_len}")
        batch_seqs = self.batch_tokens // self.seq_len
        if self.micro_batch is not None and batch_seqs % self.micro_batch:
            raise ValueError(f"data.micro_batch={self.micro_batch} must divide the global batch of "
                             f"{batch_seqs} sequences (data.batch_tokens / data.seq_len)")


@dataclass(frozen=True)
class OptimSection(_Section):
    section = "optim"
    name: str = "adamw"  # a registry name (`optarena optimizers`) or a class path "torch.optim.NAdam"
    lr: float = 1e-3  # the peak learning rate; the schedule scales it
    hp: dict[str, Any] = field(default_factory=dict)  # further keyword arguments of the optimizer
    grad_clip: float | None = 0.5  # global-norm clip; None or 0 switches it off
    fused: str = "auto"  # an optarena optimizer's fused step (ArenaOptimizer.fuse): "on", "off", or
    #                      "auto": on where it pays for its compilation (optarena.train.build.fuse_pays)

    def check(self) -> None:
        _positive("optim.lr", self.lr)
        _one_of("optim.fused", self.fused, FUSED)
        if self.grad_clip is not None and self.grad_clip < 0:
            raise ValueError(f"optim.grad_clip must be >= 0 (0 or none: off), got {self.grad_clip}")
        object.__setattr__(self, "hp", {k: _frozen_value(v) for k, v in self.hp.items()})
        _check_hyperparameters(self.name, self.hp)


@dataclass(frozen=True)
class ScheduleSection(_Section):
    section = "schedule"
    kind: str = "cosine"  # one of SCHEDULES
    warmup: float = 0.02  # < 1: a fraction of the run; >= 1: a number of steps
    warmup_start: float = 0.01  # LR factor at step 0; the authors' 1/div_factor
    final_lr_frac: float = 0.1  # LR factor at the end (cosine, linear, wsd)
    decay_frac: float = 0.2  # wsd: the last fraction of the run that decays

    def check(self) -> None:
        _one_of("schedule.kind", self.kind, SCHEDULES)
        if self.warmup < 0 or (self.warmup >= 1 and self.warmup != int(self.warmup)):
            raise ValueError(f"schedule.warmup must be a fraction in [0, 1) or a whole number of "
                             f"steps, got {self.warmup}")
        for name in ("warmup_start", "final_lr_frac", "decay_frac"):
            _unit_interval(f"schedule.{name}", getattr(self, name))


@dataclass(frozen=True)
class BudgetSection(_Section):
    section = "budget"
    tokens: int | None = None  # explicit token budget
    steps: int | None = None  # or an explicit number of optimizer steps
    ratio: float = 20.0  # else Chinchilla: ratio x parameters (Hoffmann et al., arXiv 2203.15556)
    count: str = "total"  # which parameters: "total" (the authors') or "non_embedding"

    def check(self) -> None:
        _positive("budget.tokens", self.tokens)
        _positive("budget.steps", self.steps)
        _positive("budget.ratio", self.ratio)
        _one_of("budget.count", self.count, BUDGET_COUNTS)
        if self.tokens is not None and self.steps is not None:
            raise ValueError("set budget.tokens or budget.steps, not both")


@dataclass(frozen=True)
class RunSection(_Section):
    section = "run"
    out: str = "runs/latest"  # the run directory: metrics.jsonl, run.json, checkpoint.pt (checkpoint/ under torchrun)
    seed: int = 0  # model initialisation (and the data order when data.shuffle)
    device: str = "auto"  # "auto" (cuda if present), "cpu", "cuda", "cuda:N"
    dtype: str = "auto"  # "auto": bf16 autocast on CUDA, float32 on CPU; or "float32", "bfloat16"
    compile: bool = False  # torch.compile the model
    parallel: str = "ddp"  # under torchrun: "ddp" (replicated weights) or "fsdp" (FSDP2 fully_shard: each
    #                        decoder block and the root sharded across ranks; bf16 compute with fp32
    #                        master weights when the dtype resolves to bf16)
    resume: bool = False  # continue from out's checkpoint when it has one (else start afresh)
    dist_timeout_s: float = 600.0  # under torchrun: how long a rank waits for a stalled peer in a
    #                                collective before the run fails (torch's default is 30 min)

    def check(self) -> None:
        if not self.out:
            raise ValueError("run.out must name a directory")
        if not self.dist_timeout_s > 0:
            raise ValueError(f"run.dist_timeout_s must be > 0 seconds, got {self.dist_timeout_s}")
        _one_of("run.dtype", self.dtype, DTYPES)
        _one_of("run.parallel", self.parallel, PARALLEL)
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"run.device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")


@dataclass(frozen=True)
class LogSection(_Section):
    section = "log"
    log_every: int = 10  # steps between metrics lines
    eval_every: int = 250  # steps between evaluations on the val prefix; 0: only the final one
    eval_tokens: int | None = 10_485_760  # the prefix scored during training (modded-nanogpt's
    #                                      20 x 524,288); None: the whole val set.
    final_eval_tokens: int | None = None  # the prefix the final evaluation scores (the run's
    #                                      final loss); None: the whole val set
    checkpoint_every: int = 0  # steps between checkpoints; 0: only the final one
    progress: str = "auto"  # "bar" (tqdm), "lines", "off"; "auto": a bar on a TTY, else lines
    tensorboard: bool = False  # mirror metrics to TensorBoard (needs `tensorboard`)
    tensorboard_dir: str | None = None  # its log directory; None: out/tensorboard (a suite's cell:
    #                                    SUITE_OUT/tensorboard/<cell>, one --logdir for the suite)
    wandb: bool = False  # mirror metrics to Weights & Biases (needs `wandb`)
    wandb_project: str = "optarena"  # the W&B project
    wandb_group: str | None = None  # the W&B group (a suite's cells: one, named by the suite and its out)
    wandb_name: str | None = None  # the W&B run's name; None: out's directory name (a suite's cell: its key)

    def check(self) -> None:
        _positive("log.log_every", self.log_every)
        _positive("log.eval_tokens", self.eval_tokens)
        _positive("log.final_eval_tokens", self.final_eval_tokens)
        for name in ("eval_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"log.{name} must be >= 0 (0: only at the end), got {getattr(self, name)}")
        _one_of("log.progress", self.progress, PROGRESS)
        for name in ("tensorboard_dir", "wandb_project", "wandb_group", "wandb_name"):
            if getattr(self, name) == "":
                raise ValueError(f"log.{name} must not be empty (None: the default)")


@dataclass(frozen=True)
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    budget: BudgetSection = field(default_factory=BudgetSection)
    run: RunSection = field(default_factory=RunSection)
    log: LogSection = field(default_factory=LogSection)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if not isinstance(getattr(self, f.name), SECTIONS[f.name]):
                raise ValueError(f"TrainConfig.{f.name} must be a {SECTIONS[f.name].__name__}")
        if self.budget.tokens is not None and self.budget.tokens < self.data.batch_tokens:
            raise ValueError(f"budget.tokens={self.budget.tokens} is less than one batch "
                             f"(data.batch_tokens={self.data.batch_tokens})")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(TrainConfig)}
FIELDS: dict[str, str] = {  # leaf name -> "section.leaf"
    f.name: f"{section}.{f.name}" for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)
}
assert len(FIELDS) == sum(len(dataclasses.fields(c)) for c in SECTIONS.values()), "leaf names must be unique"


# -- checks -------------------------------------------------------------------------------------------
def _typed(name: str, value: Any, tp: Any) -> Any:
    """`value` if it has type `tp` (ints widen to float), else a ValueError naming the field."""
    options = typing.get_args(tp) if isinstance(tp, types.UnionType) else (tp,)
    if value is None:
        if type(None) in options:
            return None
        raise ValueError(f"{name} may not be none")
    base = next(o for o in options if o is not type(None))
    origin = typing.get_origin(base) or base
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if origin is int and isinstance(value, bool) or not isinstance(value, origin):
        raise ValueError(f"{name} must be {_type_word(origin)}, got {value!r}")
    if origin is float and not math.isfinite(value):  # TOML and float() both accept inf and nan
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def _type_word(t: type) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            dict: "a table of key = value"}.get(t, t.__name__)


def _positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _unit_interval(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def _one_of(name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(options)}{did_you_mean(value, options)}")


def _frozen_value(v: Any) -> Any:
    # TOML arrays arrive as lists; optimizers expect tuples (betas), and tuples keep the config inert.
    if isinstance(v, dict):  # `roles` tables
        return {k: _frozen_value(x) for k, x in v.items()}
    return tuple(_frozen_value(x) for x in v) if isinstance(v, list) else v


def _check_hyperparameters(name: str, hp: dict[str, Any]) -> None:
    from optarena.optim import accepted_hyperparameters

    accepted = accepted_hyperparameters(optimizer_class(name))
    for key in hp:
        if key == "roles":  # per-role overrides, passed to optim.create(roles=...)
            _check_roles(hp[key])
            continue
        if key in ("lr", "total_steps"):
            raise ValueError(f"optim.hp.{key}: set by the trainer "
                             f"({'use optim.lr' if key == 'lr' else 'from the budget'})")
        if key not in accepted:
            raise ValueError(f"optim.hp.{key}: {name} has no hyperparameter {key!r}"
                             f"{did_you_mean(key, accepted)}; it accepts: {', '.join(accepted)}")


def _check_roles(roles: Any) -> None:
    """optim.hp.roles: {role: {hyperparameter: value}}; the values are checked when the optimizer is built."""
    from optarena.optim.partition import ROLES

    if not isinstance(roles, dict) or not all(isinstance(v, dict) for v in roles.values()):
        raise ValueError(f"optim.hp.roles must map roles to tables of settings, e.g. "
                         f"{{attention = {{lr_scale = 1.1}}}}, got {roles!r}")
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"optim.hp.roles: unknown role {role!r}{did_you_mean(role, ROLES)}; roles are: "
                             f"{', '.join(ROLES)}")


def check_warmup(schedule: ScheduleSection, total_steps: int) -> None:
    """Refuse a warmup (a step count) longer than the run: the schedule would end before the LR reached its
    peak, so the run would silently train at a fraction of the LR it names. A warmup equal to the run
    is allowed (the whole run warms up)."""
    if schedule.warmup >= 1 and schedule.warmup > total_steps:
        raise ValueError(f"schedule.warmup={int(schedule.warmup)} steps is longer than the run's {total_steps} "
                         f"steps (from budget.tokens / budget.steps / budget.ratio); shorten the warmup "
                         "(a fraction < 1 scales with the run) or lengthen the budget")


def optimizer_class(name: str) -> type:
    """The class behind a registry name or a class path, as `optim.create` resolves it."""
    from optarena.optim import get_spec
    from optarena.optim.registry import import_target

    try:
        return import_target(name) if ("." in name or ":" in name) else get_spec(name).resolve()
    except ValueError as e:
        raise ValueError(f"optim.name: {e}") from None
