"""`build_report` and `optarena report` end to end on the synthetic database (tests/report/helpers.py)."""

import base64
import json
import re
import sqlite3
from html.parser import HTMLParser

import numpy as np
import pytest

from optarena.cli import main
from optarena.report import build_report
from tests.report.helpers import write_db

CELL_PLOTS = ("Validation loss at each optimizer's best LR", "LR sensitivity", "Loss ratio to AdamW")
LADDER_PLOTS = ("Scaling fit", "Compute multiplier vs AdamW")


def _section(md: str, heading: str) -> str:
    """From `heading` to the next heading of its level or above."""
    start = md.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    ends = [md.find("\n" + "#" * k + " ", start + 1) for k in range(1, level + 1)]
    return md[start : min((e for e in ends if e > 0), default=None)]


def _rows(section: str) -> dict[str, list[str]]:
    """{optimizer: its cells} of the first leaderboard table in `section`, in order."""
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) > 2 and cells[1].startswith("`"):
            rows.setdefault(cells[1].strip("`"), cells)
    return rows


def _reference(out, model, opt):
    """mean, std, n of the runs at the bench's chosen LR, from SQL."""
    con = sqlite3.connect(out / "results.db")
    losses = [
        x
        for (x,) in con.execute(
            "SELECT final_val_loss FROM runs r JOIN choices c ON r.model=c.model AND r.optimizer=c.optimizer AND "
            "r.tokens=c.tokens AND r.data=c.data WHERE r.model=? AND r.optimizer=? AND r.lr=c.best_lr "
            "AND r.status='finished'",
            (model, opt),
        )
    ]
    con.close()
    return np.mean(losses), np.std(losses, ddof=1) if len(losses) > 1 else None, len(losses)


def test_leaderboard_ranks_with_stats_verdicts_and_flags(built):
    out, md, _ = built
    tiny = _rows(_section(md, "### tiny"))
    assert list(tiny) == ["muon", "lion", "adamw", "stable-momentum", "dms"]
    assert [r[0] for r in tiny.values()] == ["1", "2", "3", "4", "5"]
    mean, std, n = _reference(out, "tiny", "muon")
    base_mean, base_std, _ = _reference(out, "tiny", "adamw")
    assert tiny["muon"][2] == f"{mean:.4f} ± {std:.4f} (n={n})"
    assert tiny["adamw"][2] == f"{base_mean:.4f} ± {base_std:.4f} (n=3)"
    assert tiny["muon"][3] == f"{mean - base_mean:+.4f} ({100 * (mean - base_mean) / base_mean:+.2f}%)"
    assert tiny["muon"][4:7] == ["better", "<1e-4", "<1e-4"]  # verdict, p (Welch), p (Holm)
    assert tiny["dms"][4] == "worse" and float(tiny["dms"][6]) >= float(tiny["dms"][5])
    assert tiny["stable-momentum"][2].endswith("(n=1)")
    assert tiny["stable-momentum"][4:7] == ["n/a (1 seed)", "—", "—"]
    assert tiny["adamw"][3:7] == ["baseline", "baseline", "—", "—"]
    assert tiny["muon"][8] == "**⚠ AT EDGE: highest of 5 LRs**"  # the loud flag
    assert tiny["adamw"][9] == "✗ 1 of 5" and tiny["muon"][9] == "0"
    assert tiny["muon"][11] == "38.1 MiB (0.50×)" and tiny["dms"][11] == "—"  # not measured
    assert tiny["muon"][12] == "6 ms (1.50×)"
    assert "Holm–Bonferroni adjusted p over the 2 tests of this cell at α = 0.05" in _section(md, "### tiny")


def test_all_diverged_optimizer_is_listed_last_as_diverged(built):
    _, md, _ = built
    small = _rows(_section(md, "### small"))
    assert list(small)[-1] == "lion"
    assert small["lion"][:3] == ["—", "`lion`", "diverged (every run, 5 LRs)"]
    assert small["lion"][9] == "✗ 5 of 5"


def test_report_has_overview_ladder_quoted_and_reproducibility(built):
    out, md, _ = built
    for heading in (
        "## Overview",
        "## Leaderboards",
        "## Scaling ladders",
        "## Quoted from the papers",
        "## Reproducibility",
    ):
        assert heading in md
    for number in (
        "3.5369",
        "4.9266",
        "5.039",
        "5.045",
        "5.261",
        "4.927",
        "49.83",
        "43.21",
        "50.25",
        "53.21",
        "38.6",
        "1.30",
        "5.212",
        "Diverged",
        "3.861",
        "2.782",
    ):
        assert number in _section(md, "## Quoted from the papers")
    assert "3.3406" in md  # the tuned-AdamW reference beside the papers' 4.93
    assert f"optarena report {out}" in md and f"optarena bench test-ladder --out {out}" in md
    assert 'models = ["tiny", "small"]' in md and "`0123abcd`" in md  # suite TOML, git commit


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.refs, self.imgs = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.refs += [v for k, v in attrs.items() if k in ("src", "href", "srcset", "data", "action") and v]
        if tag == "img":
            self.imgs.append(attrs)


def test_html_is_self_contained_and_has_every_plot(built):
    _, _, page = built
    tags = _Tags()
    tags.feed(page)
    tags.close()
    assert not {"script", "link", "iframe", "object", "embed"} & set(tags.tags)
    assert not [r for r in tags.refs if re.match(r"(https?:)?//", r)]
    assert not re.search(r"@import|url\(", page)
    for img in tags.imgs:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    titles = [img["alt"] for img in tags.imgs]
    for title in CELL_PLOTS:
        assert titles.count(title) == 2  # one per cell
    for title in LADDER_PLOTS:
        assert titles.count(title) == 1


def test_synthetic_data_adds_excess_loss(tmp_path):
    write_db(tmp_path, sizes=("tiny",), loss_floor=1.2)
    md, html, *_ = build_report(tmp_path, num_bootstrap=0)
    assert "Excess loss over the entropy floor" in html.read_text()
    tiny = _rows(_section(md.read_text(), "### tiny"))
    assert tiny["adamw"][-1] == f"{float(tiny['adamw'][2].split()[0]) - 1.2:.4f}"  # excess over floor


def test_cli_writes_its_files_and_rebuilds_identically(built, tmp_path, capsys):
    out, md, page = built
    assert main(["report", str(out), "--bootstrap", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = ("leaderboard.md", "report.html", "claims.md", "leaderboard.csv", "leaderboard.json")
    assert lines[:5] == [f"wrote {out / name}" for name in names]
    assert lines[5:] == [f"{board} / fineweb: floors unknown: the database records neither the floors nor how many "
                         "validation tokens the final losses scored" for board in ("tiny / 80,000,000 tokens",
                                                                                  "small / 240,000,000 tokens")]
    assert (out / "leaderboard.md").read_text(encoding="utf-8") == md
    assert (out / "report.html").read_text(encoding="utf-8") == page
    assert main(["report", str(tmp_path)]) == 2  # no results.db
    assert "no results.db" in capsys.readouterr().err


def test_unfinished_runs_and_an_empty_database(tmp_path):
    write_db(tmp_path, sizes=())
    md, *_ = build_report(tmp_path)
    assert "The database has no runs yet." in md.read_text()
    con = sqlite3.connect(tmp_path / "results.db")
    for cell, opt, status in (("a", "adamw", "pending"), ("b", "muon", "failed")):
        con.execute(
            "INSERT INTO runs (cell, model, optimizer, lr, seed, tokens, data, status) "
            "VALUES (?, 'm', ?, 1e-3, 0, 1000, 'd', ?)",
            (cell, opt, status),
        )
    con.commit()
    con.close()
    rows = _rows(build_report(tmp_path)[0].read_text())
    assert rows["adamw"][2] == "**incomplete (runs still pending)**"
    assert rows["muon"][2].startswith("no result")


@pytest.mark.parametrize("version", ["2"])
def test_unknown_schema_version_is_refused(tmp_path, version):
    write_db(tmp_path, sizes=())
    con = sqlite3.connect(tmp_path / "results.db")
    con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (version,))
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="schema_version"):
        build_report(tmp_path)


@pytest.mark.parametrize("tuned", [False, True, None])
def test_report_flags_an_untuned_lr_table(tmp_path, tuned):
    write_db(tmp_path)
    suite = {"lr_table": "/somewhere/quick_lrs.toml", "lr_table_tuned": tuned} if tuned is not None else {}
    con = sqlite3.connect(tmp_path / "results.db")
    con.execute("INSERT INTO meta VALUES ('suite_json', ?)", (json.dumps(suite),))
    con.commit()
    con.close()
    md, *_ = build_report(tmp_path, num_bootstrap=0)
    flagged = "**LR table not tuned.** This suite's LRs come from `quick_lrs.toml`" in md.read_text()
    assert flagged == (tuned is False)


def test_a_cell_without_any_test_says_so_in_its_caption(tmp_path):
    import sqlite3

    db = write_db(tmp_path, sizes=("tiny",))
    con = sqlite3.connect(db)
    con.execute("DELETE FROM runs WHERE seed > 0")  # one seed everywhere: no Welch test is possible
    con.commit()
    con.close()
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    assert "Verdict: none in this cell. A Welch test needs two or more seeds on both sides" in md
    assert "adjusted p over the 0 tests" not in md


def test_the_stability_table_shows_the_recorded_spikes_and_spread(tmp_path):
    from optarena.bench import ResultsDB

    db = write_db(tmp_path, sizes=("tiny",))
    ResultsDB(db, create=True).close()  # the bench's migration adds the stability columns
    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET spikes = 2, max_spike = 0.25, grad_norm_cv = 0.4, grad_norm_p99_median = 3.0 "
                "WHERE optimizer = 'muon'")
    con.commit()
    con.close()
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    assert "| optimizer | loss spikes | largest spike | grad-norm CV | grad-norm p99 / median | seeds |" in md
    assert "| `muon` | 2 | 0.250 | 0.400 | 3.000 |" in md
    assert "| `adamw` | " not in md.split("| optimizer | loss spikes")[1].split("\n\n")[0]  # not recorded: no row


def test_a_database_without_stability_columns_has_no_stability_table(tmp_path):
    write_db(tmp_path, sizes=("tiny",))
    assert "loss spikes" not in build_report(tmp_path, num_bootstrap=0)[0].read_text()


def test_the_stability_table_tests_each_spread_against_the_baselines(tmp_path):
    from optarena.bench import ResultsDB

    db = write_db(tmp_path, sizes=("tiny",))
    ResultsDB(db, create=True).close()
    con = sqlite3.connect(db)
    # every run of an optimizer gets a CV around its own level, spread by seed: muon clearly higher than
    # adamw's, dms the same as adamw's
    for name, level in (("adamw", 0.30), ("muon", 0.60), ("dms", 0.30)):
        con.execute("UPDATE runs SET spikes = 1, max_spike = 0.1, grad_norm_cv = ? + 0.01 * seed, "
                    "grad_norm_p99_median = 2.0 WHERE optimizer = ?", (level, name))
    con.commit()
    con.close()
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    table = md.split("| optimizer | loss spikes")[1].split("\n\n")[0]
    assert "grad-norm CV vs `adamw` (Welch, Holm) |" in table
    rows = {line.split("|")[1].strip(): line.split("|")[-2].strip() for line in table.splitlines()[2:]}
    assert rows["`adamw`"] == "baseline"
    assert rows["`muon`"].startswith("higher, p") and "Holm p" in rows["`muon`"]
    assert rows["`dms`"].startswith("no significant difference, p=1")
    assert "lower is the smoother run" in md


def test_reproducibility_lists_the_commits_and_flags_a_row_made_at_several(tmp_path):
    write_db(tmp_path, sizes=("tiny",))
    con = sqlite3.connect(tmp_path / "results.db")
    record = json.dumps({"git": {"commit": "a" * 40, "dirty": False, "diff_sha256": None}})
    con.execute("UPDATE runs SET record_json=? WHERE status='finished'", (record,))
    later = json.dumps({"git": {"commit": "b" * 40, "dirty": True, "diff_sha256": "c" * 64}})
    con.execute("UPDATE runs SET record_json=? WHERE id=(SELECT min(id) FROM runs WHERE optimizer='muon')", (later,))
    con.commit()
    con.close()
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    repro = md[md.index("## Reproducibility"):]
    table = {cells[0]: cells[1:] for cells in (
        [c.strip() for c in line.strip().strip("|").split(" | ")] for line in repro.splitlines()
        if line.startswith("| `"))}
    con = sqlite3.connect(tmp_path / "results.db")
    finished = con.execute("SELECT count(*) FROM runs WHERE status='finished'").fetchone()[0]
    con.close()
    assert table[f"`{'a' * 12}`"] == [str(finished - 1), "adamw, dms, lion, muon, stable-momentum"]
    assert table[f"`{'b' * 12}+dirty {'c' * 8}`"] == ["1", "muon"]
    assert table["`not recorded`"] == ["1", "adamw"]  # its diverged run records nothing here
    assert (f"**Runs of one row at several commits**: tiny · adamw ({'a' * 12}, not recorded); "
            f"tiny · muon ({'a' * 12}, {'b' * 12}+dirty {'c' * 8})." in repro)
    assert "tiny · dms" not in repro
