"""`train(cfg) -> RunResult`: one training run, from a config to a run directory.

Per step: one global batch (data.batch_tokens), split into micro-batches of data.micro_batch
sequences per rank; each micro-loss is divided by the number of micro-steps before backward, so
the accumulated gradient is that of the mean loss over the global batch, whatever the split. Then
global-norm gradient clipping (the pre-clip norm is logged), the optimizer step and the LR
schedule. A step's loss is averaged over ranks; it and the gradient norm drive the divergence rules
(divergence.py), checked before the optimizer step, which is then not taken; at each log point (and
the last step, before its evaluation) the weights after the step and the loss against ln V are checked
too. Divergence stops the run with status "diverged", its step and reason, and no exception, so a
suite goes on.

The run directory holds metrics.jsonl (metrics.py), run.json (record.py) and checkpoint.pt, or under
torchrun the sharded checkpoint/ that every rank writes its part of (checkpoint.py). `run.resume`
continues from the checkpoint: the result equals the uninterrupted run's, bit for bit on the CPU
(tests/train/test_resume.py).

Under torchrun (RANK / WORLD_SIZE set) the model is wrapped in DDP and each rank reads its slice of
every global batch; rank 0 alone writes files and draws progress.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.distributed.fsdp import FSDPModule
from torch.distributed.tensor import DTensor
from torch.nn.parallel import DistributedDataParallel as DDP

from optarena._proc import pid_alive
from optarena.data import ValidationSet, resolve_data

from . import checkpoint, distributed
from .build import build
from .config import TrainConfig
from .distributed import Dist, all_reduce_mean
from .divergence import DivergenceGuard
from .evaluate import evaluate
from .metrics import MetricsLog, make_mirrors, peak_memory_bytes, require_mirrors
from .plan import make_plan
from .progress import Progress
from .record import FILENAME as RECORD_FILENAME
from .record import RunRecord, environment, now


@dataclass(frozen=True)
class RunResult:
    out: Path
    status: str  # "finished" | "diverged"
    final_val_loss: float | None  # final evaluation set (log.final_eval_tokens), nats/token; None unless finished
    diverged_at_step: int | None
    steps: int
    tokens: int
    history: list[dict[str, Any]] = field(repr=False)  # the metrics.jsonl entries
    diverged_reason: str | None = None  # which rule of divergence.py stopped the run


def train(cfg: TrainConfig) -> RunResult:
    dist = distributed.init(cfg.run.device, cfg.run.dist_timeout_s)
    try:
        result = Trainer(cfg, dist).run()
        distributed.barrier(dist)  # not on an exception: a failed rank's peers must not wait for it
        return result
    finally:
        distributed.close(dist)


class Trainer:
    def __init__(self, cfg: TrainConfig, dist: Dist) -> None:
        self.cfg, self.dist, self.out = cfg, dist, Path(cfg.run.out)
        ckpt = checkpoint.find(self.out)
        resuming = cfg.run.resume and ckpt is not None
        _check_out_dir(self.out, cfg.run.resume, dist)
        require_mirrors(cfg.log.tensorboard, cfg.log.wandb)
        self.data = resolve_data(cfg.data.source)
        self.plan = make_plan(cfg, self.data.vocab_size, dist.world_size)
        self.parts = build(cfg, self.plan, self.data, dist)
        self.step, self.history, self.elapsed0 = 0, [], 0.0
        self.guard = DivergenceGuard(uniform_loss=math.log(self.plan.model.vocab_size))
        self.diverged_reason: str | None = None
        if resuming:
            self._restore(ckpt)
        mirrors = []
        if dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            _remove_stale_temporaries(self.out)
            checkpoint.remove_unfinished(self.out)
            mirrors = make_mirrors(self.out, cfg.log, cfg.to_dict())
        self.metrics = MetricsLog(self.out, self.history, mirrors, enabled=dist.is_main)
        self.record = RunRecord(self.out, self._record_fields(resuming), enabled=dist.is_main)
        self.progress = Progress(cfg.log.progress, self.plan.total_steps, self.step, enabled=dist.is_main)
        self.max_norm = cfg.optim.grad_clip or math.inf  # inf: norm measured, gradients untouched
        self.t0 = time.perf_counter()

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        self.record.update(status="running")
        try:
            with _signals_raise():
                status = self._loop() if self.step < self.plan.total_steps else "finished"
        except BaseException as e:
            try:  # a full or read-only disk may refuse this too; the original error is what matters
                self.record.update(status="failed", error=f"{type(e).__name__}: {e}", steps=self.step)
            except OSError:
                pass
            raise
        finally:
            self.metrics.close()
            self.progress.close()
        return self._finish(status)

    def _loop(self) -> str:
        T, log = self.plan.total_steps, self.cfg.log
        meter = _Meter()
        while self.step < T:
            with meter.timing():
                loss, grad_norm, lr, reason = self._train_step()
            self.step += 1
            meter.tokens += self.plan.batch_tokens
            self.progress.step()
            point = self.step == T or _every(self.step, log.log_every)
            if reason is None and point:  # before a final evaluation would score broken weights
                reason = self.guard.check_point(loss, self._largest_weight())
            evals = reason is None and (self.step == T or _every(self.step, log.eval_every))
            if reason or evals or point:
                self._log(loss, grad_norm, lr, meter, evals)
            if reason:
                self.diverged_reason = reason
                self.progress.message(f"diverged at step {self.step}: {reason} (loss {loss:.4g})")
                return "diverged"
            if self.step == T or _every(self.step, log.checkpoint_every):
                self._save()
        return "finished"

    def _train_step(self) -> tuple[float, float, float, str | None]:
        """One optimizer step; returns (mean loss over the global batch, pre-clip grad norm, LR, the
        divergence rule it trips or None). A step that trips one is not taken."""
        p, plan, device = self.parts, self.plan, self.dist.device
        x_BT, y_BT = next(p.loader)  # this rank's share of the global batch
        micro = list(zip(x_BT.split(plan.micro_batch), y_BT.split(plan.micro_batch)))
        loss_sum = torch.zeros((), device=device)
        for i, (x_bT, y_bT) in enumerate(micro):
            # DDP all-reduces gradients on the last micro-step only.
            last = i == len(micro) - 1
            ddp_wait = isinstance(p.train_model, DDP) and not last
            if isinstance(p.model, FSDPModule):  # FSDP2: reduce-scatter on the last micro-step only
                p.model.set_requires_gradient_sync(last)
            with p.train_model.no_sync() if ddp_wait else contextlib.nullcontext():
                with p.autocast():
                    loss = p.train_model(x_bT.to(device), y_bT.to(device))
                (loss / plan.accum_steps).backward()
            loss_sum += loss.detach()
        grad_norm = _scalar(torch.nn.utils.clip_grad_norm_(p.model.parameters(), self.max_norm))
        lr = self.cfg.optim.lr * p.scheduler.lr_lambdas[0](p.scheduler.last_epoch)  # peak LR x s(t)
        loss_mean = all_reduce_mean(loss_sum / plan.accum_steps, self.dist).item()
        reason = self.guard.check(loss_mean, grad_norm)
        if reason is None:
            p.optimizer.step()
            p.scheduler.step()
        p.optimizer.zero_grad(set_to_none=True)
        return loss_mean, grad_norm, lr, reason

    def _largest_weight(self) -> float:
        """max |w| over the model: non-finite exactly when a weight is (an L2 norm would overflow
        to inf for finite ±1e30 weights); one reduction per tensor and one host sync."""
        norms = torch._foreach_norm([p.detach() for p in self.parts.model.parameters()], ord=math.inf)
        return torch.stack([_full(n).float() for n in norms]).max().item()

    def _log(self, loss: float, grad_norm: float, lr: float, meter: _Meter, evals: bool) -> None:
        entry = {"step": self.step, "tokens": self.step * self.plan.batch_tokens, "train_loss": loss,
                 "lr": lr, "grad_norm": grad_norm, "tokens_per_s": meter.rate(),
                 "elapsed_s": self._elapsed(), "peak_mem_bytes": peak_memory_bytes(self.dist.device)}
        if evals:
            # The curve scores the prefix at every point, so its points compare; the last step also
            # scores the final evaluation set (the whole validation set, or its final_eval_tokens
            # prefix), the run's final loss (once, when the curve's prefix covers it).
            prefix, full = self.parts.val_prefix, self.parts.val_full
            last = self.step == self.plan.total_steps
            val = full if last and prefix.num_tokens >= full.num_tokens else prefix
            loss = self._evaluate(val)
            entry.update(val_loss=loss, val_tokens=val.num_tokens)
            self.progress.message(f"step {self.step}: val_loss {loss:.4f} ({val.num_tokens:,} tokens)")
            if last:
                final = loss if val is full else self._evaluate(full)
                entry.update(final_val_loss=final, final_val_tokens=full.num_tokens)
                if val is not full:
                    self.progress.message(f"step {self.step}: final evaluation {final:.4f} "
                                          f"({full.num_tokens:,} tokens)")
        self.metrics.write(entry)
        self.progress.log(entry)

    def _evaluate(self, val: ValidationSet) -> float:
        return evaluate(self.parts.eval_model, val, self.dist, self.parts.autocast)

    def _elapsed(self) -> float:
        return self.elapsed0 + time.perf_counter() - self.t0

    # -- checkpoints and the record -----------------------------------------------------------------
    def _save(self) -> None:
        p = self.parts
        trainer_state = {
            "step": self.step, "config": self.cfg.to_dict(), "scheduler": p.scheduler.state_dict(),
            "loader": p.loader.state_dict(), "rng": checkpoint.rng_state(),
            "divergence": self.guard.state_dict(), "elapsed_s": self._elapsed(), "history": self.history,
        }
        if self.dist.enabled:  # every rank writes its own shards (DCP); nothing is gathered
            trainer_state |= {"parallel": self._parallel(), "world_size": self.dist.world_size}
            checkpoint.save_sharded(self.out, p.model, p.optimizer, trainer_state, self.dist.is_main,
                                    lambda: distributed.barrier(self.dist))
        elif self.dist.is_main:
            checkpoint.save(checkpoint.path_in(self.out), {
                **trainer_state, "model": p.model.state_dict(), "optimizer": p.optimizer.state_dict()})
        if self.dist.is_main:
            self.record.update(steps=self.step, tokens=self.step * self.plan.batch_tokens, elapsed_s=self._elapsed())

    def _parallel(self) -> str:
        return "fsdp" if isinstance(self.parts.model, FSDPModule) else "ddp"

    def _restore(self, path: Path) -> None:
        p = self.parts
        sharded = checkpoint.is_sharded(path)
        if sharded != self.dist.enabled:
            saved = "by several ranks (torchrun)" if sharded else "by one process"
            raise ValueError(f"cannot resume {path}: it was saved {saved}, this run has {self.dist.world_size} "
                             "process(es): resume it as it ran")
        state = (checkpoint.load_trainer_state if sharded else checkpoint.load)(path, self.dist.device)
        checkpoint.check_same_experiment(state["config"], self.cfg.to_dict(), path)
        if sharded:
            saved = (state.get("parallel"), state.get("world_size"))
            if saved != (self._parallel(), self.dist.world_size):
                raise ValueError(f"cannot resume {path}: saved with run.parallel {saved[0]!r} on {saved[1]} ranks, "
                                 f"this run is {self._parallel()!r} on {self.dist.world_size}: resume with the "
                                 "run.parallel and world size it ran with")
            checkpoint.load_sharded(path, p.model, p.optimizer)
        else:
            p.model.load_state_dict(state["model"])
            p.optimizer.load_state_dict(state["optimizer"])
        p.scheduler.load_state_dict(state["scheduler"])
        p.loader.load_state_dict(state["loader"])
        checkpoint.set_rng_state(state["rng"])
        self.step, self.history = state["step"], list(state["history"])
        self.elapsed0 = state["elapsed_s"]
        # checkpoints from before the parameter and ln V rules hold the reference loss alone
        self.guard.load_state_dict(state.get("divergence") or {"initial_loss": state["initial_loss"]})

    def _record_fields(self, resuming: bool) -> dict[str, Any]:
        previous = _read_json(self.out / RECORD_FILENAME) if resuming else {}
        resumes = previous.get("resumes", []) + ([{"step": self.step, "at": now()}] if resuming else [])
        return {
            "status": "running", "final_val_loss": None, "diverged_at_step": None,
            "steps": self.step, "tokens": self.step * self.plan.batch_tokens,
            "config": self.cfg.to_dict(), "plan": self.plan.to_dict(),
            "data": {"kind": self.data.kind, **self.data.meta},
            **environment(self.dist.world_size, self.out if self.dist.is_main else None),
            "started_at": previous.get("started_at", now()), "resumes": resumes,
        }

    def _finish(self, status: str) -> RunResult:
        last = self.history[-1] if self.history else {}
        # checkpoints from before final_val_loss was logged carry the whole-set loss as val_loss
        final = last.get("final_val_loss", last.get("val_loss")) if status == "finished" else None
        diverged_at = self.step if status == "diverged" else None
        tokens = self.step * self.plan.batch_tokens
        self.record.update(status=status, final_val_loss=final, diverged_at_step=diverged_at,
                           diverged_loss=last.get("train_loss") if diverged_at else None,
                           diverged_reason=self.diverged_reason,
                           steps=self.step, tokens=tokens, elapsed_s=self._elapsed(), finished_at=now())
        if final is not None:
            self.progress.message(f"finished: final val_loss {final:.4f} after {self.step} steps, {tokens:,} tokens")
        return RunResult(self.out, status, final, diverged_at, self.step, tokens, list(self.history),
                         self.diverged_reason)


class _Meter:
    """Training throughput between log entries, evaluation and checkpoint time excluded."""

    def __init__(self) -> None:
        self.tokens, self.seconds = 0, 0.0

    @contextlib.contextmanager
    def timing(self):
        t = time.perf_counter()
        yield
        self.seconds += time.perf_counter() - t

    def rate(self) -> float:
        rate = self.tokens / self.seconds if self.seconds > 0 else 0.0
        self.tokens, self.seconds = 0, 0.0
        return rate


def _every(step: int, k: int) -> bool:
    return k > 0 and step % k == 0


class Terminated(BaseException):
    """SIGTERM or SIGHUP during a run (a timeout, `kill`, `scancel`, a torchrun teardown): raised in the
    main thread so the run is recorded as failed, with the signal, like Ctrl-C, instead of being left
    "running" by the default action, which ends the process at once."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def _signals_raise():
    """SIGTERM and SIGHUP raise Terminated inside the block (main thread only: elsewhere Python cannot
    install handlers, and the defaults stay)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]

    def handler(signum, frame):
        raise Terminated(signum)

    previous = {name: signal.signal(getattr(signal, name), handler) for name in names}
    try:
        yield
    finally:
        for name, old in previous.items():
            signal.signal(getattr(signal, name), old)


def _remove_stale_temporaries(out: Path) -> None:
    """Delete checkpoint temporaries (`.checkpoint.pt.<pid>.tmp`) that a killed process left behind;
    a live process's own is kept."""
    for tmp in out.glob(".*.*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _check_out_dir(out: Path, resume: bool, dist: Dist) -> None:
    """Refuse to overwrite a finished or running run unless resuming. Rank 0 looks; all ranks obey."""
    taken = dist.is_main and not resume and (out / RECORD_FILENAME).exists()
    if distributed.broadcast_flag(taken, dist):
        raise ValueError(f"{out} already holds a run ({RECORD_FILENAME}); pass --resume to continue it "
                         "or choose another run.out")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _full(t: torch.Tensor) -> torch.Tensor:
    """A DTensor's whole value (FSDP2: a norm over a sharded tensor is a partial one per rank)."""
    return t.full_tensor() if isinstance(t, DTensor) else t


def _scalar(t: torch.Tensor) -> float:
    return _full(t).item()
