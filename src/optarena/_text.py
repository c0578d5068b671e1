"""Text every part of the package writes the same way: "did you mean" hints and tables.

`did_you_mean` is the hint of every error about an unknown name (a key, a suite, a preset, a
hyperparameter), so that all of them read alike. `markdown_table` and `text_table` render a header
and rows of strings: GitHub Markdown for files (the report, docs/results), aligned plain text for a
terminal (`optarena models`).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence


def did_you_mean(word: object, options: Iterable[object]) -> str:
    """" (did you mean 'x'?)" for the option closest to `word`, or "" when none is close."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub table. A cell's "|" is escaped and its newlines become <br> (a table row is one line);
    any other Markdown in it (`code`, **bold**) is kept."""
    lines = ["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Iterable[Sequence[str]], right: Collection[int] = ()) -> str:
    """Columns padded to their widest cell, two spaces apart, a line of dashes under the header; the
    columns numbered in `right` are right-aligned (numbers), the others left-aligned. No trailing spaces."""
    table = [tuple(map(str, header)), *(tuple(map(str, row)) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "  ".join(padded).rstrip()

    return "\n".join([line(table[0]), "  ".join("-" * w for w in widths), *map(line, table[1:])])


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")
