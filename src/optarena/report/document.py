"""A report as a list of blocks, written once and rendered twice: to Markdown and to self-contained HTML.

Text may use two inline marks, `code` and **bold**; both renderers understand them. Table cells are
strings or `Styled` cells with a tone ("good", "bad", "warn"), which HTML colours and Markdown makes bold
when it is "warn". Figures are base64 PNGs: HTML embeds them as data: URIs; Markdown names them, one line per run of figures.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from optarena._text import markdown_table


@dataclass(frozen=True)
class Styled:
    text: str
    tone: str = ""  # "" | "good" | "bad" | "warn"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    text: str
    tone: str = ""  # "" | "note" | "warn"


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str | Styled, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    title: str
    png_base64: str
    caption: str = ""


@dataclass(frozen=True)
class Code:
    text: str
    lang: str = ""


Block = Heading | Text | Table | Figure | Code


def _cell(c: str | Styled) -> Styled:
    return c if isinstance(c, Styled) else Styled(c)


# ---------------------------------------------------------------------------------------------- Markdown
def to_markdown(blocks: list[Block]) -> str:
    parts = []
    for b in _group_figures(blocks):
        if isinstance(b, tuple):  # a run of figures: one line naming them
            parts.append("*Plots in report.html: " + "; ".join(f.title for f in b) + ".*")
        else:
            parts.append(_md(b))
    return "\n\n".join(parts) + "\n"


def _group_figures(blocks: list[Block]) -> list[Block | tuple[Figure, ...]]:
    """Blocks with each run of consecutive figures gathered into one tuple."""
    out: list[Block | tuple[Figure, ...]] = []
    for b in blocks:
        if isinstance(b, Figure) and out and isinstance(out[-1], tuple):
            out[-1] += (b,)
        else:
            out.append((b,) if isinstance(b, Figure) else b)
    return out


def _md(b: Heading | Text | Table | Code) -> str:
    if isinstance(b, Heading):
        return "#" * b.level + " " + b.text
    if isinstance(b, Text):
        if not b.tone:
            return b.text
        lines = b.text.split("\n")
        return "\n".join(["> " + ("**⚠** " if b.tone == "warn" else "") + lines[0]] + ["> " + s for s in lines[1:]])
    if isinstance(b, Table):
        table = markdown_table(b.header, [[_md_cell(_cell(c)) for c in row] for row in b.rows])
        return (f"*{b.caption}*\n\n" if b.caption else "") + table
    return f"```{b.lang}\n{b.text.rstrip()}\n```"


def _md_cell(c: Styled) -> str:
    """A "warn" cell in bold (markdown_table escapes its "|" and newlines)."""
    return f"**{c.text}**" if c.tone == "warn" and c.text else c.text


# -------------------------------------------------------------------------------------------------- HTML
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       margin: 0 auto; max-width: 1240px; padding: 1.5em 2em 4em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2.2em; }
h3 { margin-top: 1.6em; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 0.8em; overflow-x: auto; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.3em 0 1.2em; font-size: 0.86em; }
p.caption { font-style: italic; color: #555; margin: 1em 0 0.3em; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.55em; text-align: left; vertical-align: top; }
th { background: #f0f3f6; }
tbody tr:nth-child(even) { background: #fafbfc; }
td.good { color: #116329; font-weight: 600; }
td.bad { color: #a40e26; font-weight: 600; }
td.warn { background: #fff1c2; color: #7a4b00; font-weight: 700; }
p.note { background: #f3f6fb; border-left: 4px solid #7aa2d6; padding: 0.5em 0.8em; }
p.warn { background: #fff4d6; border-left: 6px solid #e0a100; padding: 0.6em 0.9em; font-weight: 500; }
.figs { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 0.8em 1.2em; }
figure { margin: 0.5em 0 0.8em; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
nav.toc { background: #fafbfc; border: 1px solid #e1e4e8; padding: 0.3em 1.2em; font-size: 0.92em; }
nav.toc ul { margin: 0.3em 0; }
"""


def to_html(blocks: list[Block], title: str) -> str:
    anchors = _anchors(blocks)
    body = []
    for b in _group_figures(blocks):
        if isinstance(b, tuple):  # a run of figures shares rows of the page
            body.append('<div class="figs">' + "".join(map(_figure_html, b)) + "</div>")
        else:
            body.append(_html(b, anchors.get(id(b), "")))
    toc = _toc(blocks, anchors)
    body.insert(1 if blocks and isinstance(blocks[0], Heading) and blocks[0].level == 1 else 0, toc)  # under the title
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html(b: Heading | Text | Table | Code, anchor: str) -> str:
    if isinstance(b, Heading):
        return f'<h{b.level} id="{anchor}">{_inline(b.text)}</h{b.level}>'
    if isinstance(b, Text):
        cls = f' class="{b.tone}"' if b.tone else ""
        return f"<p{cls}>{'⚠ ' if b.tone == 'warn' else ''}{_inline(b.text)}</p>"
    if isinstance(b, Table):
        caption = f'<p class="caption">{_inline(b.caption)}</p>' if b.caption else ""
        head = "".join(f"<th>{_inline(h)}</th>" for h in b.header)
        rows = "".join("<tr>" + "".join(_td(_cell(c)) for c in row) + "</tr>\n" for row in b.rows)
        return (
            f'{caption}<div class="scroll"><table><thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody></table></div>'
        )
    return f"<pre><code>{html.escape(b.text.rstrip())}</code></pre>"


def _figure_html(f: Figure) -> str:
    caption = f"<figcaption>{_inline(f.caption)}</figcaption>" if f.caption else ""
    alt = html.escape(f.title, quote=True)
    return f'<figure><img alt="{alt}" title="{alt}" src="data:image/png;base64,{f.png_base64}">{caption}</figure>'


def _td(c: Styled) -> str:
    cls = f' class="{c.tone}"' if c.tone else ""
    return f"<td{cls}>{_inline(c.text)}</td>"


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return out.replace("\n", "<br>")


def _anchors(blocks: list[Block]) -> dict[int, str]:
    """id(heading) -> a unique slug of its text."""
    seen: dict[str, int] = {}
    out = {}
    for b in blocks:
        if isinstance(b, Heading):
            slug = re.sub(r"[^a-z0-9]+", "-", b.text.lower()).strip("-") or "section"
            seen[slug] = seen.get(slug, 0) + 1
            out[id(b)] = slug if seen[slug] == 1 else f"{slug}-{seen[slug]}"
    return out


def _toc(blocks: list[Block], anchors: dict[int, str]) -> str:
    sections: list[tuple[str, list[str]]] = []  # (level-2 link, its level-3 links)
    for b in blocks:
        if isinstance(b, Heading) and b.level in (2, 3):
            link = f'<a href="#{anchors[id(b)]}">{_inline(b.text)}</a>'
            if b.level == 2 or not sections:
                sections.append((link, []))
            else:
                sections[-1][1].append(link)
    items = []
    for link, subs in sections:
        sub = "<ul>" + "".join(f"<li>{s}</li>" for s in subs) + "</ul>" if subs else ""
        items.append(f"<li>{link}{sub}</li>")
    return '<nav class="toc"><strong>Contents</strong>\n<ul>\n' + "\n".join(items) + "\n</ul></nav>"
