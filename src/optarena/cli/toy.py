"""``optarena toy grams-fig1``: the Grams paper's Figure 1 setting, written to a PNG."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("toy", help="toy demonstrations (e.g. grams-fig1)")
    p.add_argument("demo", choices=["grams-fig1"])
    p.add_argument("rest", nargs="*", help="arguments of the demo (see `optarena toy grams-fig1 -- --help`)")
    p.set_defaults(func=run)


def run(args) -> int:
    from optarena.toy.grams_figure1 import main

    return main(args.rest)
