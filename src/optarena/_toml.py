"""`tomllib` on Python 3.11+, its backport `tomli` on 3.10 (a dependency there: pyproject.toml), and
`read_toml`, whose every error names the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["read_toml", "tomllib"]


def read_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    """(document, text) of a TOML file. A directory, an unreadable file, text that is not UTF-8 (TOML's
    only encoding) or invalid TOML is a ValueError naming `path`; a missing file stays a
    FileNotFoundError, which callers word for their kind of file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not a TOML file") from None
    except PermissionError:
        raise ValueError(f"{path}: permission denied (cannot read the TOML file)") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ValueError(f"{path}: not UTF-8 text (byte {data[e.start]:#04x} on line {line}); "
                         "TOML files must be UTF-8") from None
    try:
        return tomllib.loads(text.removeprefix("\ufeff")), text
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: invalid TOML: {e}") from None
