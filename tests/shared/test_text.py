"""optarena._text: the one "did you mean" hint and the one Markdown and plain-text table."""

from __future__ import annotations

from optarena._text import did_you_mean, markdown_table, text_table


def test_did_you_mean():
    assert did_you_mean("cosin", ("cosine", "linear", "wsd")) == " (did you mean 'cosine'?)"
    assert did_you_mean("zzz", ("cosine", "linear")) == ""
    assert did_you_mean("x", ()) == ""
    assert did_you_mean(3, [1, 2, 3]) == " (did you mean '3'?)"  # non-strings compared as text
    assert did_you_mean("lr_mult", {"lr_mults": 1, "seeds": 2}) == " (did you mean 'lr_mults'?)"  # a mapping's keys


def test_markdown_table_escapes_pipes_and_newlines():
    text = markdown_table(("a", "b|c"), [("`x`", "1|2"), ("**y**", "two\nlines")])
    assert text.splitlines() == [
        "| a | b\\|c |",
        "|---|---|",
        "| `x` | 1\\|2 |",
        "| **y** | two<br>lines |",
    ]
    assert markdown_table(("only",), []) == "| only |\n|---|"


def test_text_table_aligns_columns():
    text = text_table(("name", "n"), [("tiny", "3"), ("medium", "1200")], right={1})
    assert text.splitlines() == [
        "name       n",
        "------  ----",
        "tiny       3",
        "medium  1200",
    ]
    left = text_table(("name", "note"), [("a", ""), ("bbb", "x")])
    assert left.splitlines() == ["name  note", "----  ----", "a", "bbb   x"]  # no trailing spaces
