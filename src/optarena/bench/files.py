"""Suite files: the named suites shipped in suites/, and one suite's TOML read into a single document
with the suite it `extends` merged under it and, for `--full`, its [full] table merged over it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optarena._text import did_you_mean
from optarena._toml import read_toml

SUITES_DIR = Path(__file__).parent / "suites"
TABLE_SUFFIX = "_lrs.toml"  # LR tables live beside the suites and are not suites themselves

TOP_KEYS = ("name", "description", "extends", "models", "data", "tokens", "ratio", "lr_mults",
            "max_extend", "seeds", "lr_table", "baseline", "tune", "tune_rounds", "train", "optimizers",
            "variant", "full")
FULL_KEYS = ("models", "data", "tokens", "ratio", "lr_mults", "max_extend", "seeds", "tune", "tune_rounds",
             "train", "optimizers", "variant", "lr_table")


def named_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml") if not p.name.endswith(TABLE_SUFFIX))


def suite_path(name_or_path: str | Path) -> Path:
    """A named suite's file, or the path itself when it is a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return path
    if str(name_or_path) in named_suites():
        return SUITES_DIR / f"{name_or_path}.toml"
    hint = did_you_mean(name_or_path, named_suites())
    raise ValueError(f"no suite {str(name_or_path)!r}{hint}; named suites: {', '.join(named_suites())} "
                     "(or give the path of a suite TOML file)")


def read_suite_file(path: Path, full: bool = False) -> tuple[dict[str, Any], str]:
    """The suite's document (its base merged under it; with `full`, its [full] merged over it) and
    its TOML text (with its base's)."""
    doc, text = _read_with_base(path)
    if full:
        if "full" not in doc:
            raise ValueError(f"{path.name}: --full needs a [full] table in the suite")
        check_keys(doc["full"], FULL_KEYS, f"{path.name} [full]")
        doc = _merge({k: v for k, v in doc.items() if k != "full"}, doc["full"])
    return doc, text


def _read_with_base(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], str]:
    if path in seen:
        raise ValueError(f"{path.name}: `extends` makes a cycle")
    doc, text = read_toml(path)  # errors name the file: a directory, not UTF-8, invalid TOML
    check_keys(doc, TOP_KEYS, path.name)
    doc.setdefault("name", path.stem)
    if "extends" not in doc:
        return doc, text
    base, base_text = _read_with_base(suite_path(doc["extends"]), seen + (path,))
    merged = _merge(base, doc)
    merged["name"] = doc["name"]
    return merged, f"{base_text}\n# ---- extended by {path.name} ----\n{text}"


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over`'s keys replace `base`'s, except: [train] merges key by key (down to its sections),
    [full] merges by these same rules, and `tokens` / `ratio` replace each other."""
    merged = {k: v for k, v in base.items() if k != "extends"}
    if "tokens" in over or "ratio" in over:
        merged.pop("tokens", None), merged.pop("ratio", None)
    for key, value in over.items():
        if key == "train" and key in merged:
            merged[key] = _deep_merge(merged[key], value)
        elif key == "full" and key in merged:
            merged[key] = _merge(merged[key], value)
        elif key != "extends":
            merged[key] = value
    return merged


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        both = isinstance(value, Mapping) and isinstance(merged.get(key), Mapping)
        merged[key] = _deep_merge(merged[key], value) if both else value
    return merged


def check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ValueError(f"{where}: unknown key {key!r}{did_you_mean(key, allowed)}; "
                             f"valid keys: {', '.join(allowed)}")
