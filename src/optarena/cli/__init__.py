"""The ``optarena`` command line: one module per command, each with ``register(subparsers)``.

A command module defines ``register(sub)`` that adds its parser and sets ``func`` (args → exit code);
a user's mistake (bad flag value, missing file, bad config) is ``return usage_error(command, message)``:
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

# command modules, in the order `optarena --help` lists them
COMMANDS = ("optimizers", "models", "toy", "train", "data", "bench", "report", "export", "recheck", "perf")


# exit status of a user's mistake (argparse's own, for a flag it cannot parse)
USAGE_ERROR = 2


def usage_error(command: str, message: object) -> int:
    """Say a user's mistake on stderr as ``optarena COMMAND: error: MESSAGE`` (the message's first line
    is what a user reads: no traceback) and give the exit status for it, :data:`USAGE_ERROR`."""
    print(f"optarena {command}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optarena", description="Optimizers for LM pretraining, judged fairly.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"optarena.cli.{name}").register(sub)
    _plain(parser)
    return parser


def _plain(parser: argparse.ArgumentParser) -> None:
    """Strip RST's ``literal`` quotes from every description and help, down the subcommands: the
    descriptions are module docstrings, written for Sphinx, and a terminal would show the quotes."""
    parser.description, parser.epilog = _unquote(parser.description), _unquote(parser.epilog)
    for action in parser._actions:
        action.help = _unquote(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:  # the one-line helps in the parent's command list
                choice.help = _unquote(choice.help)
            for sub in {id(p): p for p in action.choices.values()}.values():  # aliases share a parser
                _plain(sub)


def _unquote(text: str | None) -> str | None:
    return re.sub(r"``(.+?)``", r"\1", text, flags=re.DOTALL) if text else text


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
