"""``optarena optimizers``: the registry, one line per optimizer with its source."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("optimizers", help="list the optimizer registry")
    p.set_defaults(func=run)


def run(args) -> int:
    from optarena.optim import REGISTRY, names

    width = max(map(len, names()))
    for name in names():
        spec = REGISTRY[name]
        preset = ", ".join(f"{k}={v}" for k, v in spec.preset.items())
        print(f"{name:<{width}}  {spec.source}" + (f"  [{preset}]" if preset else ""))
    return 0
