"""LR tables: the best LR per model and optimizer from a sweep, as TOML that a suite reads (`lr_table`).

    tuned = true                       # false: centre LRs written by hand, not yet tuned
    suite = "quick-sweep"              # where the numbers come from
    tokens = 196608
    data = "embedded"

    [tiny]                             # one table per model preset
    adamw = { lr = 0.003, at_edge = false, n_lr_points = 5, val_loss = 5.4321 }
    muon = { lr = 0.02, opt = { adamw_lr = 0.003 }, at_edge = false, n_lr_points = 5 }
    lion = { lr = 3e-4, tuned = { weight_decay = 0.3 }, at_edge = false, n_lr_points = 5 }

`opt` holds the hyperparameters the LR multiplier scaled with it (the entry's `scale`), at the best LR.
`tuned` holds what the sweep's coordinate search chose for its tuned hyperparameters besides the LR
(its [tune], tuning.py), paired with that LR: the search tuned them at it.
A suite reading the table takes each optimizer's centre LR from it, by the optimizer's display name
or else its registry name, and carries `at_edge` into its own `choices` so the report can flag an LR
that was never bracketed. It takes the `tuned` values as the row's hyperparameters, except those the
row tunes itself (its own search then starts from its own value, in its grid), and in a suite of
several models only where every model's entry agrees (a row's `opt` is one for all its models).
`optarena bench tune-table DIR` writes a table from a sweep's results.db.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from optarena._toml import tomllib

from .suite import Variant


def read_table(path: str | Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"LR table not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: invalid TOML: {e}") from None


def apply_table(variants: Iterable[Variant], path: Path, models: list[str]) -> tuple[Variant, ...]:
    table = read_table(path)
    return tuple(_apply(v, table, models, path.name) for v in variants)


def _apply(v: Variant, table: dict[str, Any], models: list[str], where: str) -> Variant:
    if not v.lr_table:  # the row keeps its own centre (`lr_table = false`)
        return v
    entries = {m: table[m].get(v.name, table[m].get(v.optimizer)) for m in models if isinstance(table.get(m), dict)}
    entries = {m: e for m, e in entries.items() if e is not None}
    if not entries:
        return v
    lr = {m: v.centre(m) for m in models if m not in entries} | {m: float(e["lr"]) for m, e in entries.items()}
    opt = dict(v.opt)
    for e in entries.values():
        for key in v.scale:
            if key in e.get("opt", {}):
                if len(models) > 1:
                    raise ValueError(f"{where}: {v.name!r} scales {key} with the LR; a table can set it "
                                     "only for a suite of one model")
                opt[key] = e["opt"][key]
    own = {t.name for t in v.tune}
    for key in sorted({k for e in entries.values() for k in e.get("tuned", {})} - own):
        values = {m: entries[m].get("tuned", {}).get(key) if m in entries else None for m in models}
        first = next(iter(values.values()))
        if any(x != first for x in values.values()):
            per_model = ", ".join(f"{m}: {'not tuned' if x is None else repr(x)}" for m, x in values.items())
            raise ValueError(f"{where}: {v.name!r} was tuned to different {key} per model ({per_model}); "
                             "a row's hyperparameters are one for all its models: give each model its own suite, "
                             f"or tune {key} in this suite")
        opt[key] = first
    edges = [e.get("at_edge") for e in entries.values()]
    at_edge = any(edges) if all(x is not None for x in edges) else None
    points = min((e["n_lr_points"] for e in entries.values() if "n_lr_points" in e), default=None)
    return dataclasses.replace(v, lr=lr, opt=opt, at_edge=at_edge, tuned_points=points)


def table_from_db(results_dir: str | Path) -> str:
    """The LR table (TOML text) of a finished sweep: one entry per (model, optimizer) choice."""
    from .db import ResultsDB

    db = ResultsDB(results_dir)
    meta, choices = db.meta(), db.choices()
    if not choices:
        raise ValueError(f"{results_dir}: no LR choices yet (has the sweep finished?)")
    budgets = sorted({(c["tokens"], c["data"]) for c in choices})
    if len(budgets) > 1:
        raise ValueError(f"{results_dir}: choices for several budgets/data {budgets}; an LR table holds one")
    scaled = {v["name"]: v["scale"] for v in json.loads(meta.get("suite_json", "{}")).get("variants", [])}
    best_runs = _best_runs(db)
    lines = [f"# LR table from `optarena bench {meta.get('suite')}` (results.db of {meta.get('created_at')},",
             f"# optarena {meta.get('optarena_version')}, git {meta.get('git_commit')}).",
             "# Regenerate: optarena bench tune-table DIR > this file", "tuned = true",
             f"suite = {_toml(meta.get('suite'))}", f"tokens = {budgets[0][0]}", f"data = {_toml(budgets[0][1])}"]
    for model in sorted({c["model"] for c in choices}):
        lines += ["", f"[{_key(model)}]"]
        for c in sorted((c for c in choices if c["model"] == model), key=lambda c: c["optimizer"]):
            if c["best_lr"] is None:
                lines.append(f"# {c['optimizer']}: every LR diverged or failed; no entry")
                continue
            run = best_runs.get((model, c["optimizer"]))
            lines.append(f"{_key(c['optimizer'])} = {_entry(c, run, scaled.get(c['optimizer'], []))}")
            lines += [f"# {c['optimizer']}: its search chose {name} = {_value(value)} at the edge of its grid"
                      for name, value in _tuned_at_edge(c)]
    return "\n".join(lines) + "\n"


def _best_runs(db) -> dict[tuple[str, str], dict[str, Any]]:
    """(model, optimizer) -> the chosen LR's sweep run, for the scaled hyperparameters it used."""
    chosen = {(c["model"], c["optimizer"]): c["best_lr"] for c in db.choices()}
    runs = {}
    for r in db.runs(status="finished"):
        if chosen.get((r["model"], r["optimizer"])) == r["lr"] and r["phase"] != "seeds":
            runs[(r["model"], r["optimizer"])] = {**r, "opt": json.loads(r["opt_json"] or "{}")}
    return runs


def _entry(choice: dict[str, Any], run: dict[str, Any] | None, scaled: list[str]) -> str:
    parts = [f"lr = {choice['best_lr']:.6g}"]
    if run and scaled:
        parts.append("opt = { " + ", ".join(f"{_key(k)} = {run['opt'][k]:.6g}" for k in scaled) + " }")
    tuned = _tuned(choice)
    if tuned:
        parts.append("tuned = { " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in tuned.items()) + " }")
    parts.append(f"at_edge = {'true' if choice['at_edge'] else 'false'}")
    parts.append(f"n_lr_points = {choice['n_lr_points']}")
    if choice.get("best_val_loss") is not None:
        parts.append(f"val_loss = {choice['best_val_loss']:.4f}")
    return "{ " + ", ".join(parts) + " }"


def _sweeps(choice: dict[str, Any]) -> list[dict[str, Any]]:
    """The choice's tuned coordinates besides the LR (tuning.choice_sweeps), in search order."""
    return [s for s in json.loads(choice.get("tuned_json") or "[]") if s["name"] != "lr"]


def _tuned(choice: dict[str, Any]) -> dict[str, Any]:
    return {s["name"]: s["value"] for s in _sweeps(choice) if s["value"] is not None}


def _tuned_at_edge(choice: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(s["name"], s["value"]) for s in _sweeps(choice) if s["at_edge"] and s["value"] is not None]


def _value(x: Any) -> str:
    """A tuned value as TOML: a number (full precision, so the table runs the value tuned), a flag, a
    string or a list of these (`betas`)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, float)):
        if isinstance(x, float) and not math.isfinite(x):
            raise ValueError(f"a tuned value {x!r} cannot be written to TOML")
        return repr(x)
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_value(y) for y in x) + "]"
    return _toml(x)


def _key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else _toml(name)


def _toml(value: Any) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

