"""The suite's `baseline`: stored with the suite, read by the report, used for every comparison and named in
its wording; Holm-adjusted verdicts in a cell."""

import json
import sqlite3

import numpy as np
import pytest
from scipy import stats

from optarena.bench import ResultsDB, load_suite
from optarena.bench.runner import start_suite
from optarena.cli import main
from optarena.report import build_report, figures
from optarena.report.ladder import find_ladders, fit_ladder
from optarena.report.results import load_results
from optarena.report.standings import build_leaderboards
from tests.report.helpers import set_floors, write_db
from tests.report.test_floors import NOT_LM, VAL_TOKENS, _column, _means
from tests.report.test_report import _Tags, _reference, _rows, _section

MEASURED = ("## Overview", "## Leaderboards", "## Scaling ladders")  # the sections in our own words


def _sql(db, *statements) -> None:
    con = sqlite3.connect(db)
    for sql, args in statements:
        con.execute(sql, args)
    con.commit()
    con.close()


def _adam_db(directory, sizes=("tiny", "small")):
    """The synthetic database with its `dms` runs renamed `adam` (3 seeds, worse than adamw) and a suite
    that names `adam` as its baseline."""
    db = write_db(directory, sizes=sizes)
    _sql(db, ("UPDATE runs SET optimizer='adam', optimizer_name='adam' WHERE optimizer='dms'", ()),
         ("UPDATE choices SET optimizer='adam' WHERE optimizer='dms'", ()),
         ("INSERT INTO meta VALUES ('suite_json', ?)", (json.dumps({"baseline": "adam"}),)))
    return db


@pytest.fixture(scope="module")
def adam_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("adam")
    _adam_db(out)
    md, html, *_ = build_report(out, num_bootstrap=0)
    return out, md.read_text(encoding="utf-8"), html.read_text(encoding="utf-8")


def test_the_bench_stores_the_baseline_and_the_report_reads_it(tmp_path):
    db = ResultsDB(tmp_path / "grams", create=True)
    start_suite(db, load_suite("grams-pretrain"))
    db.close()
    assert load_results(tmp_path / "grams").baseline == "adam"
    write_db(tmp_path / "old")  # no suite_json: a database from before suites named a baseline
    assert load_results(tmp_path / "old").baseline == "adamw"
    _sql(tmp_path / "old" / "results.db", ("INSERT INTO meta VALUES ('suite_json', ?)", (json.dumps({"seeds": 3}),)))
    assert load_results(tmp_path / "old").baseline == "adamw"  # a stored suite without the key


def test_deltas_and_verdicts_are_against_the_suites_baseline(adam_report):
    out, md, _ = adam_report
    tiny = next(c for c in build_leaderboards(load_results(out)) if c.key.model == "tiny")
    assert tiny.baseline_name == "adam" and tiny.baseline.optimizer == "adam"
    adam, _, _ = _reference(out, "tiny", "adam")
    adamw, _, _ = _reference(out, "tiny", "adamw")
    assert tiny.get("adam").verdict is None
    assert tiny.get("adamw").verdict.delta == pytest.approx(adamw - adam, abs=1e-12)
    assert tiny.get("adamw").verdict.verdict == "better"  # adamw beats the renamed dms by construction
    section = _section(md, "### tiny")
    rows = _rows(section)
    assert rows["adam"][3:7] == ["baseline", "baseline", "—", "—"]
    assert rows["adamw"][3] == f"{adamw - adam:+.4f} ({100 * (adamw - adam) / adam:+.2f}%)"
    assert _column(section, "Δ vs `adam`") == 3 and _column(section, "vs `adam` (Welch, Holm α=0.05)") == 4


def test_the_wording_names_the_baseline(adam_report):
    out, md, page = adam_report
    for heading in MEASURED:
        assert "AdamW" not in _section(md, heading), heading
    assert "| cell | lowest loss | its loss | `adam` | vs `adam` |" in md
    assert "The baseline is `adam`" in md and "against `adam`'s" in md
    assert "Compute multiplier vs `adam` at each size" in md
    assert "ours: loss ratio vs our `adam`, per cell" in md
    if figures.available():
        tags = _Tags()
        tags.feed(page)
        titles = [img["alt"] for img in tags.imgs]
        assert titles.count("Loss ratio to adam") == 2 and titles.count("Compute multiplier vs adam") == 1


def test_the_ladder_multiplier_is_against_the_baseline(tmp_path):
    _adam_db(tmp_path)
    (ladder,) = find_ladders(build_leaderboards(load_results(tmp_path)))
    ladder = fit_ladder(ladder, num_bootstrap=0)
    assert ladder.baseline == "adam" and "adam" not in ladder.compared and "adamw" in ladder.compared


def test_the_bigram_flag_names_the_baseline(tmp_path, capsys):
    db = _adam_db(tmp_path, sizes=("tiny",))
    means = _means(tmp_path)
    bigram = (means["adam"] + means["adamw"]) / 2  # adamw below it, the baseline above it
    set_floors(db, bigram + 0.7, bigram, VAL_TOKENS)
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    overview = _section(md, "## Overview")
    assert "`adam` vs bigram floor" in overview and NOT_LM in overview
    assert f"> **⚠** tiny · 80M tokens: `adam`'s final loss {means['adam']:.4f}" in overview
    assert "| reference floor | nats/token | `adam` below it |" in _section(md, "### tiny")
    assert main(["report", str(tmp_path), "--bootstrap", "0"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"adam {means['adam']:.3f} = "
                                                            f"{means['adam'] - bigram:.3f} above bigram: {NOT_LM}")


def test_the_grams_papers_adam_is_our_adam(adam_report, built):
    def adam_row(md):
        quoted = _section(md, "### Grams")
        return next(line for line in quoted.splitlines() if line.startswith("| Adam |"))

    assert adam_row(adam_report[1]).endswith("| `adam` | baseline |")
    assert adam_row(built[1]).endswith("| `adam` | not run in this suite |")  # the adamw suite has no adam


def test_cli_reads_an_old_database_against_another_baseline(tmp_path, capsys):
    write_db(tmp_path, sizes=("tiny",))
    assert main(["report", str(tmp_path), "--bootstrap", "0", "--baseline", "muon"]) == 0
    md = (tmp_path / "leaderboard.md").read_text()
    assert _rows(_section(md, "### tiny"))["muon"][3] == "baseline" and "Δ vs `muon`" in md
    capsys.readouterr()
    assert main(["report", str(tmp_path), "--baseline", "muonn"]) == 2
    err = capsys.readouterr().err
    assert "baseline 'muonn' has no runs" in err and "optimizers: adamw, dms, lion, muon, stable-momentum" in err


def test_holm_turns_two_raw_significant_verdicts_into_no_difference(tmp_path):
    """Two optimizers, each at raw p ≈ 0.03 against the baseline: Holm over m = 2 puts both above 0.05."""
    db = write_db(tmp_path, sizes=())
    base = np.array([3.0, 3.01, 3.02])
    losses = {"adamw": base, "better-one": base - 0.027, "worse-one": base + 0.028, "one-seed": base[:1] - 0.1}
    rows = [(f"{opt}/{seed}", opt, seed, float(x)) for opt, xs in losses.items() for seed, x in enumerate(xs)]
    _sql(db, *(("INSERT INTO runs (cell, model, optimizer, lr, seed, tokens, data, phase, status, final_val_loss) "
                "VALUES (?, 'm', ?, 1e-3, ?, 1000, 'd', 'seeds', 'finished', ?)", row) for row in rows))
    p = {opt: stats.ttest_ind(losses[opt], base, equal_var=False).pvalue for opt in ("better-one", "worse-one")}
    assert p["worse-one"] < p["better-one"] < 0.05  # each significant alone
    holm = {"worse-one": 2 * p["worse-one"], "better-one": max(2 * p["worse-one"], p["better-one"])}
    assert min(holm.values()) >= 0.05
    (board,) = build_leaderboards(load_results(tmp_path))
    assert board.num_tests == 2  # the 1-seed row has no test and does not count in m
    for opt in holm:
        v = board.get(opt).verdict
        assert v.p_value == pytest.approx(p[opt], rel=1e-9) and v.p_adjusted == pytest.approx(holm[opt], rel=1e-9)
        assert v.verdict == "no significant difference"
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    table = _rows(_section(md, "## Leaderboards"))
    for opt in holm:
        assert table[opt][4:7] == ["no significant difference", f"{p[opt]:.2g}", f"{holm[opt]:.2g}"]
    assert table["one-seed"][4:7] == ["n/a (1 seed)", "—", "—"]
    assert "Holm–Bonferroni adjusted p over the 2 tests of this cell at α = 0.05" in md
