"""What `--help` shows: every choice of `optarena train`'s choice fields, and no RST literal quotes."""

from __future__ import annotations

import argparse
import re

import pytest

from optarena.cli import build_parser
from optarena.cli import train as train_cli
from optarena.train import config as C


def parsers(parser: argparse.ArgumentParser, path: str = "optarena"):
    """(command path, parser) for the top-level parser and every subcommand under it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}")


def train_help() -> str:
    (train,) = [p for path, p in parsers(build_parser()) if path == "optarena train"]
    return re.sub(r"\s+", " ", train.format_help())  # argparse wraps at the terminal's width


@pytest.mark.parametrize(("flag", "values"), [
    ("--schedule KIND", C.SCHEDULES), ("--dtype DTYPE", C.DTYPES), ("--progress PROGRESS", C.PROGRESS),
    ("--fused FUSED", C.FUSED),
])  # fmt: skip
def test_each_choice_flag_lists_its_choices(flag, values):
    text = train_help()
    key = {"--schedule": "schedule.kind", "--dtype": "run.dtype", "--progress": "log.progress",
           "--fused": "optim.fused"}[flag.split()[0]]
    assert f"{flag} {key}: {' | '.join(values)} (default " in text


def test_choice_fields_without_a_flag_are_listed_under_set():
    assert "(budget.count: total | non_embedding)" in train_help()


def test_the_open_fields_point_to_their_listings():
    text = train_help()
    assert "--model PRESET model.preset: one of `optarena models` (default tiny)" in text
    assert "--optimizer NAME optim.name: one of `optarena optimizers`" in text


def test_the_choices_are_every_value_the_config_accepts():
    """The help's tuples are the config's: a value outside them is refused, each inside is accepted."""
    for key, values in train_cli._field_choices().items():
        with pytest.raises(ValueError, match=re.escape(key)):
            _load(key, "not-a-choice")
        for value in values:
            _load(key, value)


def _load(key: str, value: str):
    from optarena.train import load_config

    return load_config(None, [(key, value)])


def test_no_help_shows_rst_literal_quotes():
    assert "``" in train_cli.__doc__  # the docstrings are RST: the help must render them
    seen = 0
    for path, parser in parsers(build_parser()):
        text = parser.format_help()
        assert "``" not in text, path
        seen += 1
    assert seen > 10  # the subcommands' own parsers (data prepare, perf optim, ...) were walked
    assert "the --config TOML file" in train_help()
