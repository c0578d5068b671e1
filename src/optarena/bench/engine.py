"""A suite's cells on a cluster: each cell one job of an engine, the driver alone writes results.db.

`optarena bench SUITE --executor slurm` sends every cell to SLURM through submitit (the job
scheduler most research clusters run, and the submitter most of their users already have);
`--executor local` sends them to submitit's local executor, the same machinery on this machine
(one detached process per cell: the tests' twin of a cluster, and a way to keep cells running
while the driver is away). The default, `--executor process`, is the runner's own worker pool.

What runs where:

- The driver (`optarena bench`) plans the cells, claims each in the database, submits it, and
  records what comes back. It is the only writer of DIR/results.db: SQLite over a shared
  filesystem from many nodes is not safe, so a job returns its outcome (the worker's dict, curves
  included) through submitit's result file and never opens the database.
- A job trains one cell (`optarena.bench.worker.run_cell`) into the cell's directory under DIR,
  which must therefore be on a filesystem the nodes share. A cell with ``gpus_per_cell`` > 1 is
  one multi-GPU run: one task per GPU on one node, each task a rank of the torchrun-style world
  that submitit's environment describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), so the
  trainer's DDP/FSDP2 paths run as they do under torchrun; rank 0's outcome is the cell's.
- Job files (pickles, logs, submission scripts) go to DIR/engine/.

What survives what:

- Each submitted cell's engine job (engine, job id, tasks, folder) is stored in its row
  (`runs.engine_job`) as soon as it is submitted. A driver that dies (killed, logged out, the
  login node rebooted) leaves those cells "running"; the next invocation on the same host sees
  the dead driver and reattaches to each job that is still queued or running, or has left its
  result, and records it when it ends: nothing is trained twice and nothing finished is lost.
  A job that is gone without a result (cancelled, killed, its node lost) makes the cell pending
  again, and it is rerun. Ctrl-C in the driver leaves the engine's jobs running (they are the
  cluster's, not the terminal's); rerun the same command to collect them, or cancel them with the
  engine (`scancel`). (A terminal's Ctrl-C does reach the local executor's jobs, which are
  processes of the same terminal: those cells are rerun.)
- A job that fails (an exception outside the trainer, a node failure, the time limit) is a
  "failed" cell with the engine's message, retried by the next invocation, which resumes it from
  its checkpoint (`run.resume`). A job the scheduler preempts or times out is requeued by
  submitit (the callable is a `submitit.helpers.Checkpointable`) and resumes from its checkpoint
  too, up to submitit's limit of timeouts.

Needs `submitit` (the `cluster` extra); the core install does not.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import socket
import threading
from pathlib import Path
from typing import Any, Callable

from optarena._proc import pid_alive

KINDS = ("process", "local", "slurm")
ENGINE_DIR = "engine"


@dataclasses.dataclass(frozen=True)
class EngineSpec:
    """Where and how each cell runs as an engine job. ``kind``: "local" or "slurm"."""

    kind: str
    partition: str | None = None  # slurm partition
    gpus_per_cell: int = 0  # 0: a CPU cell; > 1: one multi-GPU run, a task per GPU
    cpus_per_cell: int | None = None  # cores per task (default: --threads)
    time_limit_min: int = 24 * 60  # the engine kills a job after this
    mem_gb: float | None = None
    slurm: tuple[tuple[str, str], ...] = ()  # more sbatch options (--slurm KEY=VALUE)
    poll_s: float = 2.0  # how often the driver looks at its jobs

    def __post_init__(self) -> None:
        if self.kind not in KINDS[1:]:
            raise ValueError(f"executor {self.kind!r}: one of {', '.join(KINDS)}")
        if self.gpus_per_cell < 0 or (self.cpus_per_cell is not None and self.cpus_per_cell < 1):
            raise ValueError("--gpus-per-cell must be >= 0 and --cpus-per-cell >= 1")
        if self.time_limit_min < 1:
            raise ValueError(f"--time-limit must be at least 1 minute, got {self.time_limit_min}")
        if self.kind == "local" and (self.partition or self.slurm):
            raise ValueError("--partition and --slurm are options of --executor slurm")

    @property
    def tasks(self) -> int:
        return max(1, self.gpus_per_cell)


def require_submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise ValueError("--executor local|slurm needs submitit: pip install 'optarena[cluster]'") from None
    return submitit


class EngineCell:
    """The callable a job runs: the cell's trainer (a `Checkpointable`, so a preempted or timed-out
    job is requeued with the same arguments and resumes the cell from its checkpoint)."""

    def __init__(self, train_fn: Callable[[Any], dict[str, Any]]) -> None:
        self.train_fn = train_fn

    def __call__(self, job: Any) -> dict[str, Any]:
        import submitit

        env = submitit.JobEnvironment()
        if env.num_tasks > 1:  # one rank of a multi-GPU cell; the trainer joins the world from these
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        return self.train_fn(job)


def _checkpointable() -> type:
    """EngineCell as a submitit Checkpointable (a subclass made here: submitit is an optional import)."""
    submitit = require_submitit()
    return type("CheckpointableCell", (EngineCell, submitit.helpers.Checkpointable), {"__module__": __name__})


class EnginePool(cf.Executor):
    """A concurrent.futures executor over an engine: `submit(train_fn, job)` submits one job and
    returns a Future that a watcher thread completes with the job's outcome (or the engine's error).
    Each future carries `engine_job`, the JSON the database keeps to reattach to it (:meth:`attach`)."""

    def __init__(self, spec: EngineSpec, folder: Path, threads: int = 1) -> None:
        submitit = require_submitit()
        self.spec, self.folder = spec, Path(folder)
        try:
            self.executor = submitit.AutoExecutor(folder=self.folder, cluster=spec.kind)
        except RuntimeError as e:  # submitit: 'Could not detect "srun", are you indeed on a slurm cluster?'
            raise ValueError(f"--executor {spec.kind}: {e}") from None
        params: dict[str, Any] = {"name": "optarena", "timeout_min": spec.time_limit_min, "nodes": 1,
                                  "tasks_per_node": spec.tasks, "cpus_per_task": spec.cpus_per_cell or threads}
        if spec.gpus_per_cell:
            params["gpus_per_node"] = spec.gpus_per_cell
        if spec.mem_gb is not None:
            params["mem_gb"] = spec.mem_gb
        if spec.kind == "slurm":
            if spec.partition:
                params["slurm_partition"] = spec.partition
            if spec.slurm:
                params["slurm_additional_parameters"] = dict(spec.slurm)
        self.executor.update_parameters(**params)
        self.cell_class = _checkpointable()
        self._watched: dict[cf.Future, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="optarena-engine", daemon=True)
        self._thread.start()

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        (job,) = args
        try:
            sjob = self.executor.submit(self.cell_class(fn), job)
        except Exception as e:  # sbatch refused it (a bad partition, an option, no slurm here), ...
            raise ValueError(f"the {self.spec.kind} engine did not take the job: {type(e).__name__}: {e}") from None
        return self._track(sjob, submitted=True)

    def attach(self, engine_job: str) -> cf.Future | None:
        """A Future for the job that `engine_job` describes (left by a driver that died), or None when
        that job is gone without a result (the cell must run again)."""
        d = json.loads(engine_job)
        if d.get("engine") != self.spec.kind:
            return None
        submitit = require_submitit()
        cls = submitit.LocalJob if d["engine"] == "local" else submitit.SlurmJob
        sjob = cls(folder=d["folder"], job_id=d["job_id"], tasks=list(range(d.get("tasks", 1))))
        if _has_result(sjob):
            return self._track(sjob, submitted=False)
        if d["engine"] == "local":
            alive = pid_alive(int(d["job_id"]))
        else:
            alive = sjob.state.upper() in ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING",
                                           "RESIZING", "SUSPENDED", "UNKNOWN")
        return self._track(sjob, submitted=False) if alive else None

    def cancel_all(self) -> None:
        """Cancel every job this pool still watches (used by nothing automatic: Ctrl-C leaves them)."""
        with self._lock:
            jobs = list(self._watched.values())
        for sjob in jobs:
            sjob.cancel(check=False)

    def jobs_in_flight(self) -> list[str]:
        with self._lock:
            return [sjob.job_id for sjob in self._watched.values()]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._stop.set()
        if wait:
            self._thread.join()

    # -- watching -----------------------------------------------------------------------------------
    def _track(self, sjob: Any, submitted: bool) -> cf.Future:
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        future.engine_job = json.dumps({"engine": self.spec.kind, "job_id": str(sjob.job_id),  # type: ignore[attr-defined]
                                        "tasks": self.spec.tasks if submitted else len(sjob._tasks),
                                        "folder": str(sjob.paths.folder), "submitted_from": socket.gethostname()})
        sjob.optarena_reattached = not submitted
        with self._lock:
            self._watched[future] = sjob
        return future

    def _watch(self) -> None:
        while not self._stop.wait(self.spec.poll_s):
            with self._lock:
                items = list(self._watched.items())
            for future, sjob in items:
                if not _done(sjob):
                    continue
                with self._lock:
                    self._watched.pop(future, None)
                if sjob.optarena_reattached and not _has_result(sjob):
                    # Taken over from a dead driver and ended with nothing: most likely killed with it
                    # (the same terminal or node). Not the cell's fault: it runs again.
                    future.set_exception(EngineJobLost(f"{self.spec.kind} job {sjob.job_id} ended without a result"))
                    continue
                try:
                    future.set_result(sjob.results()[0])  # a multi-GPU cell: rank 0's outcome
                except Exception as e:  # the engine's FailedJobError / UncompletedJobError
                    future.set_exception(EngineJobError(f"{self.spec.kind} job {sjob.job_id}: {e}"))


class EngineJobError(RuntimeError):
    """A job that ended without an outcome (its exception, or the engine's account of it)."""


class EngineJobLost(EngineJobError):
    """A job reattached from a dead driver that ended without leaving a result: its cell runs again."""


def _has_result(sjob: Any) -> bool:
    return all(p.result_pickle.exists() for p in _task_paths(sjob))


def _task_paths(sjob: Any) -> list[Any]:
    return [s.paths for s in sjob._sub_jobs] if sjob._sub_jobs else [sjob.paths]


def _done(sjob: Any) -> bool:
    """Whether a job has ended. A local job this driver did not start has no process handle (submitit
    would call it done at once): it is done when it has left its result or its controller is gone."""
    if sjob.optarena_reattached and getattr(sjob, "_process", "n/a") is None:  # a reattached LocalJob
        return _has_result(sjob) or not pid_alive(int(sjob.job_id))
    return sjob.done()


def engine_folder(out: Path) -> Path:
    return Path(out) / ENGINE_DIR
