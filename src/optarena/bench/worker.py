"""One cell in a worker process: `run_cell(job) -> outcome`, the dict that becomes its results row.

The trainer's `RunResult` and run.json carry the loss, steps and history; the optimizer's memory
and step time they do not, so they are measured here through torch's global optimizer-step hooks
(`torch.optim.optimizer.register_optimizer_step_{pre,post}_hook`), which see the trainer's optimizer
without the trainer knowing:

    opt_state_bytes  bytes the optimizer's `state` holds after the run (each storage once:
                     optarena._torch.tensor_bytes, as `optarena perf optim` counts it)
    opt_step_s       mean wall time of `optimizer.step()`, steps after the first (the first
                     allocates the state); on CUDA the hooks synchronize, so it is device time

Stability: the number and size of loss spikes and the spread of the gradient norm after the warmup
(optarena.train.stability), for the papers' stability claims.

The data's reference floors (optarena.data.floors: unigram and bigram count models of the training
split) are scored on the validation targets the run's final loss scored (its metrics' last
`final_val_tokens`), so the two compare, and again on the prefix the curve scores (`val_tokens`,
for the curve plots); a shard directory caches them in its floors.json. A run
without a final loss (diverged) gets none, and one whose floors fail gets NULLs and a warning: the
floors annotate a result and must not cost it.

An exception becomes status "failed" with its traceback: the suite goes on. A diverged run is an
ordinary outcome. The run's checkpoint is deleted once recorded (a suite of 134M-parameter runs
would otherwise keep ~1.5 GB per cell) unless the job says to keep it.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cells import Cell

CURVE_KEYS = ("step", "tokens", "train_loss", "val_loss", "lr")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    cell: Cell
    overrides: list[tuple[str, Any]]  # TrainConfig overrides (cells.Cell.overrides)
    threads: int = 1  # torch threads in the worker (CPU: one per job, the cores shared by --jobs)
    device: str | None = None  # replaces run.device, e.g. "cuda:1" for the second job on a GPU box
    keep_checkpoint: bool = False


def run_cell(job: Job) -> dict[str, Any]:
    """Train one cell; never raises for a failing run (the outcome says "failed")."""
    import torch

    torch.set_num_threads(job.threads)
    t0 = time.perf_counter()
    try:
        outcome = _train(job)
    except Exception:
        outcome = {"status": "failed", "error": traceback.format_exc(), "curves": []}
    outcome["wall_s"] = time.perf_counter() - t0
    return outcome


def _train(job: Job) -> dict[str, Any]:
    from optarena.data import resolve_data
    from optarena.model import count_params, flops_per_token
    from optarena.train import load_config, make_plan, train
    from optarena.train.checkpoint import remove as remove_checkpoint

    overrides = job.overrides + ([("run.device", job.device)] if job.device else [])
    cfg = load_config(None, overrides)
    data = resolve_data(cfg.data.source)
    plan = make_plan(cfg, data.vocab_size)
    with StepProbe() as probe:
        result = train(cfg)
    counts = count_params(plan.model)
    out = Path(result.out)
    if not job.keep_checkpoint:
        remove_checkpoint(out)
    val_tokens = final_val_tokens(result.history)
    return {
        "status": result.status, "final_val_loss": result.final_val_loss,
        "diverged_at_step": result.diverged_at_step, "steps": result.steps,
        "tokens_per_s": mean_throughput(result.history), "opt_state_bytes": probe.state_bytes(),
        "opt_step_s": probe.mean_step_s(), "params_total": counts.total, "params_non_embedding": counts.non_embedding,
        "flops_per_token": float(flops_per_token(plan.model, plan.seq_len)),
        "loss_floor": data.meta.get("loss_floor"), "config_json": json.dumps(cfg.to_dict(), default=str),
        "record_json": _read(out / "run.json"), "peak_mem_bytes": _peak(result.history),
        "final_val_tokens": val_tokens, **floor_columns(data, cfg.data.source, val_tokens),
        **_curve_floor_columns(data, cfg.data.source, result.history, val_tokens),
        **_stability_columns(result.history, plan.warmup_steps),
        "curves": [{k: e.get(k) for k in CURVE_KEYS} for e in result.history],
    }  # fmt: skip


def final_val_tokens(history: list[dict[str, Any]]) -> int | None:
    """Validation targets the final loss scored: the last metrics entry that has one says."""
    return next((e["final_val_tokens"] for e in reversed(history) if e.get("final_val_tokens")), None)


def floor_columns(data: Any, spec: str, val_tokens: int | None) -> dict[str, float | None]:
    """unigram_floor and bigram_floor of `data` on its first `val_tokens` validation targets; NULLs
    without a final loss, and NULLs with a warning when they cannot be computed."""
    from optarena.data.floors import reference_floors

    if val_tokens is None:
        return {"unigram_floor": None, "bigram_floor": None}
    try:
        floors = reference_floors(data, val_tokens)
    except Exception as err:  # the floors annotate the result: losing them must not lose the run
        log.warning("reference floors of data %r on %d validation tokens failed, recorded as NULL: %s: %s",
                    spec, val_tokens, type(err).__name__, err)
        return {"unigram_floor": None, "bigram_floor": None}
    return {"unigram_floor": floors["unigram"], "bigram_floor": floors["bigram"]}


def curve_val_tokens(history: list[dict[str, Any]]) -> int | None:
    """Validation targets each point of the curve scored (the eval prefix): the last entry with one."""
    return next((e["val_tokens"] for e in reversed(history) if e.get("val_tokens")), None)


def _curve_floor_columns(data: Any, spec: str, history: list[dict[str, Any]], final_tokens: int | None) -> dict:
    """The floors on the curve's prefix, for the curve plots (the final set's when they agree)."""
    tokens = curve_val_tokens(history) if final_tokens is not None else None
    floors = floor_columns(data, spec, tokens)
    return {"curve_val_tokens": tokens, "curve_unigram_floor": floors["unigram_floor"],
            "curve_bigram_floor": floors["bigram_floor"]}


def _stability_columns(history: list[dict[str, Any]], warmup_steps: int) -> dict[str, Any]:
    """Loss spikes and gradient-norm spread after the warmup (optarena.train.stability)."""
    from optarena.train.stability import stability

    s = stability(history, warmup_steps)
    return {k: s[k] for k in ("spikes", "max_spike", "grad_norm_cv", "grad_norm_p99_median")}


def mean_throughput(history: list[dict[str, Any]]) -> float | None:
    """Training tokens / training seconds over the run: each log entry's rate covers the tokens
    since the previous entry, so the mean is weighted by them (a harmonic mean)."""
    tokens = seconds = 0.0
    previous = 0
    for e in history:
        rate, n = e.get("tokens_per_s"), e["tokens"] - previous
        previous = e["tokens"]
        if rate and n > 0:
            tokens, seconds = tokens + n, seconds + n / rate
    return tokens / seconds if seconds else None


class StepProbe:
    """Global optimizer-step hooks: the outermost optimizer stepping, its step times, its state."""

    def __init__(self) -> None:
        self.optimizers: dict[int, Any] = {}
        self.times: list[float] = []
        self.depth, self.t0 = 0, 0.0

    def __enter__(self) -> StepProbe:
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

        self.handles = [register_optimizer_step_pre_hook(self._pre), register_optimizer_step_post_hook(self._post)]
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self.handles:
            h.remove()

    def _pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.depth += 1  # an optimizer may step inner ones: time the outermost only
        if self.depth == 1:
            self.optimizers[id(optimizer)] = optimizer
            _sync(optimizer)
            self.t0 = time.perf_counter()

    def _post(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.depth -= 1
        if self.depth == 0:
            _sync(optimizer)
            self.times.append(time.perf_counter() - self.t0)

    def mean_step_s(self) -> float | None:
        later = self.times[1:]
        return sum(later) / len(later) if later else None

    def state_bytes(self) -> int | None:
        if not self.optimizers:
            return None
        from optarena._torch import tensor_bytes

        return tensor_bytes([opt.state for opt in self.optimizers.values()])


def _sync(optimizer: Any) -> None:
    import torch

    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.is_cuda:
                torch.cuda.synchronize(p.device)
            return


def _peak(history: list[dict[str, Any]]) -> int | None:
    peaks = [e["peak_mem_bytes"] for e in history if e.get("peak_mem_bytes") is not None]
    return max(peaks) if peaks else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None
