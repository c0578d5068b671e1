"""The two renderers of report blocks."""

from html.parser import HTMLParser

from optarena.report.document import Code, Figure, Heading, Styled, Table, Text, to_html, to_markdown

BLOCKS = [
    Heading("Title", 1),
    Heading("Section"),
    Text("a `code` and **bold** <b>"),
    Heading("Sub", 3),
    Table(("a", "b|c"), (("1", Styled("x|y\nz", "warn")),), "cap"),
    Figure("plot", "iVBORw0KGgo=", "caption"),
    Figure("plot 2", "iVBORw0KGgo="),
    Code("x = 1 < 2", "toml"),
    Heading("Section"),
]


def test_markdown():
    md = to_markdown(BLOCKS)
    assert "# Title\n\n## Section" in md
    assert "| a | b\\|c |" in md  # header and cells escaped alike: a bare "|" would split the column
    assert "| 1 | **x\\|y<br>z** |" in md
    assert "*Plots in report.html: plot; plot 2.*" in md and "```toml\nx = 1 < 2\n```" in md


def test_html_escapes_anchors_and_groups_figures():
    page = to_html(BLOCKS, "t")
    HTMLParser().feed(page)
    assert "a <code>code</code> and <strong>bold</strong> &lt;b&gt;" in page
    assert 'id="section"' in page and 'id="section-2"' in page and 'href="#section-2"' in page
    assert '<td class="warn">x|y<br>z</td>' in page
    assert page.count('<div class="figs">') == 1 and page.count("data:image/png;base64,") == 2
    assert "x = 1 &lt; 2" in page
