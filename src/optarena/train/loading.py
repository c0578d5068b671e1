"""TOML files and flag overrides -> `TrainConfig`.

A TOML file uses the sections as tables; a top-level key may also name a field by its leaf:

    [model]
    preset = "tiny"
    [optim]
    name = "adamw"
    lr = 3e-3
    [optim.hp]
    betas = [0.9, 0.95]
    weight_decay = 0.1

Overrides (from flags) are applied after the file, key by key. A key is a leaf (`lr`), a path
(`optim.lr`) or an optimizer hyperparameter (`optim.hp.betas`, or `hp.betas`). String values are
parsed by the field's type ("3e-3" -> 0.003, "1e9" -> 1000000000 for integer fields, "none",
"true"/"false"); hyperparameter strings as Python literals ("(0.9, 0.95)"), else kept as text.
An unknown key is a ValueError naming it and the closest valid key.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from optarena._text import did_you_mean

from .config import FIELDS, SECTIONS, TrainConfig

HP_PREFIXES = ("optim.hp.", "hp.")
_LITERAL_STARTS = "0123456789+-.([{'\""  # how a number, tuple, list, dict or string begins
_TRUE, _FALSE, _NONE = ("true", "yes", "on", "1"), ("false", "no", "off", "0"), ("none", "null")


def load_config(toml_path: str | Path | None = None,
                overrides: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> TrainConfig:
    """The TOML file's settings (if any), then `overrides` (a dict, or (key, value) pairs applied
    in order), over the defaults."""
    entries: list[tuple[str, Any]] = []
    if toml_path is not None:
        entries += flatten_toml(_read_toml(toml_path), source=str(toml_path))
    entries += list(overrides.items() if isinstance(overrides, Mapping) else overrides)
    return apply(TrainConfig(), entries)


def apply(cfg: TrainConfig, entries: list[tuple[str, Any]]) -> TrainConfig:
    """`cfg` with each (key, value) applied in order; later entries win."""
    changes: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for key, value in entries:
        section, name, hp_key = resolve_key(key)
        if hp_key is not None:
            hp = changes[section].setdefault("hp", dict(cfg.optim.hp))
            hp[hp_key] = parse_literal(value, f"optim.hp.{hp_key}")
        elif name == "hp":
            hp = changes[section].setdefault("hp", dict(cfg.optim.hp))
            hp.update(_as_table(key, value))
        else:
            changes[section][name] = parse_value(f"{section}.{name}", value, _field_type(section, name))
    sections = {s: dataclasses.replace(getattr(cfg, s), **c) for s, c in changes.items() if c}
    return dataclasses.replace(cfg, **sections)


def resolve_key(key: str) -> tuple[str, str, str | None]:
    """'lr' / 'optim.lr' -> ('optim', 'lr', None); 'hp.betas' -> ('optim', 'hp', 'betas')."""
    for prefix in HP_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return "optim", "hp", key[len(prefix):]
    path = FIELDS.get(key, key)
    section, _, name = path.partition(".")
    if section in SECTIONS and name in {f.name for f in dataclasses.fields(SECTIONS[section])}:
        return section, name, None
    if name in FIELDS:  # a real field under the wrong section
        raise ValueError(f"unknown config key {key!r}: {name!r} belongs to [{FIELDS[name].split('.')[0]}] "
                         f"(use {FIELDS[name]!r} or {name!r})")
    valid = [*FIELDS, *FIELDS.values()]
    raise ValueError(f"unknown config key {key!r}{did_you_mean(key, valid)}; valid keys: {', '.join(FIELDS)} "
                     "(or section.key, or optim.hp.<name> for an optimizer hyperparameter)")


def flatten_toml(doc: Mapping[str, Any], source: str = "TOML") -> list[tuple[str, Any]]:
    """{'optim': {'lr': 1, 'hp': {'b': 2}}} -> [('optim.lr', 1), ('optim.hp', {'b': 2})]."""
    entries = []
    for key, value in doc.items():
        if key in SECTIONS:
            if not isinstance(value, Mapping):
                raise ValueError(f"{source}: [{key}] must be a table of settings, got {value!r}")
            entries += [(f"{key}.{name}", v) for name, v in value.items()]
        else:
            entries.append((key, value))
    for key, _ in entries:  # fail early, naming the file
        try:
            resolve_key(key)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None
    return entries


def parse_value(key: str, value: Any, tp: Any) -> Any:
    """A flag string converted to the field's type; non-strings pass through (checked later)."""
    if not isinstance(value, str):
        return value
    options = typing.get_args(tp) if isinstance(tp, types.UnionType) else (tp,)
    text = value.strip()
    if type(None) in options and text.lower() in _NONE:
        return None
    base = next(o for o in options if o is not type(None))
    try:
        return _parse_as(typing.get_origin(base) or base, text)
    except (ValueError, OverflowError, SyntaxError):  # OverflowError: int(inf); SyntaxError: a dict
        raise ValueError(f"{key}: cannot read {value!r} as {base.__name__}") from None


def _parse_as(base: type, text: str) -> Any:
    if base is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ValueError(text)
    if base is int:
        number = float(text)  # accepts "1e9"
        if not math.isfinite(number) or number != int(number):  # "inf" and "nan" are not counts
            raise ValueError(text)
        return int(number)
    if base is float:
        return float(text)
    if base is dict:
        parsed = ast.literal_eval(text)
        if not isinstance(parsed, dict):
            raise ValueError(text)
        return parsed
    return text


def parse_literal(value: Any, key: str = "optim.hp") -> Any:
    """A hyperparameter value: strings are read as Python literals when they are one ("inf", "-inf"
    and "nan" as floats), else kept as text (a name such as "match_rms_adamw"). Text that starts
    like a literal (a digit, sign, dot, bracket or quote) but is not one is a ValueError naming `key`:
    kept as text, `betas="(0.9,"` would only fail inside the optimizer, after the data is loaded."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower().lstrip("+-") in ("inf", "nan"):
        return float(text)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        if text[:1] and text[0] in _LITERAL_STARTS:
            raise ValueError(f"{key}: {value!r} is not a valid Python literal (e.g. 3e-4, (0.9, 0.95), "
                             "None, True, 'text')") from None
        return value


def parse_assignment(text: str, flag: str = "--set") -> tuple[str, str]:
    """'key=value' -> ('key', 'value'); `flag` names where the text came from in the error."""
    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise ValueError(f"{flag}: expected key=value, got {text!r}")
    return key.strip(), value


def _as_table(key: str, value: Any) -> dict[str, Any]:
    value = parse_value(key, value, dict)
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be a table of hyperparameters, got {value!r}")
    return {k: parse_literal(v, f"optim.hp.{k}") for k, v in value.items()}


def _field_type(section: str, name: str) -> Any:
    return typing.get_type_hints(SECTIONS[section])[name]


def _read_toml(path: str | Path) -> dict[str, Any]:
    from optarena._toml import read_toml

    try:
        return read_toml(path)[0]
    except FileNotFoundError:
        raise ValueError(f"config file not found: {path}") from None
