"""`build_report(results_dir)`: read DIR/results.db, write DIR/leaderboard.md, DIR/report.html and
DIR/claims.md (the seed papers' claims against our measurements, also a section of the other two);
`floor_lines(results_dir)`: each cell's reference floors in a line, for a terminal."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from optarena._files import atomic_write
from optarena.report.claims import check_claims, claims_blocks, load_claims
from optarena.report.document import Heading, to_html, to_markdown
from optarena.report.ladder import find_ladders, fit_ladder
from optarena.report.leaderboard import floor_summary
from optarena.report.results import Results, load_results
from optarena.report.sections import report_blocks
from optarena.report.standings import build_leaderboards

MARKDOWN_NAME = "leaderboard.md"
HTML_NAME = "report.html"
CLAIMS_NAME = "claims.md"


def build_report(
    results_dir: str | Path, num_bootstrap: int = 200, baseline: str | None = None
) -> tuple[Path, Path, Path]:
    """Write the leaderboard (Markdown), the self-contained report (HTML) and the claims (Markdown) into
    `results_dir`; returns their paths.

    Deterministic: the same database gives byte-identical files (the bootstrap is seeded and no build
    time is written), so rebuilding is idempotent. `num_bootstrap`: replicates per multiplier band
    (0: no bands). `baseline`: compare with this optimizer instead of the suite's baseline.
    """
    results = _load(results_dir, baseline)
    boards = build_leaderboards(results)
    ladders = [fit_ladder(ladder, num_bootstrap) for ladder in find_ladders(boards)]
    claims = check_claims(load_claims(), boards, ladders, with_data=len({c.key.data for c in boards}) > 1)
    blocks = report_blocks(results, boards, ladders, claims, command_dir=str(results_dir))
    md, html, claims_md = (results.path / name for name in (MARKDOWN_NAME, HTML_NAME, CLAIMS_NAME))
    suite = results.meta.get("suite", "?")
    atomic_write(md, to_markdown(blocks))  # atomically: a browser reloading the page never sees half of it
    atomic_write(html, to_html(blocks, title=f"optarena report: {suite}"))
    atomic_write(claims_md, to_markdown([Heading(f"optarena claims: {suite}", 1), *claims_blocks(claims)]))
    return md, html, claims_md


def floor_lines(results_dir: str | Path, baseline: str | None = None) -> list[str]:
    """Per cell: its floors and the baseline's distance below the bigram floor (floors computed for the
    report are cached in this process, so after `build_report` this costs a second read of the database)."""
    return [floor_summary(board) for board in build_leaderboards(_load(results_dir, baseline))]


def _load(results_dir: str | Path, baseline: str | None) -> Results:
    """The results, compared with `baseline` when given: a database made before its suite named one (or
    before suites could) may be read against any optimizer it has."""
    results = load_results(results_dir)
    if baseline is None:
        return results
    if baseline not in results.optimizers:
        raise ValueError(f"baseline {baseline!r} has no runs in {results.path}; "
                         f"optimizers: {', '.join(results.optimizers) or 'none'}")
    return dataclasses.replace(results, baseline=baseline)
