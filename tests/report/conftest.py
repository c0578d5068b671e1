import pytest

from optarena.report import build_report
from tests.report.helpers import write_db

NUM_BOOTSTRAP = 10  # the band's quality is tests/scaling's business; here it only has to be drawn


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A two-size ladder with the bench's choices table: (results dir, leaderboard.md text, report.html text)."""
    out = tmp_path_factory.mktemp("bench")
    write_db(out)
    md, html, *_ = build_report(out, num_bootstrap=NUM_BOOTSTRAP)
    return out, md.read_text(encoding="utf-8"), html.read_text(encoding="utf-8")
