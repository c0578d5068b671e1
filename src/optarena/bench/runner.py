"""`run_suite`: every cell of a suite into DIR/results.db, resumable, several at a time.

The loop is a fixpoint. It reads the results, asks `tuning.plan_group` which cells each group
needs now (each coordinate's sweep and extensions in turn, then finalist seeds), records the choice
of each settled group (its LR and, in `tuned_json`, every tuned coordinate's), adds the new cells as
"pending", starts as many as there are free job slots, and waits for one to finish; it stops when
no cell is missing and none is in flight. A rerun therefore skips every finished or diverged cell,
reruns failed ones and those a dead runner left "running", and picks the tuning up where it stopped.

Jobs run in worker processes (spawned: a fork of a process that has run torch's OpenMP can hang),
one torch thread each by default, since the CPU's cores are shared by the jobs; on a machine with
several GPUs, job slot i trains on cuda:i. `jobs=0` runs the cells in this process (tests,
debugging). With an `engine` (optarena.bench.engine: SLURM or submitit's local executor) each cell
is a job of the engine instead, `jobs` of them in flight at once; the runner still alone writes the
database, and reattaches to the jobs a dead runner left. The trainer is injectable (`train_fn`):
tests pass a fake with a known best LR.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TextIO

from .cells import Cell, Group, Mirrors, data_info, resolve_groups
from .db import ResultsDB, db_path, dumps, short_code
from .engine import EngineJobError, EngineJobLost, EnginePool, EngineSpec, engine_folder
from .progress import SuiteProgress
from .suite import Suite, Variant
from .tuning import INF, GroupPlan, choice_sweeps, plan_group
from .worker import Job, run_cell

TrainFn = Callable[[Job], dict[str, Any]]
PHASE_ORDER = {"fixed": 0, "sweep": 0, "extend": 1, "seeds": 2}


@dataclasses.dataclass
class SuiteOutcome:
    """What one invocation of `run_suite` did (a sample's mean, std and n is optarena.stats.Summary)."""

    counts: dict[str, int]  # status -> cells, over the whole database
    ran: int  # cells run by this invocation
    unsettled: int  # groups still waiting (cells running in another process)
    wall_s: float
    interrupted: bool = False


def run_suite(suite: Suite, out: str | Path, *, jobs: int = 1, threads: int = 1, train_fn: TrainFn = run_cell,
              keep_checkpoints: bool = False, stream: TextIO | None | str = "stdout",
              heartbeat_s: float = 60.0, mirrors: Mirrors | None = None,
              engine: EngineSpec | None = None, redo: tuple[str, ...] = ()) -> SuiteOutcome:
    out = Path(out)
    if engine is not None and jobs < 1:
        raise ValueError(f"--jobs is the number of cells in flight on the engine: at least 1, got {jobs}")
    require_suite_mirrors(suite, mirrors)
    groups = resolve_groups(suite, data_info(suite.data))
    db = open_results(out)
    try:
        try:
            start_suite(db, suite)
        except sqlite3.DatabaseError as e:
            raise ValueError(_unreadable(db.path, e)) from None
        progress = SuiteProgress(sys.stdout if stream == "stdout" else stream)  # stdout as it is now
        if redo:
            redo_rows(db, suite, out, redo, progress.say)
        stale = db.stale_runs()
        on_engine = [r for r in stale if r["engine_job"]]  # their jobs may still run: reattach, not rerun
        db.release(r["cell"] for r in stale if not r["engine_job"])
        if len(stale) > len(on_engine):
            progress.say(f"{len(stale) - len(on_engine)} cell(s) left running by a dead process: running them again")
        if on_engine and engine is None:
            kinds = sorted({json.loads(r["engine_job"])["engine"] for r in on_engine})
            progress.say(f"{len(on_engine)} cell(s) went to a {'/'.join(kinds)} engine from a runner that died: they "
                         f"are left to it (rerun with --executor {kinds[0]} to collect them)")
        runner = _Runner(suite, groups, db, out, jobs, threads, train_fn, keep_checkpoints, progress, heartbeat_s,
                         mirrors or Mirrors(), engine)
        return runner.run(on_engine if engine else [])
    finally:
        db.close()


def redo_rows(db: ResultsDB, suite: Suite, out: Path, names: tuple[str, ...], say: Callable[[str], None]) -> None:
    """Forget the runs of these optimizer rows that were not made at this code, so the suite runs them
    again and each row's runs are all of one commit: for a row whose runs span commits that changed its
    numerics (the report names such rows; `optarena recheck` tells whether they changed). The runs made
    at this code stay, so the same command after a crash continues the redo instead of starting it
    again. Their run directories go too, so no earlier record is continued."""
    import shutil

    from optarena.train.record import git_state

    known = [v.name for v in suite.variants]
    unknown = [n for n in names if n not in known]
    if unknown:
        from optarena._text import did_you_mean

        raise ValueError(f"--redo {unknown[0]!r} is not an optimizer row of {suite.name}"
                         f"{did_you_mean(unknown[0], known)}; rows: {', '.join(known)}")
    here = short_code(git_state())
    if here is None:
        raise ValueError("--redo needs the code in a git checkout: it keeps the runs made at this commit")
    dropped = db.drop(names, keep_code=here)
    for r in dropped:
        run_dir = out / "runs" / Path(r["out_dir"]).name if r["out_dir"] else None
        if run_dir is not None and run_dir.is_dir():
            shutil.rmtree(run_dir)
    say(f"redo {', '.join(names)}: {len(dropped)} run(s) made at other commits forgotten; their cells run again "
        f"at {here}")


def open_results(out: Path) -> ResultsDB:
    """The results database of `out` for writing. An --out that is a file, or a results.db that SQLite
    cannot read (overwritten, truncated, not a database), is a ValueError naming the path: the
    cells it holds cannot be trusted, and the runner must not write over them."""
    existing = next(p for p in (out, *out.parents) if p.exists() or p == p.parent)
    if not existing.is_dir() and not (existing == out and out.suffix == ".db"):
        where = "is a file" if existing == out else f"is inside {existing}, which is a file"
        raise ValueError(f"--out {str(out)!r} {where}, not a results directory")
    try:
        return ResultsDB(out, create=True)
    except sqlite3.DatabaseError as e:
        raise ValueError(_unreadable(db_path(out), e)) from None


def _unreadable(path: Path, e: Exception) -> str:
    return (f"{path} is not a readable results database ({e}); move it away to start the suite afresh, "
            "or pass another --out")


def require_suite_mirrors(suite: Suite, mirrors: Mirrors | None) -> None:
    """A metrics mirror the suite's cells would write (``mirrors``, or the suite's [train]) whose package
    is missing is one ValueError before any cell runs, not a suite of failed cells."""
    from optarena.train import load_config
    from optarena.train.metrics import require_mirrors

    m, log = mirrors or Mirrors(), load_config(None, list(suite.train)).log
    require_mirrors(m.tensorboard or log.tensorboard, bool(m.wandb_project) or log.wandb)


def start_suite(db: ResultsDB, suite: Suite) -> None:
    """Write the suite's meta, or check that the database was made by the same suite settings."""
    meta, digest, data = db.meta(), settings_hash(suite), data_identity(suite.data)
    if "suite" in meta:
        if meta["suite"] != suite.name:
            raise ValueError(f"{db.path} holds suite {meta['suite']!r}, not {suite.name!r}; use another --out")
        moved = recentred(meta, suite) if meta.get("settings_hash") != digest else []
        if moved is None:
            raise ValueError(f"{db.path}: suite {suite.name!r} has changed since these results were made "
                             f"(training settings, data, optimizers or their LRs, or --smoke/--full); "
                             "use another --out, or remove the directory to start afresh")
        if moved:
            print(f"{suite.name}: the centre LR of {', '.join(moved)} moved: its search plans again around "
                  "the new centre and keeps the cells it has run (their LRs are in their keys)", file=sys.stderr,
                  flush=True)
        if meta.get("data_fingerprint", data) != data:
            raise ValueError(f"{db.path}: the data {suite.data!r} has changed since these results were made "
                             f"(its fingerprint was {meta['data_fingerprint'][:12]}, now {data[:12]}: "
                             "re-prepared or replaced shards); mixing the two would compare runs on "
                             "different text. Use another --out, or restore the data")
        # what older databases lack is recorded from now on: the data's fingerprint, variant_settings
        update = {"data_fingerprint": data, "settings_hash": digest, "variant_settings": variant_settings(suite)}
        if moved:  # re-centred: the suite as it now reads, and the moved rows' multipliers
            update.update(suite_toml=suite.text, suite_json=dumps(suite_summary(suite)))
            _recentre_lr_mults(db, [v for v in suite.variants if v.name in moved], suite.models)
        db.set_meta(update)
        return
    from optarena import __version__
    from optarena.train.record import git_state, now

    git = git_state(db.path.parent)  # a modified tree's diff: DIR/source.diff, its hash here
    db.set_meta({"suite": suite.name, "description": suite.description, "suite_toml": suite.text,
                 "suite_json": dumps(suite_summary(suite)), "mode": suite.mode, "settings_hash": digest,
                 "variant_settings": variant_settings(suite),
                 "data_fingerprint": data, "created_at": now(), "optarena_version": __version__,
                 "git_commit": git["commit"], "git_dirty": git["dirty"], "git_diff_sha256": git["diff_sha256"]})


def data_identity(spec: str) -> str:
    """What identifies a suite's data: the fingerprint of its shard directory (optarena.data.floors),
    or, for the synthetic source (generated from its spec), the spec itself."""
    from optarena.data import resolve_data
    from optarena.data.floors import data_fingerprint

    ds = resolve_data(spec)
    return f"synthetic:{ds.meta['source']}" if ds.kind == "synthetic" else data_fingerprint(ds.meta["dir"])


def suite_summary(suite: Suite) -> dict[str, Any]:
    """The resolved suite, as the report may want it (meta.suite_json)."""
    d = dataclasses.asdict(suite)
    d.pop("text")
    d["tuned"] = suite.tuned
    return d


def settings_hash(suite: Suite) -> str:
    """What decides a cell's result beyond its key: training settings, data, optimizer definitions.
    (Models, budgets, LR grid and seeds only add or remove cells.)"""
    return _digest(suite, centres=True)


def variant_settings(suite: Suite) -> str:
    """What :func:`recentred` compares: the digest of everything in :func:`settings_hash` but the rows' LR
    centres, and each row's name, centres and whether it scales hyperparameters with the LR (JSON)."""
    return dumps({"fixed": _digest(suite, centres=False),
                  "rows": [[v.name, v.lr, bool(v.scale)] for v in suite.variants]})


def _digest(suite: Suite, centres: bool) -> str:
    variants = [(v.name, v.optimizer, *((v.lr,) if centres else ()), v.opt, v.scale, *((v.train,) if v.train else ()))
                for v in suite.variants]
    text = dumps({"train": suite.train, "data": suite.data, "variants": variants, "mode": suite.mode})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def recentred(meta: dict[str, Any], suite: Suite) -> list[str] | None:
    """The rows whose centre LR is all that changed since the database's suite, or None if anything else
    did (or the database predates ``variant_settings``). A cell's key holds its LR, not its multiplier,
    so a cell at a given LR computes the same whatever the centre, unless the row scales hyperparameters
    with the multiplier (``scale``): such a row's centre may not move. Re-centring is for a search that
    ended at its grid's edge with no extension left."""
    if "variant_settings" not in meta:
        return None
    old, new = json.loads(meta["variant_settings"]), json.loads(variant_settings(suite))
    if old["fixed"] != new["fixed"] or [r[0] for r in old["rows"]] != [r[0] for r in new["rows"]]:
        return None
    moved = [n for (n, lr, scales), (_, was, _) in zip(new["rows"], old["rows"]) if lr != was]
    if not moved or any(scales for (n, _, scales) in new["rows"] if n in moved):
        return None
    return moved


def _recentre_lr_mults(db: ResultsDB, variants: list[Variant], models: tuple[str, ...]) -> None:
    """``runs.lr_mult`` of these rows' cells as multiples of their new centres (the LR, in the key, stays)."""
    with db.transaction() as c:
        for v in variants:
            for model in models:
                c.execute("UPDATE runs SET lr_mult = ROUND(lr / ?, 12) WHERE optimizer = ? AND model = ?",
                          (v.centre(model), v.name, model))


class _Runner:
    def __init__(self, suite: Suite, groups: list[Group], db: ResultsDB, out: Path, jobs: int, threads: int,
                 train_fn: TrainFn, keep: bool, progress: SuiteProgress, heartbeat_s: float, mirrors: Mirrors,
                 engine: EngineSpec | None = None) -> None:
        self.suite, self.groups, self.db, self.out, self.jobs = suite, groups, db, out, jobs
        self.mirrors, self.engine = mirrors, engine
        self.threads, self.train_fn, self.keep, self.progress = threads, train_fn, keep, progress
        self.heartbeat_s = heartbeat_s
        self.attempted: set[str] = set()  # failed cells count as done once this invocation ran them
        self.inflight: dict[cf.Future, tuple[Cell, int, int]] = {}  # future -> (cell, run id, slot)
        self.devices = [None] * jobs if engine else _job_devices(max(jobs, 1), suite)  # the engine places jobs
        self.needed: dict[str, Cell] = {}  # the cells of the last plan, by key
        self.ran = 0

    def run(self, orphans: list[dict[str, Any]] = ()) -> SuiteOutcome:
        """Run the suite to its end; `orphans`: rows a dead runner left on this runner's engine."""
        self.pool = self._new_pool()
        try:
            if orphans:
                self._plan()
                self._reattach(orphans)
            while True:
                todo, unsettled = self._plan()
                self._submit(todo)
                if not self.inflight:
                    break
                self._collect()
        except KeyboardInterrupt:
            if isinstance(self.pool, EnginePool):  # the jobs are the engine's: they go on, a rerun collects them
                ids = self.pool.jobs_in_flight()
                self.pool.shutdown(wait=False)
                self.progress.say(f"interrupted: {len(ids)} cell(s) go on as {self.engine.kind} job(s) "
                                  f"{', '.join(ids) or '-'}; run the same command again to collect them and "
                                  "resume (or cancel the jobs with the engine)")
                return self._summary(0, interrupted=True)
            self.db.release(cell.key for cell, _, _ in self.inflight.values())
            # A terminal's Ctrl-C reaches the workers too; a signal to the runner alone would leave
            # them training, and the interpreter's exit would wait for them.
            for worker in (getattr(self.pool, "_processes", None) or {}).values():
                worker.terminate()
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.progress.say("interrupted: run the same command again to resume")
            return self._summary(0, interrupted=True)
        self.pool.shutdown()
        if unsettled:
            self.progress.say(f"{unsettled} group(s) wait on cells running in another process")
        return self._summary(unsettled)

    # -- planning -----------------------------------------------------------------------------------
    def _plan(self) -> tuple[list[Cell], int]:
        rows = {r["cell"]: r for r in self.db.runs()}
        losses = {k: _loss(r) for k, r in rows.items()
                  if r["status"] in ("finished", "diverged") or (r["status"] == "failed" and k in self.attempted)}
        plans = [(g, plan_group(self.suite, g, losses)) for g in self.groups]
        self.db.set_choices(self._choice(g, p) for g, p in plans if p.settled)
        needed = [c for _, p in plans for c in p.cells]
        self.needed = {c.key: c for c in needed}
        self.db.add_pending(_row(self.suite, c, self.out) for c in needed if c.key not in rows)
        busy = {c.key for c, _, _ in self.inflight.values()}
        todo = [c for c in needed if c.key not in losses and c.key not in busy
                and rows.get(c.key, {}).get("status") != "running"]
        expected = [(p.cells, 0 if p.settled else self._to_come(g, p)) for g, p in plans]
        total = sum(len(cells) + more for cells, more in expected)
        remaining = sum((len([c for c in cells if c.key not in losses]) + more) * cells[0].group.cost
                        for cells, more in expected)
        self.progress.update(total, sum(len([c for c in cells if c.key in losses]) for cells, _ in expected),
                             remaining)
        unsettled = sum(not p.settled for _, p in plans)
        return sorted(todo, key=lambda c: (PHASE_ORDER[c.phase], -c.group.cost)), unsettled

    def _to_come(self, g: Group, p: GroupPlan) -> int:
        """Cells an unsettled group will add to its plan's (for the count and the ETA): its seeds at
        least, and the sweeps of its tuned hyperparameters not yet planned."""
        return max(self.suite.cells_per_group(g.variant) - len(p.cells), self.suite.seeds_of(g.variant) - 1)

    def _choice(self, g: Group, p: GroupPlan) -> dict[str, Any]:
        best_lr = None if p.best_mult is None else Cell(g, p.best_mult, 0, "sweep").lr
        source = "sweep" if self.suite.tuned else (self.suite.lr_table or "suite")
        return {"model": g.model, "optimizer": g.variant.name, "tokens": g.tokens, "data": g.data,
                "best_lr": best_lr, "at_edge": None if p.at_edge is None else int(p.at_edge),
                "n_lr_points": p.n_points, "best_val_loss": p.best_loss, "lr_source": source,
                "tuned_json": dumps(choice_sweeps(g, p)) if g.variant.tune else None}

    # -- running ------------------------------------------------------------------------------------
    def _reattach(self, rows: list[dict[str, Any]]) -> None:
        """Take over the cells a dead runner left on the engine: wait for each job still queued or
        running, or collect the result it left; a job gone without one makes its cell pending."""
        again = []
        for row in rows:
            cell = self.needed.get(row["cell"])
            future = self.pool.attach(row["engine_job"]) if cell is not None else None
            if future is None:
                again.append(row["cell"])
                continue
            self.db.adopt(cell.key)
            self.attempted.add(cell.key)
            used = {slot for _, _, slot in self.inflight.values()}
            self.inflight[future] = (cell, row["id"], next(s for s in range(len(used) + 1) if s not in used))
        if len(rows) > len(again):
            self.progress.say(f"{len(rows) - len(again)} cell(s) a runner that died left on the {self.engine.kind} "
                              "engine: reattached, waiting for them")
        self._run_again(again)

    def _run_again(self, cells: list[str]) -> None:
        """Cells whose engine job is gone without a result (not the cells' failure): pending again."""
        if not cells:
            return
        self.db.release(cells)
        self.attempted.difference_update(cells)
        self.progress.say(f"{len(cells)} cell(s) whose {self.engine.kind} job is gone without a result: "
                          "running them again")

    def _submit(self, todo: list[Cell]) -> None:
        free = [s for s in range(max(self.jobs, 1)) if s not in {slot for _, _, slot in self.inflight.values()}]
        for cell in todo:
            if not free:
                return
            run_id = self.db.claim(cell.key, _now())
            if run_id is None:  # another runner took it
                continue
            slot = free.pop(0)
            job = Job(cell, cell.overrides(self.suite, self.out, self.mirrors), self.threads, self.devices[slot],
                      self.keep)
            self.attempted.add(cell.key)
            try:
                future = self._start(job)
            except BaseException:  # an interrupt inside an inline job, a refused submission
                self.db.release([cell.key])
                raise
            self.inflight[future] = (cell, run_id, slot)
            if hasattr(future, "engine_job"):  # at once: a runner that dies next leaves the job findable
                self.db.set_engine_job(run_id, future.engine_job)

    def _start(self, job: Job) -> cf.Future:
        try:
            return self.pool.submit(self.train_fn, job)
        except BrokenProcessPool:  # a worker died since the last collection; this job never started
            self._replace_pool()
            return self.pool.submit(self.train_fn, job)

    def _collect(self) -> None:
        done, _ = cf.wait(list(self.inflight), timeout=self.heartbeat_s, return_when=cf.FIRST_COMPLETED)
        if not done:
            cells = [c for c, _, _ in self.inflight.values()]
            self.progress.heartbeat(cells, [c.out_dir(self.out) for c in cells])
            return
        lost = []
        for future in done:
            cell, run_id, _ = self.inflight.pop(future)
            if isinstance(future.exception(), EngineJobLost):  # reattached, then gone: not the cell's failure
                lost.append(cell.key)
                continue
            self._record(cell, run_id, _outcome(future))
        self._run_again(lost)
        if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
            self._replace_pool()

    def _replace_pool(self) -> None:
        """A worker died (killed, out of memory, a crash in native code): the pool fails every cell
        in flight, so they are recorded as failed (the next invocation retries them), and a new
        pool takes over."""
        for future in cf.wait(list(self.inflight))[0]:
            cell, run_id, _ = self.inflight.pop(future)
            self._record(cell, run_id, _outcome(future))
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._new_pool()

    def _record(self, cell: Cell, run_id: int, outcome: dict[str, Any]) -> None:
        outcome = {**outcome, "finished_at": _now()}
        if outcome.get("final_val_loss") is not None and not math.isfinite(outcome["final_val_loss"]):
            outcome["final_val_loss"] = None
        self.db.record(run_id, outcome, outcome.get("curves") or [])
        self.ran += 1
        others = [c for c, _, _ in self.inflight.values()]
        self.progress.finished(cell, outcome, [(c, c.out_dir(self.out)) for c in others])

    def _new_pool(self) -> cf.Executor:
        if self.engine is not None:
            return EnginePool(self.engine, engine_folder(self.out), self.threads)
        if self.jobs == 0:
            return _Inline()
        return cf.ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_init_worker, initargs=(os.getpid(),))

    def _summary(self, unsettled: int, interrupted: bool = False) -> SuiteOutcome:
        counts: dict[str, int] = {}
        for r in self.db.runs():
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return SuiteOutcome(counts, self.ran, unsettled, self.progress.elapsed(), interrupted)


def _outcome(future: cf.Future) -> dict[str, Any]:
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, EngineJobError):  # the engine's account: the job's traceback and log paths
        return {"status": "failed", "error": str(error)}
    if isinstance(error, BrokenProcessPool):
        return {"status": "failed", "error": "the worker process died (killed, out of memory, or a crash in "
                                             "native code) while this cell or another in flight ran"}
    # an injected trainer that raised instead of reporting "failed"
    return {"status": "failed", "error": "".join(traceback.format_exception(error))}


def _row(suite: Suite, cell: Cell, out: Path) -> dict[str, Any]:
    g = cell.group
    return {"cell": cell.key, "suite": suite.name, "model": g.model, "optimizer": g.variant.name,
            "optimizer_name": g.variant.optimizer, "opt_json": dumps(cell.hp()), "lr": cell.lr,
            "lr_mult": cell.lr_mult, "seed": cell.seed, "tokens": g.tokens, "data": g.data, "phase": cell.phase,
            "params_total": g.params_total, "loss_floor": g.loss_floor, "out_dir": str(cell.out_dir(out)),
            "tuned_json": dumps(dict(cell.tuned)) if cell.tuned else None}


def _loss(row: dict[str, Any]) -> float:
    return row["final_val_loss"] if row["status"] == "finished" and row["final_val_loss"] is not None else INF


def _job_devices(jobs: int, suite: Suite) -> list[str | None]:
    """cuda:i per job slot when there are several GPUs and the suite leaves the device to us."""
    if any(k in ("device", "run.device") for k, _ in suite.train):
        return [None] * jobs
    import torch

    n = torch.cuda.device_count()
    return [f"cuda:{i % n}" for i in range(jobs)] if n > 1 else [None] * jobs


def _init_worker(parent: int) -> None:
    """Exit when the runner does: an orphaned worker would go on writing into a cell's directory."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class _Inline(cf.Executor):
    """Runs each job at submit, in this process (jobs=0)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as e:
            future.set_exception(e)
        return future


def _now() -> str:
    from optarena.train.record import now

    return now()
