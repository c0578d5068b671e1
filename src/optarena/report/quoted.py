"""The seed papers' own numbers (quoted.toml), set beside ours.

For a "final" table the report prints each method's number, its loss ratio to the paper's baseline
(ln of perplexities, since loss = ln perplexity) and, for the methods we ran, our loss ratio to our
suite's baseline in every cell where both have a result, with our verdict. The settings differ (model,
data, tokens, tuning), so the ratios, not the absolute numbers, are what can agree or disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources

from optarena.report import fmt
from optarena.report.document import Block, Heading, Styled, Table, Text
from optarena.report.ladder import Ladder, compute_of
from optarena.report.standings import Leaderboard
from optarena.scaling import compute_multiplier


@dataclass(frozen=True)
class Quoted:
    papers: tuple[dict, ...]
    tuned_adamw: dict


def load_quoted() -> Quoted:
    from optarena._toml import tomllib

    text = resources.files("optarena.report").joinpath("quoted.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return Quoted(tuple(data["paper"]), data["tuned_adamw"])


def quoted_blocks(boards: list[Leaderboard], ladders: list[Ladder], with_data: bool, baseline: str) -> list[Block]:
    quoted = load_quoted()
    blocks: list[Block] = [
        Heading("Quoted from the papers"),
        Text(
            "Every number in this section is **quoted** from the seed papers (or their code), not measured "
            "by optarena. Our columns are our own measurements from this suite, in its settings.",
            "note",
        ),
        Text(quoted.tuned_adamw["text"] + f"\nSource: {quoted.tuned_adamw['source']}.", "warn"),
    ]
    for paper in quoted.papers:
        blocks += _paper_blocks(paper, boards, ladders, with_data, baseline)
    return blocks


def _paper_blocks(paper: dict, boards, ladders, with_data, baseline: str) -> list[Block]:
    blocks: list[Block] = [
        Heading(f"{paper['title']} ({paper['authors']}, {paper['date']})", 3),
        Text(f"Setting: {paper['setting']}.\nSource: {paper['source']}."),
    ]
    if paper.get("claims"):
        blocks.append(Text("Quoted:\n" + "\n".join(f"• {claim}" for claim in paper["claims"]), "note"))
    ours = _our_multipliers(ladders, paper.get("claims_optimizers", ()))
    if ours:
        blocks.append(
            Text(
                f"Ours (compute multiplier vs {fmt.who(baseline)} at the ladder's largest compute, "
                "fit [5–95% bootstrap band]): " + "; ".join(ours) + "."
            )
        )
    for table in paper.get("tables", ()):
        blocks.append(_final_table(table, boards, with_data, baseline) if table["kind"] == "final"
                      else _plain_table(table))
    return blocks


def _plain_table(table: dict) -> Table:
    return Table(tuple(table["columns"]), tuple(tuple(r) for r in table["rows"]), f"Quoted. {table['caption']}")


def _final_table(table: dict, boards: list[Leaderboard], with_data: bool, baseline: str) -> Table:
    to_loss = math.log if table["metric"] == "perplexity" else float
    base = next(r for r in table["rows"] if r["name"] == table["baseline"])
    rows = []
    for r in table["rows"]:
        theirs = "baseline" if r is base else _ratio_text(to_loss(r["value"]) / to_loss(base["value"]))
        opt = r.get("optimizer", "")
        ours = "baseline" if opt == baseline else _our_ratios(opt, boards, with_data, baseline) if opt else fmt.MISSING
        rows.append((r["name"], f"{r['value']:g}", theirs, f"`{opt}`" if opt else fmt.MISSING, ours))
    metric = "loss ratio (ln perplexity)" if table["metric"] == "perplexity" else "loss ratio"
    header = (
        "method (paper)",
        f"paper's {table['metric']}",
        f"paper: {metric} vs {table['baseline']}",
        "our optimizer",
        f"ours: loss ratio vs our {fmt.who(baseline)}, per cell",
    )
    return Table(header, tuple(rows), f"Quoted. {table['caption']}")


def _ratio_text(r: float) -> str:
    return f"{r:.3f} ({100 * (r - 1):+.1f}%)"


def _our_ratios(opt: str, boards: list[Leaderboard], with_data: bool, baseline: str) -> str | Styled:
    parts = []
    for board in boards:
        s, base = board.get(opt), board.baseline
        if s is None or base is None or s.summary is None:
            continue
        detail = f" [{fmt.verdict(s.verdict)}]" if s.verdict else ""
        parts.append(f"{fmt.board_label(board, with_data)}: {_ratio_text(s.summary.mean / base.summary.mean)}{detail}")
    if parts:
        return "\n".join(parts)
    ran = any(board.get(opt) is not None for board in boards)
    return Styled(f"no result beside a finished {fmt.who(baseline)}" if ran else "not run in this suite")


def _our_multipliers(ladders: list[Ladder], names) -> list[str]:
    """Our multiplier vs the baseline at each ladder's largest compute, with its bootstrap band when there is one."""
    out = []
    for lad in ladders:
        C = max(compute_of(c) for c in lad.boards)
        for name in (n for n in names if n in lad.compared):
            gain = compute_multiplier(lad.fit, name, [C], lad.baseline)[0]
            if not math.isfinite(gain):
                continue
            text = f"`{name}` on {lad.data} ({lad.rule}): {gain:.3f}"
            band = lad.bands.get(name)
            if band is not None:
                text += f" [{band.low[-1]:.3f}, {band.high[-1]:.3f}]"  # the grid ends at the largest C
            out.append(text)
    return out
