"""The perf benchmarks' outputs: a plain table for stdout, a Markdown one for docs, a JSON record.

Each output carries what is needed to reproduce and read it: the command, versions,
hardware, torch's thread count, the date, and the run's own context (reference, bandwidth, notes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from optarena.perf.optim_bench import OptimBench
from optarena.perf.train_bench import TrainBench
from optarena.train.record import environment, now, write_json

OPTIM_COLUMNS = ("optimizer", "implementation", "step ms", "x AdamW", "state MB", "x state", "x floor",
                 "first step s", "note")
TRAIN_COLUMNS = ("model", "step ms", "tokens/s", "x ours", "MFU", "peak MB", "note")


def optim_table(bench: OptimBench, markdown: bool = False) -> str:
    rows = [(r.name, r.impl, _num(r.step_ms, 1), _num(r.ratio, 2), _num(r.state_mb, 1), _num(r.state_ratio, 2),
             _num(r.floor_ratio, 1), "" if r.first_step_s is None else f"{r.first_step_s:.1f}", r.note)
            for r in bench.rows]
    return table(OPTIM_COLUMNS, rows, markdown)


def optim_context(bench: OptimBench) -> list[str]:
    cfg = bench.config
    return [f"model {cfg.model} ({bench.num_params:,} parameters), device {bench.device}, "
            f"torch threads {torch.get_num_threads()}, best of {cfg.rounds} interleaved rounds, {cfg.clock} clock",
            f"reference: {bench.reference}; copy bandwidth {bench.copy_gbps:.1f} GB/s", *bench.notes]


def train_table(bench: TrainBench, markdown: bool = False) -> str:
    rows = [(r.name, _num(r.step_ms, 1), _num(r.tokens_per_s, 0), _num(r.ratio, 2),
             "n/a" if r.mfu is None else f"{100 * r.mfu:.1f}%", _num(r.peak_mb, 0), r.note) for r in bench.rows]
    return table(TRAIN_COLUMNS, rows, markdown)


def train_context(bench: TrainBench) -> list[str]:
    cfg = bench.config
    peak = "n/a (pass --peak-flops)" if bench.peak_flops is None else f"{bench.peak_flops:.3g} FLOP/s"
    return [f"model {cfg.model}, batch {cfg.batch} x seq {bench.seq_len}, optimizer {cfg.optimizer}, "
            f"device {bench.device}, torch threads {torch.get_num_threads()}, best of {cfg.steps} rounds, "
            f"{cfg.clock} clock",
            f"{bench.flops_per_token:,} FLOP/token; peak {peak}", *bench.notes]


def table(columns: tuple[str, ...], rows: list[tuple[str, ...]], markdown: bool = False) -> str:
    if markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(str(x)) for x in col) for col in zip(columns, *rows)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def write_outputs(bench: OptimBench | TrainBench, text_table: str, markdown_table: str, context: list[str],
                  json_path: str | None, md_path: str | None) -> None:
    if json_path:
        record = {"benchmark": type(bench).__name__, "date": now(), "torch_threads": torch.get_num_threads(),
                  **_fields(bench), "environment": environment()}
        write_json(Path(json_path), record)
    if md_path:
        env = environment()
        lines = [f"Command: `optarena {' '.join(env['command'][1:])}`  ", f"Date: {now()}  ",
                 f"Machine: {env['hardware']['cpu']}, {env['hardware']['cpu_cores']} cores"
                 + (f", {', '.join(env['hardware']['gpus'])}" if env["hardware"]["gpus"] else "") + "  ",
                 f"torch {env['versions']['torch']}, git {env['git']['commit']}"
                 + (" (modified)" if env["git"]["dirty"] else ""), "", markdown_table, "",
                 *(f"- {line}" for line in context)]
        Path(md_path).write_text("\n".join(lines) + "\n")


def _fields(bench: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(bench, f.name)) for f in dataclasses.fields(bench)}


def _plain(x: Any) -> Any:
    if dataclasses.is_dataclass(x):
        return dataclasses.asdict(x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def _num(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"
