"""``optarena perf``: how fast the optimizers (``perf optim``) and a training step (``perf train``) run.

    optarena perf optim --model 20m --json perf.json --md perf.md
    optarena perf train --model 20m --batch 4 --seq-len 256 --steps 5
    optarena perf check --device cuda       the fused steps equal the eager ones on this device

Timings are ratios to a reference timed in the same interleaved rounds (see optarena.perf).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from optarena.cli import usage_error


def register(sub) -> None:
    p = sub.add_parser("perf", help="step time and memory of the optimizers and of a training step",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_subparsers(dest="perf_command", metavar="WHAT", required=True)
    o = what.add_parser("optim", help="every optimizer's step time and state memory beside torch AdamW")
    _common(o)
    o.add_argument("--optimizers", metavar="A,B", help="comma-separated registry names (default: all)")
    o.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds, best of (default 10)")
    o.add_argument("--lr", type=float, default=1e-3)
    o.add_argument("--fused", action="store_true",
                   help="also time each optarena optimizer's fused step (fuse(): one compiled graph per group)")
    o.add_argument("--bf16-state", action="store_true",
                   help="also time each with state_dtype='bfloat16' (half the state memory)")
    o.add_argument("--no-external", dest="external", action="store_false",
                   help="skip pytorch_optimizer's and heavyball's versions")
    o.set_defaults(func=run_optim)
    t = what.add_parser("train", help="tokens/s, MFU and peak memory beside HF transformers' Qwen3")
    _common(t)
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--seq-len", type=int, help="default: the preset's max_seq_len")
    t.add_argument("--steps", type=int, default=10, help="timed rounds, best of (default 10)")
    t.add_argument("--optimizer", default="adamw", help="registry name (default adamw)")
    t.add_argument("--compile", action="store_true", help="torch.compile both models")
    t.add_argument("--peak-flops", type=float, help="peak FLOP/s for MFU (needed on CPU)")
    t.add_argument("--no-hf", dest="hf", action="store_false", help="skip the HF Qwen3 row")
    t.set_defaults(func=run_train)
    c = what.add_parser("check", help="every fused optimizer step equals its eager step on this device, "
                                      "without recompiling (see optarena.perf.check)")
    c.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    c.add_argument("--optimizers", metavar="A,B", help="comma-separated registry names (default: every fusable one)")
    c.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="parameters' and state's dtype (default float64: only reassociation separates the paths)")
    c.add_argument("--steps", type=int, default=5, help="steps of each trajectory, a new LR each (default 5)")
    c.add_argument("--md", metavar="PATH", help="write the table as Markdown, with the command and machine")
    c.set_defaults(func=run_check)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="134m", help="model preset (default 134m; on CPU e.g. 20m)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time, or the process's CPU time: steadier on a shared CPU with --threads 1")
    p.add_argument("--json", metavar="PATH", help="write the results and environment as JSON")
    p.add_argument("--md", metavar="PATH", help="write a Markdown table with the command and machine")


def run_optim(args: argparse.Namespace) -> int:
    from optarena.perf import OptimBenchConfig, run_optim_bench
    from optarena.perf.report import optim_context, optim_table

    _set_threads(args.threads)
    names = tuple(n for n in (args.optimizers or "").split(",") if n)
    cfg = OptimBenchConfig(model=args.model, device=args.device, optimizers=names, rounds=args.rounds,
                           clock=args.clock, lr=args.lr, fused=args.fused,
                           bf16_state=args.bf16_state, external=args.external)
    try:
        bench = run_optim_bench(cfg, progress=_progress)
    except ValueError as e:
        return usage_error("perf optim", e)
    return _emit(bench, optim_table, optim_context, args)


def run_train(args: argparse.Namespace) -> int:
    from optarena.perf import TrainBenchConfig, run_train_bench
    from optarena.perf.report import train_context, train_table

    _set_threads(args.threads)
    cfg = TrainBenchConfig(model=args.model, batch=args.batch, seq_len=args.seq_len, steps=args.steps,
                           clock=args.clock, compile=args.compile, device=args.device,
                           optimizer=args.optimizer, hf=args.hf, peak_flops=args.peak_flops)
    try:
        bench = run_train_bench(cfg, progress=_progress)
    except ValueError as e:
        return usage_error("perf train", e)
    return _emit(bench, train_table, train_context, args)


def run_check(args: argparse.Namespace) -> int:
    import torch

    from optarena.perf.check import check_table, run_check as check

    names = tuple(n for n in (args.optimizers or "").split(",") if n)
    try:
        rows = check(names, device=args.device, dtype=getattr(torch, args.dtype), steps=args.steps,
                     say=lambda m: print(f"  checking {m}", file=sys.stderr, flush=True))
    except ValueError as e:
        return usage_error("perf check", e)
    table = check_table(rows)
    failed = [r for r in rows if not r.ok]
    summary = f"{len(rows) - len(failed)} of {len(rows)} fused steps equal their eager steps"
    print(table + "\n" + summary)
    if args.md:
        from optarena._torch import resolve_device

        dev = resolve_device(args.device, setting="--device")
        from optarena.train.record import cpu_model

        where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_model()
        command = f"optarena perf check --device {args.device} --dtype {args.dtype} --steps {args.steps}" + (
            f" --optimizers {','.join(names)}" if names else "")
        Path(args.md).write_text(f"`{command}`: torch {torch.__version__}, {dev} ({where})\n\n{table}\n{summary}\n")
    return 1 if failed else 0


def _emit(bench, make_table, make_context, args: argparse.Namespace) -> int:
    from optarena.perf.report import write_outputs

    context = make_context(bench)
    print(make_table(bench))
    print("\n".join(context))
    write_outputs(bench, make_table(bench), make_table(bench, markdown=True), context, args.json, args.md)
    return 0


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _progress(message: str) -> None:
    print(f"  timing {message}", file=sys.stderr, flush=True)
