"""The fault table: bad inputs and faults, each with the exact outcome optarena must give.

Every case is one record: an id ("area/what", the pytest id), what to run, what to set up first,
and what must come out:

    Exit(code, says)     a CLI call (`optarena.cli.main(argv)`, in-process): the exit status; no
                         traceback; exactly one stderr line saying "error:", holding every `says`
                         substring (what names the culprit: the file, key, flag or value)
    Raises(type, says)   an API call: that exception, its message holding every `says` substring
    Status(status, says) a training run that ends: the exit status, and run.json's "status" with
                         `says` in its "error" / "diverged_reason"
    signal cases         a run in a subprocess, sent a signal once it is logging steps (SIGNALS)

Paths in argv: @W is the case's own empty workspace, @SHARDS a good shard directory (read-only: a
case that corrupts data makes its own), @RUN a finished 2-step run of TRAIN's settings (copy it
before changing it). `xfail` marks a known gap whose fix lies outside the files this table's
author could change; it says the fix, and the case fails (strict) once it is fixed, to be promoted.

Run it: python -m pytest -q tests/faults
"""

from __future__ import annotations

import copy
import json
import shutil
import signal
import sqlite3
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optarena.data import write_shard


@dataclass(frozen=True)
class Workspace:
    w: Path  # this case's own directory
    shards: Path  # a good shard directory, shared: never write into it
    run: Path  # a finished run with its checkpoint, shared: copy it first


Setup = Callable[[Workspace], None]


@dataclass(frozen=True)
class Exit:
    code: int
    says: tuple[str, ...]
    warns: tuple[str, ...] = ()  # substrings of one stderr line saying "warning:"


@dataclass(frozen=True)
class Raises:
    error: type[BaseException]
    says: tuple[str, ...]


@dataclass(frozen=True)
class Status:
    status: str
    says: tuple[str, ...] = ()
    code: int = 0
    steps: int | None = None


@dataclass(frozen=True)
class Case:
    id: str
    run: tuple[str, ...] | Callable[[Workspace], Any]  # CLI argv, or an API call
    expect: Exit | Raises | Status
    setup: Setup | None = None
    xfail: str | None = None


def substitute(argv: tuple[str, ...], ws: Workspace) -> list[str]:
    return [a.replace("@SHARDS", str(ws.shards)).replace("@RUN", str(ws.run)).replace("@W", str(ws.w))
            for a in argv]


# -- building cases -----------------------------------------------------------------------------------
def cli(id: str, argv: tuple[str, ...], *says: str, code: int = 2, setup: Setup | None = None,
        warns: tuple[str, ...] = (), xfail: str | None = None) -> Case:
    return Case(id, tuple(argv), Exit(code, says, warns), setup, xfail)


def api(id: str, call: Callable[[Workspace], Any], error: type[BaseException], *says: str,
        setup: Setup | None = None, xfail: str | None = None) -> Case:
    return Case(id, call, Raises(error, says), setup, xfail)


def ends(id: str, argv: tuple[str, ...], status: str, *says: str, code: int = 0, steps: int | None = None,
         setup: Setup | None = None) -> Case:
    return Case(id, tuple(argv), Status(status, says, code, steps), setup)


# A 2-step tiny run on @SHARDS into @W/run; a case's flags come after these and win (argparse keeps the
# last). Every train case keeps --steps small, so a check that fails to fire costs a second, not a run.
TRAIN = ("train", "--data", "@SHARDS", "--model", "tiny", "--seq-len", "32", "--batch-tokens", "128",
         "--steps", "2", "--out", "@W/run", "--progress", "off", "--eval-every", "0", "--eval-tokens", "256",
         "--log-every", "1", "--set", "final_eval_tokens=256")


def train(*flags: str) -> tuple[str, ...]:
    return (*TRAIN, *flags)


def on_data(rel: str, *flags: str) -> tuple[str, ...]:
    """A train call on the case's own data directory @W/<rel>."""
    return train("--data", f"@W/{rel}", *flags)


PREPARE = ("--tokenizer", "bytes", "--no-progress")


def prepare(*inputs: str, out: str = "@W/out", flags: tuple[str, ...] = PREPARE) -> tuple[str, ...]:
    return ("data", "prepare", *inputs, "--out", out, *flags)


# -- setups ---------------------------------------------------------------------------------------------
def files(**contents: str | bytes) -> Setup:
    """Write each file (keys are paths under @W, with "__" for "/"), making directories."""

    def setup(ws: Workspace) -> None:
        for rel, content in contents.items():
            path = ws.w / rel.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    return setup


def docs(n: int = 40, rel: str = "docs") -> Setup:
    """n small .txt documents under @W/<rel>: enough for both splits at the default val_fraction."""

    def setup(ws: Workspace) -> None:
        d = ws.w / rel
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (d / f"doc{i:03d}.txt").write_text(f"document {i}: the quick brown fox {i * 7919 % 1000} jumps\n")

    return setup


def chain(*setups: Setup) -> Setup:
    def setup(ws: Workspace) -> None:
        for s in setups:
            s(ws)

    return setup


TOKENS = np.arange(4096, dtype=np.int64) % 64  # ids < 64: a valid split for a vocab_size of 64


def data_dir(rel: str = "data", train: Any = TOKENS, val: Any = TOKENS, meta: Any = {"vocab_size": 64},
             raw: dict[str, bytes] | None = None) -> Setup:
    """A shard directory @W/<rel>: train/val token arrays (None: no such split), meta.json (a dict is
    JSON-encoded, bytes/str written as they are, None: no meta.json), and `raw` files written byte for byte."""

    def setup(ws: Workspace) -> None:
        d = ws.w / rel
        d.mkdir(parents=True, exist_ok=True)
        for split, tokens in (("train", train), ("val", val)):
            if tokens is not None:
                write_shard(d / f"{split}_000000.bin", tokens)
        if meta is not None:
            text = json.dumps(meta) if isinstance(meta, (dict, list)) else meta
            (d / "meta.json").write_bytes(text if isinstance(text, bytes) else text.encode())
        for name, content in (raw or {}).items():
            (d / name).write_bytes(content)

    return setup


def shard_bytes(tokens: Any = TOKENS, magic: int = 20240520, version: int = 1, n: int | None = None) -> bytes:
    """A shard file's bytes with a chosen header, for corrupting one field at a time."""
    tokens = np.asarray(tokens, dtype="<u2")
    header = np.zeros(256, dtype="<i4")
    header[:3] = (magic, version, len(tokens) if n is None else n)
    return header.tobytes() + tokens.tobytes()


def copy_run(mutate: Callable[[Path], None] | None = None) -> Setup:
    """@RUN copied to @W/run (where TRAIN writes), then `mutate(checkpoint path)`."""

    def setup(ws: Workspace) -> None:
        shutil.copytree(ws.run, ws.w / "run")
        if mutate is not None:
            mutate(ws.w / "run" / "checkpoint.pt")

    return setup


def overwrite(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def resave(change: Callable[[dict], Any]) -> Callable[[Path], None]:
    """Load the checkpoint, change its dict (or replace it by what `change` returns), save it back."""

    def mutate(path: Path) -> None:
        state = torch.load(path, weights_only=True)
        new = change(state)
        torch.save(state if new is None else new, path)

    return mutate


def suite(body: str, data: str = "@SHARDS", name: str = "s", models: str = '["tiny"]') -> Setup:
    """A suite TOML @W/<name>.toml on `data` (tiny model, a 2-step budget) with `body` appended."""

    def setup(ws: Workspace) -> None:
        head = (f'description = "fault case"\nmodels = {models}\ndata = "{data}"\n').replace(
            "@SHARDS", str(ws.shards)).replace("@W", str(ws.w))
        (ws.w / f"{name}.toml").write_text(head + body, encoding="utf-8")

    return setup


SUITE_OK = "tokens = [256]\nseeds = 1\n[optimizers]\nadamw = 1e-3\n[train]\nseq_len = 32\nbatch_tokens = 128\n"
SUITE_TRAIN = "tokens = [256]\nseeds = 1\n[train]\nseq_len = 32\nbatch_tokens = 128\n"


def dry(name: str = "s", *flags: str) -> tuple[str, ...]:
    return ("bench", f"@W/{name}.toml", "--dry-run", *flags)


def bench(name: str = "s", *flags: str) -> tuple[str, ...]:
    return ("bench", f"@W/{name}.toml", "--out", "@W/res", "--jobs", "0", "--no-report", *flags)


def results_db(content: bytes | None = None, suite_body: str | None = None, meta: dict | None = None) -> Setup:
    """@W/res/results.db: raw bytes, or a database started by the suite @W/<suite_body> with `meta`
    rows then overwritten (a database made by other settings)."""

    def setup(ws: Workspace) -> None:
        (ws.w / "res").mkdir(parents=True, exist_ok=True)
        if content is not None:
            (ws.w / "res" / "results.db").write_bytes(content)
            return
        from optarena.bench import ResultsDB, load_suite
        from optarena.bench.runner import start_suite

        db = ResultsDB(ws.w / "res", create=True)
        start_suite(db, load_suite(ws.w / "s.toml"))
        db.close()
        conn = sqlite3.connect(ws.w / "res" / "results.db")
        with conn:
            for key, value in (meta or {}).items():
                conn.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (key, value))
        conn.close()

    return setup


# -- the optimizer API ------------------------------------------------------------------------------------
def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))


def create(name: Any, **hp: Any) -> Callable[[Workspace], Any]:
    from optarena import optim

    return lambda ws: optim.create(name, model(), **hp)


def complex_linear() -> nn.Module:
    with warnings.catch_warnings():  # torch: "Complex modules are a new feature"
        warnings.simplefilter("ignore", UserWarning)
        return nn.Linear(2, 2).to(torch.complex64)


def create_params(name: str, params: Callable[[], Any], **hp: Any) -> Callable[[Workspace], Any]:
    from optarena import optim

    return lambda ws: optim.create(name, params(), **hp)


def load_state(name: str, change: Callable[[dict], Any], source: str | None = None,
               **hp: Any) -> Callable[[Workspace], Any]:
    """`name`'s state_dict after one step (or `source`'s, another optimizer's), changed, loaded into a
    fresh `name` over the same model, which then steps: the load must refuse a bad dict, not the step."""
    from optarena import optim

    def stepped(n: str):
        m = model()
        opt = optim.create(n, m, **hp if n == name else {})
        m(torch.ones(2, 4)).sum().backward()
        opt.step()
        return m, opt

    def call(ws: Workspace) -> None:
        m, opt = stepped(name)
        state = copy.deepcopy((stepped(source)[1] if source else opt).state_dict())
        new = change(state)
        fresh = optim.create(name, m, **hp)
        fresh.load_state_dict(state if new is None else new)
        m(torch.ones(2, 4)).sum().backward()
        fresh.step()

    return call


def group(key: str, value: Any) -> Callable[[dict], None]:
    def change(state: dict) -> None:
        state["param_groups"][0][key] = value

    return change


def state_shape(state: dict) -> None:
    """The first tensor state of parameter 0 given a wrong shape."""
    entry = state["state"][0]
    key = next(k for k, v in entry.items() if torch.is_tensor(v) and v.ndim >= 1)
    entry[key] = torch.zeros(7, 7)


def adamw_buffers(state: dict) -> None:
    """Parameter 0 (a matrix: Muon's, with a momentum_buffer) given AdamW's buffers instead."""
    state["state"][0] = {"step": state["state"][0]["step"], "exp_avg": torch.zeros(3, 4),
                         "exp_avg_sq": torch.zeros(3, 4)}


def drop_group(state: dict) -> None:
    state["param_groups"] = state["param_groups"][:1]


OPTIMIZER_CASES = [
    api("optim/unknown-name", create("adamx"), ValueError, "unknown optimizer 'adamx'", "adamw"),
    api("optim/name-not-a-string", create(3), ValueError, "unknown optimizer 3"),
    api("optim/name-none", create(None), ValueError, "unknown optimizer None"),
    api("optim/class-path-missing", create("torch.optim.Nope"), ValueError, "'torch.optim' has no attribute 'Nope'"),
    api("optim/class-path-not-an-optimizer", create("torch.nn.Linear"), ValueError,
        "'torch.nn.Linear' is not a torch.optim.Optimizer subclass"),
    api("optim/unknown-hyperparameter", create("lion", bogus=1), ValueError, "lion", "unknown hyperparameter(s) bogus"),
    api("optim/hyperparameter-of-another-optimizer", create("lion", eps=1e-8), ValueError, "lion", "eps"),
    *[api(f"optim/{n}-lr-{label}", create(n, lr=v, **({"total_steps": 10} if n == "adana" else {})), ValueError,
          "invalid lr=")
      for n in ("adamw", "adam", "rmsprop", "lion", "grams", "muon", "dms", "svrm", "adana", "ademamix",
                "stable-momentum")
      for label, v in (("negative", -1.0), ("nan", float("nan")), ("inf", float("inf")), ("text", "abc"))],
    api("optim/lr-bool", create("lion", lr=True), ValueError, "invalid lr=True"),
    api("optim/lr-none", create("lion", lr=None), ValueError, "invalid lr=None"),
    api("optim/adamw-betas-one-value", create("adamw", betas=(0.9,)), ValueError, "AdamW", "betas=(0.9,)",
        "tuple of 2"),
    api("optim/adamw-beta2-above-one", create("adamw", betas=(0.9, 1.5)), ValueError, "betas[1]=1.5"),
    api("optim/adamw-betas-text", create("adamw", betas="x"), ValueError, "betas='x'"),
    api("optim/ademamix-betas-two-values", create("ademamix", betas=(0.9, 0.99)), ValueError, "AdEMAMix", "tuple of 3"),
    api("optim/lion-betas-text", create("lion", betas="fast"), ValueError, "Lion", "betas='fast'", "tuple of 2"),
    api("optim/svrm-betas-number", create("svrm", betas=0.9), ValueError, "SVRM", "betas=0.9", "tuple of 2"),
    api("optim/muon-adamw-betas-two-letters", create("muon", adamw_betas="ab"), ValueError, "Muon",
        "adamw_betas='ab'"),
    # a variant's errors name the registry name given, not the class that serves it (AdamFamily, Lion)
    api("optim/grams-eps-zero-named", create("grams", eps=0.0), ValueError, "grams: invalid eps=0.0"),
    api("optim/cautious-adamw-betas-named", create("cautious-adamw", betas=(0.9,)), ValueError,
        "cautious-adamw: invalid betas=(0.9,)"),
    api("optim/cautious-lion-lr-named", create("cautious-lion", lr=-1.0), ValueError, "cautious-lion: invalid lr=-1.0"),
    api("optim/grams-group-eps-zero-named",
        create_params("grams", lambda: [{"params": [nn.Parameter(torch.zeros(3))], "eps": 0.0}]), ValueError,
        "grams (param group 0): invalid eps=0.0"),
    api("optim/lion-beta1-above-one", create("lion", betas=(1.5, 0.99)), ValueError, "Lion", "betas[0]=1.5"),
    api("optim/adamw-eps-zero", create("adamw", eps=0.0), ValueError, "AdamW", "eps=0.0"),
    api("optim/rmsprop-eps-negative", create("rmsprop", eps=-1e-8), ValueError, "RMSprop", "eps=-1e-08"),
    api("optim/svrm-eps-zero", create("svrm", eps=0.0), ValueError, "SVRM", "eps=0.0"),
    api("optim/adamw-weight-decay-negative", create("adamw", weight_decay=-0.1), ValueError, "weight_decay=-0.1"),
    api("optim/dms-weight-decay-negative", create("dms", weight_decay=-0.1), ValueError, "DMS", "weight_decay=-0.1"),
    api("optim/rmsprop-alpha-above-one", create("rmsprop", alpha=2.0), ValueError, "alpha=2.0"),
    api("optim/rmsprop-momentum-negative", create("rmsprop", momentum=-1.0), ValueError, "momentum=-1.0"),
    api("optim/muon-ns-steps-zero", create("muon", ns_steps=0), ValueError, "Muon", "ns_steps=0"),
    api("optim/muon-adjust-lr-unknown", create("muon", adjust_lr="fast"), ValueError, "adjust_lr='fast'",
        "match_rms_adamw"),
    api("optim/muon-momentum-one", create("muon", momentum=1.0), ValueError, "momentum=1.0"),
    api("optim/adana-kappa-negative", create("adana", total_steps=10, kappa=-1), ValueError, "ADana", "kappa=-1"),
    api("optim/adana-needs-total-steps", create("adana"), ValueError, "total_steps=None"),
    api("optim/adana-total-steps-zero", create("adana", total_steps=0), ValueError, "total_steps=0"),
    api("optim/adana-total-steps-fraction", create("adana", total_steps=2.5), ValueError, "total_steps=2.5"),
    api("optim/ademamix-alpha-negative", create("ademamix", alpha=-1), ValueError, "alpha=-1"),
    api("optim/ademamix-alpha-warmup-zero", create("ademamix", alpha_warmup=0), ValueError, "alpha_warmup"),
    api("optim/dms-tau-negative", create("dms", tau=-1), ValueError, "tau=-1"),
    api("optim/stable-momentum-clip-negative", create("stable-momentum", clip=-1), ValueError, "clip=-1"),
    api("optim/grams-eps-style-unknown", create("grams", eps_style="foo"), ValueError, "eps_style='foo'"),
    api("optim/lion-mask-norm-unknown", create("lion", mask_norm="foo"), ValueError, "mask_norm='foo'"),
    api("optim/lion-state-dtype-unknown", create("lion", state_dtype="float8"), ValueError, "state_dtype",
        "'float8'"),
    api("optim/role-unknown", create("adamw", roles={"bogus": {}}), ValueError, "unknown role(s) bogus"),
    api("optim/role-setting-unknown", create("adamw", roles={"attention": {"nonsense": 1}}), ValueError,
        "role 'attention'", "nonsense"),
    api("optim/role-lr-scale-negative", create("adamw", roles={"attention": {"lr_scale": -1}}), ValueError,
        "role 'attention'", "lr_scale=-1"),
    api("optim/role-lr-scale-text", create("adamw", roles={"attention": {"lr_scale": "2"}}), ValueError,
        "lr_scale='2'"),
    api("optim/roles-without-a-model", create_params("adamw", lambda: [nn.Parameter(torch.zeros(3))],
                                                     roles={"attention": {}}), ValueError, "need a model"),
    api("optim/empty-parameter-list", create_params("lion", list), ValueError, "empty parameter list"),
    api("optim/complex-parameter-lion",
        create_params("lion", lambda: [nn.Parameter(torch.zeros(3, dtype=torch.complex64))]),
        ValueError, "Lion", "complex", "view_as_real"),
    api("optim/complex-parameter-muon", create_params("muon", lambda: complex_linear().parameters()),
        ValueError, "Muon", "complex"),
    # load_state_dict: the constructor's checks, and the dict's shape
    *[api(f"optim/load-{n}-lr-{label}", load_state(n, group("lr", v), **({"total_steps": 10} if n == "adana" else {})),
          ValueError, "load_state_dict", f"invalid lr={v!r}")
      for n in ("lion", "grams", "muon", "dms", "svrm", "adana", "ademamix", "stable-momentum")
      for label, v in (("negative", -1.0), ("nan", float("nan")))],
    *[api(f"optim/load-{n}-state-of-another-optimizer",
          load_state(n, lambda s: None, source="lion" if n != "lion" else "adamw",
                     **({"total_steps": 10} if n == "adana" else {})),
          ValueError, "load_state_dict", "another optimizer")
      for n in ("lion", "grams", "muon", "dms", "svrm", "adana", "ademamix", "stable-momentum")],
    *[api(f"optim/load-{n}-wrong-state-shape", load_state(n, state_shape), ValueError, "load_state_dict",
          "parameter 0 of shape (3, 4)", "(7, 7)", "expected (3, 4)")
      for n in ("lion", "grams", "dms", "ademamix", "stable-momentum", "muon", "svrm")],
    api("optim/load-muon-matrix-with-adamw-buffers",
        load_state("muon", adamw_buffers), ValueError,
        "Muon.load_state_dict", "parameter 0 of shape (3, 4)", "has exp_avg, exp_avg_sq", "keeps momentum_buffer"),
    api("optim/load-lion-fewer-groups", load_state("lion", drop_group), ValueError, "1 parameter groups"),
    api("optim/load-lion-not-a-state-dict", load_state("lion", lambda s: {}), ValueError,
        "expected an optimizer state_dict"),
    api("optim/load-lion-group-missing-betas", load_state("lion", lambda s: s["param_groups"][0].pop("betas") and None),
        ValueError, "lacks betas"),
    # the torch.optim baselines: the same checks, through a load pre-hook (optim/baselines.py)
    *[api(f"optim/load-{n}-lr-{label}", load_state(n, group("lr", v)), ValueError, f"{cls}.load_state_dict",
          "param group 0", f"invalid lr={v!r}")
      for n, cls in (("adamw", "AdamW"), ("adam", "Adam"), ("rmsprop", "RMSprop"))
      for label, v in (("negative", -1.0), ("nan", float("nan")))],
    api("optim/load-adamw-eps-zero", load_state("adamw", group("eps", 0.0)), ValueError, "AdamW.load_state_dict",
        "invalid eps=0.0"),
    api("optim/load-adamw-betas-one-value", load_state("adamw", group("betas", (0.9,))), ValueError,
        "AdamW.load_state_dict", "betas=(0.9,)", "tuple of 2"),
    api("optim/load-adamw-state-of-another-optimizer", load_state("adamw", lambda s: None, source="lion"), ValueError,
        "AdamW.load_state_dict", "lacks eps", "another optimizer"),
    api("optim/load-rmsprop-state-of-adamw", load_state("rmsprop", lambda s: None, source="adamw"), ValueError,
        "RMSprop.load_state_dict", "lacks alpha, momentum", "another optimizer"),
    api("optim/load-adam-buffer-of-rmsprop",
        load_state("adam", lambda s: s["state"][0].update(square_avg=s["state"][0].pop("exp_avg_sq"))), ValueError,
        "Adam.load_state_dict", "parameter 0", "the saved state has exp_avg, square_avg", "keeps exp_avg, exp_avg_sq"),
    *[api(f"optim/load-{n}-wrong-state-shape", load_state(n, state_shape), ValueError, "load_state_dict",
          "parameter 0 of shape (3, 4)", "(7, 7)", "expected (3, 4)")
      for n in ("adamw", "rmsprop")],
    api("optim/load-adamw-not-a-state-dict", load_state("adamw", lambda s: {}), ValueError,
        "AdamW.load_state_dict", "expected an optimizer state_dict"),
    api("optim/load-adamw-fewer-groups", load_state("adamw", drop_group), ValueError, "AdamW.load_state_dict",
        "1 parameter groups"),
]


# -- train flags ------------------------------------------------------------------------------------------
FLAG_CASES = [
    cli("train/tokens-inf", train("--steps", "none", "--tokens", "inf"), "budget.tokens", "'inf'"),
    cli("train/tokens-nan", train("--steps", "none", "--tokens", "nan"), "budget.tokens", "'nan'"),
    cli("train/tokens-fraction", train("--steps", "none", "--tokens", "1.5"), "budget.tokens", "'1.5'"),
    cli("train/tokens-negative", train("--steps", "none", "--tokens", "-5"), "budget.tokens must be > 0"),
    cli("train/tokens-below-one-batch", train("--steps", "none", "--tokens", "100"), "budget.tokens=100",
        "less than one batch"),
    cli("train/tokens-and-steps", train("--tokens", "4096"), "budget.tokens or budget.steps, not both"),
    cli("train/steps-zero", train("--steps", "0"), "budget.steps must be > 0"),
    cli("train/steps-text", train("--steps", "many"), "budget.steps", "'many'"),
    cli("train/ratio-inf", train("--steps", "none", "--set", "ratio=inf"), "budget.ratio must be a finite number"),
    cli("train/lr-negative", train("--lr", "-1"), "optim.lr must be > 0"),
    cli("train/lr-nan", train("--lr", "nan"), "optim.lr must be a finite number"),
    cli("train/lr-inf", train("--lr", "inf"), "optim.lr must be a finite number"),
    cli("train/lr-text", train("--lr", "fast"), "optim.lr", "'fast'"),
    cli("train/seq-len-zero", train("--seq-len", "0"), "data.seq_len must be > 0"),
    cli("train/batch-not-a-multiple", train("--batch-tokens", "100"), "data.batch_tokens=100", "data.seq_len=32"),
    cli("train/micro-batch-does-not-divide", train("--micro-batch", "3"), "data.micro_batch=3"),
    cli("train/micro-batch-zero", train("--micro-batch", "0"), "data.micro_batch must be > 0"),
    cli("train/model-unknown", train("--model", "tinyy"), "model.preset='tinyy'", "did you mean 'tiny'"),
    cli("train/optimizer-unknown", train("--optimizer", "adamx"), "optim.name", "'adamx'"),
    cli("train/optimizer-class-path-missing", train("--optimizer", "torch.optim.Nope"), "optim.name", "Nope"),
    cli("train/schedule-unknown", train("--schedule", "cosinus"), "schedule.kind='cosinus'", "did you mean 'cosine'"),
    cli("train/warmup-fraction-above-one", train("--warmup", "1.5"), "schedule.warmup must be a fraction"),
    cli("train/warmup-negative", train("--warmup", "-1"), "schedule.warmup"),
    cli("train/warmup-longer-than-the-run", train("--warmup", "10"), "schedule.warmup=10", "the run's 2 steps"),
    cli("train/warmup-longer-than-a-token-budget", train("--steps", "none", "--tokens", "512", "--warmup", "5"),
        "schedule.warmup=5", "the run's 4 steps"),
    cli("train/final-lr-frac-above-one", train("--final-lr-frac", "2"), "schedule.final_lr_frac must be in [0, 1]"),
    cli("train/grad-clip-negative", train("--grad-clip", "-1"), "optim.grad_clip must be >= 0"),
    cli("train/eval-every-negative", train("--eval-every", "-1"), "log.eval_every must be >= 0"),
    cli("train/log-every-zero", train("--log-every", "0"), "log.log_every must be > 0"),
    cli("train/eval-tokens-zero", train("--eval-tokens", "0"), "log.eval_tokens must be > 0"),
    cli("train/checkpoint-every-negative", train("--checkpoint-every", "-2"), "log.checkpoint_every must be >= 0"),
    cli("train/progress-unknown", train("--progress", "fancy"), "log.progress='fancy'"),
    cli("train/device-unknown", train("--device", "tpu"), "run.device", "'tpu'"),
    cli("train/dtype-unknown", train("--dtype", "fp16"), "run.dtype='fp16'"),
    cli("train/seed-fraction", train("--seed", "1.5"), "run.seed", "'1.5'"),
    cli("train/out-empty", train("--out", ""), "run.out must name a directory"),
    cli("train/out-is-a-file", train("--out", "@W/afile"), "run.out=", "afile", "is a file",
        setup=files(afile="not a directory")),
    cli("train/out-inside-a-file", train("--out", "@W/afile/run"), "is inside", "afile", "which is a file",
        setup=files(afile="not a directory")),
    cli("train/out-holds-a-run", train(), "already holds a run", "--resume", setup=copy_run()),
    cli("train/dist-timeout-zero", train("--set", "dist_timeout_s=0"), "run.dist_timeout_s must be > 0"),
    cli("train/dist-timeout-inf", train("--set", "dist_timeout_s=inf"), "run.dist_timeout_s must be a finite number"),
    cli("train/set-unknown-key", train("--set", "learning_rate=1"), "unknown config key 'learning_rate'"),
    cli("train/set-wrong-section", train("--set", "model.lr=1"), "'lr' belongs to [optim]"),
    cli("train/set-without-equals", train("--set", "lr"), "--set: expected key=value", "'lr'"),
    cli("train/switch-with-a-value", train("--set", "compile=maybe"), "run.compile", "'maybe'"),
    cli("train/opt-malformed-literal", train("--opt", "betas=(0.9,"), "optim.hp.betas", "'(0.9,'",
        "not a valid Python literal"),
    cli("train/opt-malformed-list", train("--opt", "betas=[0.9, 0.95"), "optim.hp.betas", "not a valid Python literal"),
    cli("train/opt-without-equals", train("--opt", "betas"), "--opt: expected key=value"),
    cli("train/opt-unknown-hyperparameter", train("--opt", "bogus=1"), "optim.hp.bogus", "no hyperparameter 'bogus'"),
    cli("train/opt-lr", train("--opt", "lr=0.1"), "optim.hp.lr", "use optim.lr"),
    cli("train/opt-total-steps", train("--opt", "total_steps=5"), "optim.hp.total_steps", "from the budget"),
    cli("train/opt-beta-above-one", train("--opt", "betas=(0.9, 1.5)"), "AdamW", "betas[1]=1.5"),
    cli("train/opt-eps-zero", train("--opt", "eps=0"), "AdamW", "eps=0"),
    cli("train/opt-eps-inf", train("--opt", "eps=inf"), "AdamW", "eps=inf"),
    cli("train/opt-lion-betas-text", train("--optimizer", "lion", "--opt", "betas=fast"), "Lion", "betas='fast'"),
    cli("train/opt-grams-eps-zero", train("--optimizer", "grams", "--opt", "eps=0"), "grams: invalid eps=0"),
    cli("train/opt-roles-unknown", train("--opt", "roles={'bogus': {}}"), "optim.hp.roles", "unknown role 'bogus'"),
    cli("train/opt-roles-not-tables", train("--opt", "roles={'attention': 1}"), "optim.hp.roles must map roles"),
    cli("train/opt-role-lr-scale-negative", train("--opt", "roles={'attention': {'lr_scale': -1}}"),
        "role 'attention'", "lr_scale=-1"),
    cli("train/unknown-flag", ("train", "--lr-rate", "1"), "unrecognized arguments: --lr-rate"),
    # the cost of one step, said before the data is read
    cli("train/micro-batch-cannot-fit-in-memory", train("--seq-len", "1048576", "--batch-tokens", "1073741824"),
        "data.seq_len=1048576", "GiB", "set data.micro_batch"),
    cli("train/seq-len-65536-warns-of-its-cost",
        train("--seq-len", "65536", "--batch-tokens", "65536", "--device", "cpu", "--data", "@W/nope"),
        "--data", "does not exist", warns=("data.seq_len=65536", "99% of it attention", "per step")),
    cli("train/seq-len-cannot-fit-in-memory", train("--seq-len", "1073741824", "--batch-tokens", "1073741824"),
        "data.seq_len=1073741824", "lower data.seq_len"),
]


# -- run files (TOML) -------------------------------------------------------------------------------------
def with_config(toml: str | bytes, *flags: str) -> tuple[tuple[str, ...], Setup]:
    return train("--config", "@W/run.toml", *flags), files(**{"run.toml": toml})


def toml_case(id: str, toml: str | bytes, *says: str) -> Case:
    argv, setup = with_config(toml)
    return cli(id, argv, *says, setup=setup)


CONFIG_CASES = [
    cli("config/missing-file", train("--config", "@W/nope.toml"), "config file not found", "nope.toml"),
    cli("config/a-directory", train("--config", "@W"), "is a directory, not a TOML file"),
    toml_case("config/not-utf8", b'[optim]\nlr = "\xff"\n', "run.toml", "not UTF-8", "line 2"),
    toml_case("config/invalid-toml", "[optim\nlr = 1\n", "run.toml", "invalid TOML"),
    toml_case("config/section-not-a-table", "optim = 3\n", "run.toml", "[optim] must be a table"),
    toml_case("config/unknown-key", "[optim]\nlearning_rate = 1\n", "run.toml",
              "unknown config key 'optim.learning_rate'"),
    toml_case("config/key-in-the-wrong-section", "[model]\nlr = 1\n", "run.toml", "'lr' belongs to [optim]"),
    toml_case("config/lr-text", '[optim]\nlr = "fast"\n', "optim.lr", "'fast'"),
    toml_case("config/lr-inf", "[optim]\nlr = inf\n", "optim.lr must be a finite number"),
    toml_case("config/lr-nan", "[optim]\nlr = nan\n", "optim.lr must be a finite number"),
    toml_case("config/micro-batch-float", "[data]\nmicro_batch = 1.5\n", "data.micro_batch must be an integer"),
    toml_case("config/seed-bool", "[run]\nseed = true\n", "run.seed must be an integer"),
    toml_case("config/ratio-bool", "[budget]\nratio = true\n", "budget.ratio must be a number"),
    toml_case("config/hp-not-a-table", "[optim]\nhp = 3\n", "optim.hp", "table"),
    toml_case("config/hp-unknown", "[optim.hp]\nbogus = 1\n", "optim.hp.bogus"),
    toml_case("config/hp-beta-above-one", "[optim.hp]\nbetas = [0.9, 1.5]\n", "AdamW", "betas[1]=1.5"),
    toml_case("config/warmup-longer-than-the-run", "[schedule]\nwarmup = 50\n", "schedule.warmup=50"),
    toml_case("config/device-number", "[run]\ndevice = 0\n", "run.device must be a string"),
]


# -- data: shard directories, meta.json, synthetic specs ---------------------------------------------------
DATA_CASES = [
    cli("data/missing-directory", on_data("nope"), "--data", "nope", "does not exist"),
    cli("data/a-file", on_data("afile"), "--data", "afile", "is a file", setup=files(afile="x")),
    cli("data/empty-directory", on_data("empty"), "empty", "no train_*.bin shards", setup=files(empty__keep="")),
    cli("data/no-val-shards", on_data("data"), "no val_*.bin shards", setup=data_dir(val=None)),
    cli("data/train-shards-empty", on_data("data"), "the train shards (train_000000.bin) hold no tokens",
        setup=data_dir(train=[])),
    cli("data/val-shards-empty", on_data("data"), "the val shards", "hold no tokens", setup=data_dir(val=[])),
    cli("data/train-too-short-for-a-batch", on_data("data"), "data", "fewer than one batch",
        setup=data_dir(train=TOKENS[:100])),
    cli("data/val-too-short-for-a-sequence", on_data("data"), "holds no sequence", "data.seq_len",
        setup=data_dir(val=TOKENS[:20])),
    cli("data/meta-malformed", on_data("data"), "meta.json", "not valid JSON", setup=data_dir(meta='{"vocab_size": ')),
    cli("data/meta-not-utf8", on_data("data"), "meta.json", "not valid JSON", setup=data_dir(meta=b"\xff\xfe")),
    cli("data/meta-a-list", on_data("data"), "meta.json", "expected a JSON object", setup=data_dir(meta=[64])),
    cli("data/meta-without-vocab-size", on_data("data"), "meta.json", "'vocab_size'", "None",
        setup=data_dir(meta={"tokenizer": "x"})),
    cli("data/meta-vocab-size-text", on_data("data"), "meta.json", "'vocab_size'", "'abc'",
        setup=data_dir(meta={"vocab_size": "abc"})),
    cli("data/meta-vocab-size-too-large", on_data("data"), "meta.json", "[1, 65536]",
        setup=data_dir(meta={"vocab_size": 10**6})),
    cli("data/train-id-above-meta-vocab", on_data("data"), "train_000000.bin", "token id 32 at position 32",
        "vocabulary size 32", "largest id in the file is 63",
        setup=data_dir(meta={"vocab_size": 32})),
    cli("data/val-id-above-vocab", on_data("data"), "val_000000.bin", "token id 100", "position 5",
        setup=data_dir(val=[1, 2, 3, 4, 5, 100] + [1] * 200)),
    cli("data/no-meta-id-above-gpt2", on_data("data"), "train_000000.bin", "token id 60000", "GPT-2",
        setup=data_dir(meta=None, train=[60000] * 200)),
    cli("data/model-vocab-below-data-vocab", train("--set", "vocab_size=32"), "model.vocab_size=32",
        "smaller than the data's vocabulary"),
    cli("data/shard-bad-magic", on_data("data"), "train_000000.bin", "bad magic number",
        setup=data_dir(train=None, raw={"train_000000.bin": shard_bytes(magic=1234)})),
    cli("data/shard-bad-version", on_data("data"), "train_000000.bin", "unsupported version",
        setup=data_dir(train=None, raw={"train_000000.bin": shard_bytes(version=7)})),
    cli("data/shard-truncated", on_data("data"), "train_000000.bin", "truncated",
        setup=data_dir(train=None, raw={"train_000000.bin": shard_bytes()[:-100]})),
    cli("data/shard-trailing-bytes", on_data("data"), "train_000000.bin", "trailing bytes",
        setup=data_dir(train=None, raw={"train_000000.bin": shard_bytes() + b"xx"})),
    cli("data/shard-shorter-than-its-header", on_data("data"), "train_000000.bin", "shorter than the 1024-byte header",
        setup=data_dir(train=None, raw={"train_000000.bin": b"tiny"})),
    cli("data/shard-negative-count", on_data("data"), "val_000000.bin", "corrupt header", "-5 tokens",
        setup=data_dir(val=None, raw={"val_000000.bin": shard_bytes(n=-5)})),
    cli("data/hf-spec", train("--data", "hf:HuggingFaceFW/fineweb"), "optarena data prepare hf:HuggingFaceFW/fineweb"),
    cli("data/embedded-unknown-tokenizer", train("--data", "embedded:wordpiece"), "--data embedded:wordpiece",
        "tokenizer"),
    cli("synthetic/vocab-text", train("--data", "synthetic:V=abc"), "synthetic: V='abc' is not an integer"),
    cli("synthetic/s-nan", train("--data", "synthetic:s=nan"), "synthetic: s='nan'", "finite"),
    cli("synthetic/s-inf", train("--data", "synthetic:s=inf"), "synthetic: s='inf'", "finite"),
    cli("synthetic/s-text", train("--data", "synthetic:s=high"), "synthetic: s='high' is not a number"),
    cli("synthetic/s-zero", train("--data", "synthetic:V=64,s=0"), "synthetic: need s (zipf_s) > 0", "s=0.0"),
    cli("synthetic/s-too-large-to-converge", train("--data", "synthetic:V=64,s=30"), "V=64", "s=30.0",
        "did not converge"),
    cli("synthetic/vocab-one", train("--data", "synthetic:V=1"), "synthetic: V (vocab_size) must be in [2, 65536]",
        "got 1"),
    cli("synthetic/vocab-too-large", train("--data", "synthetic:V=100000"), "synthetic: V (vocab_size)", "100000"),
    cli("synthetic/order-zero", train("--data", "synthetic:V=64,order=0"), "synthetic: need order >= 1", "order=0"),
    cli("synthetic/table-too-large", train("--data", "synthetic:V=64,order=5"), "synthetic:", "V**(order+1)",
        "V=64, order=5"),
    cli("synthetic/unknown-option", train("--data", "synthetic:vocab=64"), "synthetic: bad option 'vocab=64'"),
    cli("synthetic/option-without-value", train("--data", "synthetic:V"), "synthetic: bad option 'V' (no value)"),
    cli("synthetic/seed-fraction", train("--data", "synthetic:V=64,seed=0.5"),
        "synthetic: seed='0.5' is not an integer"),
]


# -- data prepare -----------------------------------------------------------------------------------------
JSONL_31 = "".join(json.dumps({"text": f"document {i}"}) + "\n" for i in range(30)) + '{"text": "oops\n'

PREPARE_CASES = [
    cli("prepare/missing-input", prepare("@W/nope.txt"), "input not found", "nope.txt"),
    cli("prepare/txt-not-utf8", prepare("@W/bad.txt"), "bad.txt:2", "not UTF-8", "0xff",
        setup=files(**{"bad.txt": b"fine line\nbad \xff byte\n"})),
    cli("prepare/jsonl-not-utf8", prepare("@W/bad.jsonl"), "bad.jsonl:3", "not UTF-8",
        setup=files(**{"bad.jsonl": b'{"text": "a"}\n{"text": "b"}\n{"text": "\xe9"}\n'})),
    cli("prepare/jsonl-bad-line-31", prepare("@W/bad.jsonl"), "bad.jsonl:31", "not valid JSON",
        setup=files(**{"bad.jsonl": JSONL_31})),
    cli("prepare/jsonl-not-an-object", prepare("@W/bad.jsonl"), "bad.jsonl:2", "expected an object",
        setup=files(**{"bad.jsonl": '{"text": "a"}\n[1, 2]\n'})),
    cli("prepare/jsonl-without-text", prepare("@W/bad.jsonl"), "bad.jsonl:1", "string field 'text'",
        setup=files(**{"bad.jsonl": '{"body": "a"}\n'})),
    cli("prepare/jsonl-text-not-a-string", prepare("@W/bad.jsonl"), "bad.jsonl:1", "string field 'text'",
        setup=files(**{"bad.jsonl": '{"text": 3}\n'})),
    cli("prepare/unsupported-suffix", prepare("@W/data.csv"), "data.csv", "unsupported input type",
        setup=files(**{"data.csv": "a,b\n"})),
    cli("prepare/directory-without-inputs", prepare("@W/empty"), "empty", "holds no .txt/.jsonl/.parquet files",
        setup=files(empty__notes="x")),
    cli("prepare/shard-tokens-zero", prepare("@W/docs", flags=(*PREPARE, "--shard-tokens", "0")),
        "shard_tokens must be an integer >= 1", setup=docs()),
    cli("prepare/shard-tokens-negative", prepare("@W/docs", flags=(*PREPARE, "--shard-tokens", "-3")),
        "shard_tokens must be", "-3", setup=docs()),
    cli("prepare/shard-tokens-text", prepare("@W/docs", flags=(*PREPARE, "--shard-tokens", "many")),
        "argument --shard-tokens", "'many'"),
    cli("prepare/val-fraction-zero", prepare("@W/docs", flags=(*PREPARE, "--val-fraction", "0")),
        "val_fraction must be in (0, 1)", setup=docs()),
    cli("prepare/val-fraction-above-one", prepare("@W/docs", flags=(*PREPARE, "--val-fraction", "1.5")),
        "val_fraction must be in (0, 1)", "1.5", setup=docs()),
    cli("prepare/tokenizer-unknown", prepare("@W/docs", flags=("--tokenizer", "wordpiece", "--no-progress")),
        "tokenizer spec", "'wordpiece'", setup=docs()),
    cli("prepare/tokenizer-bpe-text", prepare("@W/docs", flags=("--tokenizer", "bpe:big", "--no-progress")),
        "tokenizer spec", "'bpe:big'", setup=docs()),
    cli("prepare/tokenizer-bpe-too-small", prepare("@W/docs", flags=("--tokenizer", "bpe:100", "--no-progress")),
        "bpe vocab must be in [257, ", "100", setup=docs()),
    cli("prepare/tokenizer-bpe-too-large", prepare("@W/docs", flags=("--tokenizer", "bpe:100000", "--no-progress")),
        "bpe vocab must be in", "100000", setup=docs()),
    cli("prepare/one-document-one-split", prepare("@W/docs"), "a split is empty", setup=docs(n=1)),
    cli("prepare/out-holds-foreign-shards", prepare("@W/docs"), "already holds shards but no manifest.json",
        setup=chain(docs(), data_dir(rel="out"))),
    cli("prepare/out-holds-another-preparation", prepare("@W/docs", flags=(*PREPARE, "--val-fraction", "0.2")),
        "holds a preparation with another config",
        setup=chain(docs(), files(**{"out__manifest.json": json.dumps({"config": {"inputs": []}})}))),
    cli("prepare/out-is-a-file", prepare("@W/docs", out="@W/afile"), "--out", "afile", "is a file",
        setup=chain(docs(), files(afile="x"))),
    cli("prepare/out-inside-a-file", prepare("@W/docs", out="@W/afile/out"), "is inside", "afile",
        setup=chain(docs(), files(afile="x"))),
    cli("prepare/manifest-malformed", prepare("@W/docs"), "manifest.json", "not valid JSON",
        setup=chain(docs(), files(**{"out__manifest.json": '{"config": '}))),
    cli("prepare/manifest-a-list", prepare("@W/docs"), "manifest.json", "expected a JSON object",
        setup=chain(docs(), files(**{"out__manifest.json": "[]"}))),
]


# -- checkpoints ------------------------------------------------------------------------------------------
CHECKPOINT_CASES = [
    cli("checkpoint/garbage", train("--resume"), "cannot resume from", "checkpoint.pt", "not a readable checkpoint",
        setup=copy_run(overwrite(b"this is not a checkpoint"))),
    cli("checkpoint/truncated", train("--resume"), "cannot resume from", "checkpoint.pt", "not a readable checkpoint",
        setup=copy_run(truncate)),
    cli("checkpoint/empty-file", train("--resume"), "checkpoint.pt", "not a readable checkpoint",
        setup=copy_run(overwrite(b""))),
    cli("checkpoint/a-directory", train("--resume"), "checkpoint.pt", "not a readable checkpoint",
        setup=copy_run(lambda p: (p.unlink(), p.mkdir()))),
    cli("checkpoint/not-a-dict", train("--resume"), "checkpoint.pt", "expected a checkpoint dict, found list",
        setup=copy_run(resave(lambda s: [1, 2, 3]))),
    cli("checkpoint/missing-keys", train("--resume"), "checkpoint.pt", "missing optimizer",
        setup=copy_run(resave(lambda s: s.pop("optimizer") and None))),
    cli("checkpoint/wrong-type", train("--resume"), "checkpoint.pt", "wrong type: step",
        setup=copy_run(resave(lambda s: s.update(step="two")))),
    cli("checkpoint/another-config", train("--resume", "--lr", "0.01"), "cannot resume", "checkpoint.pt",
        "optim.lr: 0.001 -> 0.01", setup=copy_run()),
    cli("checkpoint/another-seed", train("--resume", "--seed", "3"), "run.seed: 0 -> 3", setup=copy_run()),
    cli("checkpoint/optimizer-state-of-another-optimizer", train("--resume", "--optimizer", "lion"),
        "optim.name: 'adamw' -> 'lion'", setup=copy_run()),
]


# -- suites (bench) and results databases -----------------------------------------------------------------
def suite_case(id: str, body: str, *says: str, flags: tuple[str, ...] = (), data: str = "@SHARDS",
               models: str = '["tiny"]', xfail: str | None = None) -> Case:
    return cli(id, dry("s", *flags), *says, setup=suite(body, data, models=models), xfail=xfail)


SUITE_CASES = [
    suite_case("suite/lr-text", SUITE_TRAIN + '[optimizers]\nadamw = "fast"\n', "s.toml", "optimizer 'adamw'",
               "`lr` must be a number", "'fast'"),
    suite_case("suite/lr-table-text", SUITE_TRAIN + '[optimizers]\nadamw = { lr = "fast" }\n', "optimizer 'adamw'",
               "'fast'"),
    suite_case("suite/lr-per-model-text", SUITE_TRAIN + '[optimizers]\nadamw = { lr = { tiny = "fast" } }\n',
               "`lr.tiny` must be a number"),
    suite_case("suite/lr-negative", SUITE_TRAIN + "[optimizers]\nadamw = -1e-3\n", "`lr` must be a number > 0"),
    suite_case("suite/lr-inf", SUITE_TRAIN + "[optimizers]\nadamw = inf\n", "`lr` must be a number > 0", "inf"),
    suite_case("suite/lr-missing", SUITE_TRAIN + "[optimizers]\nadamw = { opt = {} }\n", "needs a centre `lr`"),
    suite_case("suite/lr-mults-text", "lr_mults = ['a']\n" + SUITE_OK, "`lr_mults` must be a list of numbers"),
    suite_case("suite/lr-mults-zero", "lr_mults = [0, 1]\n" + SUITE_OK, "lr_mults must be distinct positive"),
    suite_case("suite/seeds-text", SUITE_OK.replace("seeds = 1", 'seeds = "3"'), "seeds must be >= 1", "'3'"),
    suite_case("suite/seeds-zero", SUITE_OK.replace("seeds = 1", "seeds = 0"), "seeds must be >= 1"),
    suite_case("suite/seeds-per-optimizer-text", SUITE_OK.replace("seeds = 1", 'seeds = { adamw = "x" }'),
               "seeds.adamw must be >= 1", "'x'"),
    suite_case("suite/seeds-unknown-optimizer", SUITE_OK.replace("seeds = 1", "seeds = { adamx = 2 }"),
               "`seeds` names unknown optimizer(s): adamx"),
    suite_case("suite/max-extend-negative", "max_extend = -1\n" + SUITE_OK, "max_extend must be >= 0"),
    suite_case("suite/tune-rounds-zero", "tune_rounds = 0\n" + SUITE_OK, "tune_rounds must be >= 1"),
    suite_case("suite/tokens-text", SUITE_OK.replace("tokens = [256]", 'tokens = ["many"]'),
               "`tokens` must be a list of positive numbers"),
    suite_case("suite/tokens-and-ratio", "ratio = [20]\n" + SUITE_OK, "`tokens` or as `ratio` (one of them)"),
    suite_case("suite/unknown-top-key", "lr_mult = [1]\n" + SUITE_OK, "unknown key 'lr_mult'",
               "did you mean 'lr_mults'"),
    suite_case("suite/unknown-optimizer", SUITE_TRAIN + "[optimizers]\nadamx = 1e-3\n", "optimizer 'adamx'",
               "unknown optimizer"),
    suite_case("suite/unknown-hyperparameter",
               SUITE_TRAIN + "[optimizers]\nadamw = { lr = 1e-3, opt = { bogus = 1 } }\n",
               "optimizer 'adamw'", "bogus"),
    suite_case("suite/train-sets-a-managed-key", SUITE_OK + "lr = 1\n", "s.toml [train]",
               "'lr' is set per run by the suite"),
    suite_case("suite/train-unknown-key", SUITE_OK + "bogus = 1\n", "s.toml [train]", "unknown config key 'bogus'"),
    suite_case("suite/train-value-text", SUITE_OK.replace("seq_len = 32", 'seq_len = "long"'), "s.toml [train]",
               "data.seq_len", "'long'"),
    suite_case("suite/train-value-out-of-range", SUITE_OK.replace("seq_len = 32", "seq_len = -1"), "s.toml [train]",
               "data.seq_len must be > 0"),
    suite_case("suite/train-warmup-longer-than-the-run", SUITE_OK + "warmup = 100\n", "schedule.warmup=100",
               "the run's 2 steps"),
    suite_case("suite/unknown-model", SUITE_OK, "unknown model 'tinyy'", "did you mean 'tiny'", models='["tinyy"]'),
    suite_case("suite/models-empty", SUITE_OK, "`models` must be a non-empty list", models="[]"),
    suite_case("suite/models-a-string", SUITE_OK, "`models` must be a non-empty list", models='"tiny"'),
    suite_case("suite/baseline-unknown", 'baseline = "adamx"\n' + SUITE_OK, "`baseline` 'adamx'"),
    suite_case("suite/extends-unknown", 'extends = "quick-sweeep"\n' + SUITE_OK, "no suite 'quick-sweeep'"),
    suite_case("suite/full-without-a-table", SUITE_OK, "--full needs a [full] table", flags=("--full",)),
    suite_case("suite/no-optimizers", SUITE_TRAIN, "no optimizers"),
    suite_case("suite/variant-without-a-name", SUITE_TRAIN + '[[variant]]\noptimizer = "adamw"\nlr = 1e-3\n',
               "every [[variant]] needs a `name`"),
    suite_case("suite/scale-without-its-value",
               SUITE_TRAIN + "[optimizers]\nmuon = { lr = 0.02, scale = ['adamw_lr'] }\n",
               "scales adamw_lr with the LR"),
    suite_case("suite/data-missing", SUITE_OK, "the suite's data", "does not exist", data="@W/nope"),
    suite_case("suite/data-corrupt-shard", SUITE_OK, "train_000000.bin", "bad magic number", data="@W/data"),
    cli("suite/not-utf8", dry(), "s.toml", "not UTF-8", setup=files(**{"s.toml": b'description = "\xff"\n'})),
    cli("suite/invalid-toml", dry(), "s.toml", "invalid TOML", setup=files(**{"s.toml": "tokens = [\n"})),
    cli("suite/missing-description", dry(), "s.toml", "missing `description`", setup=files(**{"s.toml": SUITE_OK})),
    cli("suite/a-directory", ("bench", "@W/dir.toml", "--dry-run"), "dir.toml", "is a directory",
        setup=files(**{"dir.toml__keep": ""})),
    cli("suite/unknown-name", ("bench", "quick-sweeep", "--dry-run"), "no suite 'quick-sweeep'",
        "did you mean 'quick-sweep'"),
    cli("bench/no-suite", ("bench",), "name a suite"),
    cli("bench/jobs-negative", bench("s", "--jobs", "-1"), "--jobs must be >= 0", "got -1", setup=suite(SUITE_OK)),
    cli("bench/threads-zero", bench("s", "--threads", "0"), "--threads must be >= 1", "got 0", setup=suite(SUITE_OK)),
    cli("bench/jobs-text", ("bench", "quick", "--jobs", "two"), "argument --jobs", "'two'"),
    cli("bench/set-unknown-key", dry("s", "--set", "bogus=1"), "unknown config key 'bogus'", setup=suite(SUITE_OK)),
    cli("bench/set-without-equals", dry("s", "--set", "lr"), "--set: expected key=value", setup=suite(SUITE_OK)),
    cli("bench/tune-table-without-a-directory", ("bench", "tune-table"), "tune-table needs"),
    cli("bench/tune-table-missing-directory", ("bench", "tune-table", "@W/nope"), "nope"),
]
# the corrupt shard of suite/data-corrupt-shard
CORRUPT = data_dir(train=None, raw={"train_000000.bin": shard_bytes(magic=1)})
SUITE_CASES = [c if c.id != "suite/data-corrupt-shard" else Case(c.id, c.run, c.expect, chain(c.setup, CORRUPT))
               for c in SUITE_CASES]

DB_CASES = [
    cli("db/garbage-on-resume", bench(), "res/results.db", "not a readable results database",
        setup=chain(suite(SUITE_OK), results_db(b"SQLite format 2\x00" + b"x" * 4096))),
    cli("db/text-file-on-resume", bench(), "results.db", "not a readable results database",
        setup=chain(suite(SUITE_OK), results_db(b"not a database at all\n" * 100))),
    cli("db/out-is-a-file", ("bench", "@W/s.toml", "--out", "@W/afile", "--jobs", "0", "--no-report"),
        "--out", "afile", "is a file", setup=chain(suite(SUITE_OK), files(afile="x"))),
    cli("db/another-suite", bench(), "holds suite 'other', not 's'",
        setup=chain(suite(SUITE_OK), results_db(meta={"suite": "other"}))),
    cli("db/suite-changed", bench(), "suite 's' has changed since these results were made",
        setup=chain(suite(SUITE_OK), results_db(meta={"settings_hash": "0" * 16}))),
    cli("db/data-changed", bench(), "the data", "has changed since these results were made",
        setup=chain(suite(SUITE_OK), results_db(meta={"data_fingerprint": "f" * 64}))),
    cli("db/newer-schema", bench(), "results.db has schema version 999",
        setup=chain(suite(SUITE_OK), results_db(meta={"schema_version": "999"}))),
    cli("db/tune-table-garbage", ("bench", "tune-table", "@W/res"), "res", "results database",
        setup=results_db(b"not a database at all\n" * 100)),
    cli("db/report-garbage", ("report", "@W/res"), "res", "results database",
        setup=results_db(b"not a database at all\n" * 100)),
    cli("db/report-missing", ("report", "@W/nope"), "no results.db in", "nope"),
    cli("db/recheck-garbage", ("recheck", "@W/res"), "res", "results database",
        setup=results_db(b"not a database at all\n" * 100)),
    cli("db/recheck-missing", ("recheck", "@W/nope"), "no results.db in", "nope"),
    cli("db/recheck-no-finished-run", ("recheck", "@W/res"), "no finished run with a stored config",
        setup=chain(suite(SUITE_OK), results_db())),
    cli("bench/redo-unknown-row", bench("s", "--redo", "lino"), "--redo 'lino' is not an optimizer row of s",
        setup=suite(SUITE_OK)),
]


# -- how runs end: the status run.json records --------------------------------------------------------------
STATUS_CASES = [
    ends("status/finished", train(), "finished", steps=2),
    ends("status/resume-of-a-finished-run", train("--resume"), "finished", steps=2, setup=copy_run()),
    ends("status/resume-without-a-checkpoint-starts-afresh", train("--resume"), "finished", steps=2),
    ends("status/diverged-lion-at-lr-1e30", train("--optimizer", "lion", "--lr", "1e30", "--warmup", "0",
                                                  "--steps", "20"), "diverged", "non-finite"),
    ends("status/diverged-adamw-at-lr-1e4", train("--lr", "1e4", "--warmup", "0", "--steps", "30", "--grad-clip", "0"),
         "diverged"),
    ends("status/failed-optimizer-step", train("--optimizer", "tests.faults.cases:Exploder"), "failed",
         "RuntimeError: boom at step 2", code=1),
]


class Exploder(torch.optim.SGD):
    """SGD whose second step raises: a run that fails mid-way must say "failed" and the error."""

    def __init__(self, params, lr: float = 1e-3) -> None:
        super().__init__(params, lr=lr)
        self.calls = 0

    def step(self, closure=None):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("boom at step 2")
        return super().step(closure)


# Signals, each in its own process: (id, signal, exit status, run.json "error").
SIGNALS = [
    ("signal/sigterm", signal.SIGTERM, 143, "Terminated: terminated by SIGTERM"),
    ("signal/sighup", signal.SIGHUP, 129, "Terminated: terminated by SIGHUP"),
    ("signal/sigint", signal.SIGINT, 130, "KeyboardInterrupt"),
]

CASES: list[Case] = [*OPTIMIZER_CASES, *FLAG_CASES, *CONFIG_CASES, *DATA_CASES, *PREPARE_CASES,
                     *CHECKPOINT_CASES, *SUITE_CASES, *DB_CASES, *STATUS_CASES]
assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
