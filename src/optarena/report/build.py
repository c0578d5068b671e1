"""`build_report(results_dir)`: read DIR/results.db, write DIR/leaderboard.md, DIR/report.html,
DIR/claims.md (the seed papers' claims against our measurements, also a section of the other two) and
DIR/leaderboard.csv and .json (the leaderboards as data: export.py, which `optarena export` runs whole);
`floor_lines(results_dir)`: each cell's reference floors in a line, for a terminal."""

from __future__ import annotations

from pathlib import Path

from optarena._files import atomic_write
from optarena.report.claims import check_claims, claims_blocks, load_claims
from optarena.report.document import Heading, to_html, to_markdown
from optarena.report.export import write_leaderboard
from optarena.report.ladder import find_ladders, fit_ladder
from optarena.report.leaderboard import floor_summary
from optarena.report.results import load_results
from optarena.report.sections import report_blocks
from optarena.report.standings import build_leaderboards

MARKDOWN_NAME = "leaderboard.md"
HTML_NAME = "report.html"
CLAIMS_NAME = "claims.md"


def build_report(
    results_dir: str | Path, num_bootstrap: int = 200, baseline: str | None = None, export: bool = True
) -> tuple[Path, ...]:
    """Write the leaderboard (Markdown), the self-contained report (HTML), the claims (Markdown) and,
    with `export`, the leaderboard as CSV and JSON (export.py) into `results_dir`; returns their paths,
    in that order.

    Deterministic: the same database gives byte-identical files (the bootstrap is seeded and no build
    time is written), so rebuilding is idempotent. `num_bootstrap`: replicates per multiplier band
    (0: no bands). `baseline`: compare with this optimizer instead of the suite's baseline.
    """
    results = load_results(results_dir, baseline)
    boards = build_leaderboards(results)
    ladders = [fit_ladder(ladder, num_bootstrap) for ladder in find_ladders(boards)]
    claims = check_claims(load_claims(), boards, ladders, with_data=len({c.key.data for c in boards}) > 1)
    blocks = report_blocks(results, boards, ladders, claims, command_dir=str(results_dir))
    md, html, claims_md = (results.path / name for name in (MARKDOWN_NAME, HTML_NAME, CLAIMS_NAME))
    suite = results.meta.get("suite", "?")
    atomic_write(md, to_markdown(blocks))  # atomically: a browser reloading the page never sees half of it
    atomic_write(html, to_html(blocks, title=f"optarena report: {suite}"))
    atomic_write(claims_md, to_markdown([Heading(f"optarena claims: {suite}", 1), *claims_blocks(claims)]))
    exported = write_leaderboard(results.path, boards) if export else []
    return (md, html, claims_md, *exported)


def floor_lines(results_dir: str | Path, baseline: str | None = None) -> list[str]:
    """Per cell: its floors and the baseline's distance below the bigram floor (floors computed for the
    report are cached in this process, so after `build_report` this costs a second read of the database)."""
    return [floor_summary(board) for board in build_leaderboards(load_results(results_dir, baseline))]
