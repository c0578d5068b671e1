"""Rerun finished cells of a results directory at this code and compare their final losses.

    optarena recheck results/seed-134m                 the cheapest finished run of each commit (3 at most)
    optarena recheck results/seed-134m --cell KEY      these cells (repeatable; keys as in the report)

Every run stores its resolved training config (runs.config_json) and the git state it ran at
(record_json), so a cell can be trained again exactly as it was, into a temporary directory: nothing in
DIR changes (a setting added since the run was made takes the value that reproduces its code path,
LEGACY). On the same kind of machine, with as many torch threads (the run's recorded count, else
the bench's default of one), a CPU run is deterministic, so an unchanged code path gives the stored loss
to the last bit: a difference means the numerics moved between the commits (or the machine differs).
This is how a suite resumed across a change of code, whose rows then mix commits (the report lists
them), is checked: rerun a cell of the older commit here, and if it reproduces, the row's runs agree.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .db import ResultsDB, code_of, short_code

DEFAULT_SAMPLE = 3
# Keys of the stored config that belong to the original run's place, not its numerics: replaced here.
REPLACED = {"run.resume": False, "log.progress": "off", "log.tensorboard": False, "log.wandb": False,
            "log.checkpoint_every": 0}
# Settings added after a stored config was written, whose default would change the code path it ran:
# a run from before `optim.fused` existed stepped eagerly (the fused step is equal only to rounding,
# which a run near its divergence edge can amplify), so it is rerun eagerly. The other keys added
# since (run.parallel, the logging mirrors) default to what those runs did.
LEGACY = {"optim.fused": "off"}


@dataclass(frozen=True)
class Check:
    cell: str
    code: str | None  # the commit the stored run was made at (db.code_of's form)
    stored: float
    rerun: float | None  # None: the rerun did not finish (status says why)
    status: str
    wall_s: float
    stored_wall_s: float | None

    def agrees(self, tol: float) -> bool:
        return self.rerun is not None and abs(self.rerun - self.stored) <= tol


def pick(results_dir: str | Path, cells: Sequence[str] = (), sample: int = DEFAULT_SAMPLE) -> list[dict[str, Any]]:
    """The finished runs to rerun: `cells` by key, else the cheapest of each commit, `sample` at most
    (the commits with the most runs first)."""
    with ResultsDB(results_dir) as db:
        runs = [r for r in db.runs(status="finished") if r["config_json"] and r["final_val_loss"] is not None]
    if not runs:
        raise ValueError(f"{results_dir}: no finished run with a stored config to rerun")
    for r in runs:
        r["code"] = code_of(r["record_json"])
    if cells:
        by_key = {r["cell"]: r for r in runs}
        missing = [c for c in cells if c not in by_key]
        if missing:
            from optarena._text import did_you_mean

            raise ValueError(f"{results_dir}: no finished cell {missing[0]!r}{did_you_mean(missing[0], list(by_key))}")
        return [by_key[c] for c in cells]
    if sample < 1:
        raise ValueError(f"--sample must be >= 1, got {sample}")
    by_code: dict[str | None, list[dict[str, Any]]] = {}
    for r in runs:
        by_code.setdefault(r["code"], []).append(r)
    ordered = sorted(by_code.values(), key=len, reverse=True)
    return [min(group, key=_cost) for group in ordered][:sample]


def _cost(run: dict[str, Any]) -> tuple[float, str]:
    return (run["wall_s"] if run["wall_s"] is not None else math.inf, run["cell"])


def recheck(runs: Sequence[dict[str, Any]], threads: int | None = None, tol: float = 0.0,
            overrides: Sequence[tuple[str, Any]] = (), say: Callable[[str], None] = print) -> list[Check]:
    """Train each run again from its stored config (in a temporary directory) and compare the losses;
    `overrides` (KEY, VALUE) change settings of every rerun after that (e.g. optim.fused)."""
    import torch

    from optarena.train import load_config, train
    from optarena.train.loading import flatten_toml

    from optarena.train.record import git_state

    here = short_code(git_state())
    say(f"rerunning {len(runs)} cell(s) at {here or 'code outside a git checkout'}, torch {torch.__version__}")
    checks = []
    for i, r in enumerate(runs, 1):
        n = threads or _threads(r)
        cost = f", {r['wall_s']:.0f} s when stored" if r["wall_s"] is not None else ""
        say(f"[{i}/{len(runs)}] {r['cell']} (made at {r['code'] or 'an unrecorded commit'}{cost}; {n} thread(s))")
        with tempfile.TemporaryDirectory(prefix="optarena-recheck-") as tmp:
            stored = flatten_toml(json.loads(r["config_json"]), source="config_json")
            entries = [(k, v) for k, v in stored if k not in REPLACED and k not in ("run.out", "log.tensorboard_dir")]
            entries += [(k, v) for k, v in LEGACY.items() if k not in dict(stored)]
            entries += [*REPLACED.items(), *overrides, ("run.out", str(Path(tmp) / "run"))]
            cfg = load_config(None, entries)
            before = torch.get_num_threads()
            torch.set_num_threads(n)
            t0 = time.perf_counter()
            try:
                result = train(cfg)
                status, loss = result.status, result.final_val_loss if result.status == "finished" else None
            except (OSError, ValueError, RuntimeError) as e:  # e.g. its data is not on this machine
                status, loss = f"failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})", None
            finally:
                torch.set_num_threads(before)
            wall = time.perf_counter() - t0
        check = Check(r["cell"], r["code"], float(r["final_val_loss"]), loss, status, wall, r["wall_s"])
        say(f"    {describe(check, tol)}")
        checks.append(check)
    return checks


def _threads(run: dict[str, Any]) -> int:
    try:
        threads = json.loads(run["record_json"] or "{}").get("hardware", {}).get("torch_threads")
    except (ValueError, AttributeError):
        threads = None
    return int(threads) if isinstance(threads, int) and threads > 0 else 1


def describe(c: Check, tol: float = 0.0) -> str:
    if c.rerun is None:
        return f"stored {c.stored:.6f}, rerun {c.status}"
    diff = c.rerun - c.stored
    verdict = "identical" if diff == 0 else ("agrees" if abs(diff) <= tol else "DIFFERS")
    return f"stored {c.stored:.10g}, rerun {c.rerun:.10g}: {verdict} (Δ {diff:+.3g}) in {c.wall_s:.0f} s"
