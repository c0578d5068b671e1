"""The ``optarena`` command line: one module per command, each with ``register(subparsers)``.

A command module defines ``register(sub)`` that adds its parser and sets ``func`` (args → exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command modules, in the order `optarena --help` lists them
COMMANDS = ("optimizers", "models", "toy", "train", "data", "bench", "report", "export", "perf")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optarena", description="Optimizers for LM pretraining, judged fairly.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"optarena.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
