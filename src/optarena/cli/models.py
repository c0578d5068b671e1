"""``optarena models``: every model preset with its parameter counts, FLOPs per token and budget."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("models", help="list model presets: parameters, FLOPs/token, Chinchilla tokens")
    p.set_defaults(func=run)


def run(args) -> int:
    from optarena.model import presets_table

    print(presets_table())
    return 0
