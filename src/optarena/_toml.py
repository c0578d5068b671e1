"""`tomllib` on Python 3.11+, its backport `tomli` on 3.10 (a dependency there: pyproject.toml)."""

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["tomllib"]
