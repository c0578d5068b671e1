"""Reference floors in the report: read from the bench's columns or computed for an older database, shown
per cell (lines, "below" columns, plot lines), flagged in the overview when AdamW is above the bigram."""

import json
import sqlite3

import numpy as np
import pytest

from optarena.bench import ResultsDB
from optarena.cli import main
from optarena.data import SyntheticSource, write_shard
from optarena.data.floors import ngram_floors
from optarena.report import build_report, figures
from optarena.report.curves import MeanCurve
from optarena.report.results import load_results
from optarena.report.standings import build_leaderboards
from tests.report.helpers import set_floors, write_db
from tests.report.test_report import _rows, _section

NOT_LM = "this cell does not measure language modelling"
VAL_TOKENS = 131072


def _means(directory, model="tiny"):
    """{optimizer: mean final loss at its best LR} of one cell, from the standings."""
    (board,) = [c for c in build_leaderboards(load_results(directory)) if c.key.model == model]
    return {s.optimizer: s.summary.mean for s in board.standings if s.summary}


def _floors_board(tmp_path, bigram_minus_adamw: float, unigram_minus_adamw: float = 0.7):
    """A one-cell database whose recorded bigram floor is AdamW's mean + `bigram_minus_adamw`."""
    db = write_db(tmp_path, sizes=("tiny",))
    adamw = _means(tmp_path)["adamw"]
    unigram, bigram = adamw + unigram_minus_adamw, adamw + bigram_minus_adamw
    set_floors(db, unigram, bigram, VAL_TOKENS)
    return unigram, bigram


def _update(db, sql: str, *args) -> None:
    con = sqlite3.connect(db)
    con.execute(sql, args)
    con.commit()
    con.close()


def _column(section: str, name: str) -> int:
    header = next(line for line in section.splitlines() if line.startswith("| # |"))
    return [c.strip() for c in header.strip().strip("|").split(" | ")].index(name)


def test_leaderboard_has_a_line_per_floor_and_the_below_columns(tmp_path):
    unigram, bigram = _floors_board(tmp_path, bigram_minus_adamw=-0.03)  # between muon and adamw
    means = _means(tmp_path)
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    tiny = _section(md, "### tiny")
    assert f"| unigram | {unigram:.4f} | {unigram - means['adamw']:+.4f} |" in tiny
    assert f"| bigram | {bigram:.4f} | {bigram - means['adamw']:+.4f} |" in tiny
    assert "entropy rate" not in tiny  # not synthetic data
    assert f"scored on the {VAL_TOKENS:,} validation tokens" in tiny and "recorded by the bench" in tiny
    rows, col = _rows(tiny), _column(tiny, "below bigram")
    assert _column(tiny, "below unigram") == col + 1
    assert rows["muon"][col] == f"+{bigram - means['muon']:.4f}"  # below the floor: positive
    assert rows["adamw"][col] == f"-{means['adamw'] - bigram:.4f}"  # above it: negative
    assert rows["dms"][col + 1] == f"+{unigram - means['dms']:.4f}"
    assert rows["lion"][col] == f"{bigram - means['lion']:+.4f}"


@pytest.mark.parametrize("gap, flagged", [(-0.02, True), (0.02, False)])
def test_overview_flags_a_cell_whose_adamw_does_not_beat_the_bigram(tmp_path, gap, flagged):
    _floors_board(tmp_path, bigram_minus_adamw=gap)
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    overview = _section(md, "## Overview")
    assert (NOT_LM in overview) == flagged
    assert ("> **⚠** tiny · 80M tokens: AdamW's final loss" in overview) == flagged  # the paragraph under the table
    assert (NOT_LM in _section(md, "### tiny")) == flagged
    row = next(line for line in overview.splitlines() if line.startswith("| tiny"))
    assert row.endswith(f"| **⚠ {-gap:.4f} above: {NOT_LM}** |" if flagged else f"| {gap:.4f} below |")


def test_cli_prints_each_cells_floors(tmp_path, capsys):
    unigram, bigram = _floors_board(tmp_path, bigram_minus_adamw=0.25)
    adamw = _means(tmp_path)["adamw"]
    assert main(["report", str(tmp_path), "--bootstrap", "0"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("wrote ")]
    assert lines == [f"tiny / 80,000,000 tokens / fineweb: unigram {unigram:.3f}, bigram {bigram:.3f} nats "
                         f"({VAL_TOKENS:,} val tokens); adamw {adamw:.3f} = {bigram - adamw:.3f} below bigram"]


def test_loss_plot_draws_each_floor_as_a_labelled_dashed_line():
    x = np.linspace(0.0, 1e6, 5)
    curve = MeanCurve(np.arange(5), x, np.linspace(6, 4, 5), np.linspace(6, 4, 5), np.linspace(6, 4, 5), 1)
    colours = figures.palette(["adamw"], "adamw")
    fig = figures.loss_vs_tokens({"adamw": curve}, colours, "t", [("unigram", 5.0), ("bigram", 3.0)])
    (ax,) = fig.axes
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert sorted(line.get_ydata()[0] for line in dashed) == [3.0, 5.0]
    assert {t.get_text() for t in ax.texts} == {"unigram floor 5.000", "bigram floor 3.000"}
    assert ax.get_ylim()[0] < 3.0  # the bigram floor below the curves is in view


def test_html_names_the_floor_lines_of_its_plots(tmp_path):
    unigram, bigram = _floors_board(tmp_path, bigram_minus_adamw=0.1)
    page = build_report(tmp_path, num_bootstrap=0)[1].read_text()
    caption = f"Dashed: the reference floors on the final losses' validation tokens, unigram {unigram:.4f}, bigram"
    assert page.count(caption) == 2  # the loss curves and the LR sensitivity


def test_the_loss_curves_get_the_floors_of_their_own_prefix(tmp_path):
    """Curves score a shorter prefix than the final losses: their plot's floors are on that prefix."""
    db = write_db(tmp_path, sizes=("tiny",))
    set_floors(db, 5.0, 3.0, 131072, curve=(5.1, 2.9, 16384))
    (board,) = build_leaderboards(load_results(tmp_path))
    assert board.floors.curve_floors().lines() == [("unigram", 5.1), ("bigram", 2.9)]
    assert board.floors.lines() == [("unigram", 5.0), ("bigram", 3.0)]
    page = build_report(tmp_path, num_bootstrap=0)[1].read_text()
    assert "the reference floors on the curves' 16,384 validation tokens, unigram 5.1000, bigram 2.9000" in page
    assert page.count("the reference floors on the final losses' validation tokens, unigram 5.0000") == 1


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """A small shard directory, its train and val tokens."""
    out = tmp_path_factory.mktemp("floor_shards")
    source = SyntheticSource(vocab_size=64, order=1, zipf_s=1.5, seed=0)
    train, val = source.sample(2**15, stream=0), source.sample(2**11, stream=1)
    write_shard(out / "train_000000.bin", train)
    write_shard(out / "val_000000.bin", val)
    (out / "meta.json").write_text(json.dumps({"tokenizer": "synthetic", "vocab_size": 64}))
    return out, train, val


@pytest.mark.parametrize("final_val_tokens", [None, 1024])
def test_an_older_database_gets_floors_computed_from_its_data(tmp_path, shards, final_val_tokens):
    directory, train, val = shards
    db = write_db(tmp_path, sizes=("tiny",), data=str(directory))
    config = {"data": {"seq_len": 96}, "log": {"eval_tokens": 512}}  # a config from before final_eval_tokens
    _update(db, "UPDATE runs SET config_json=?", json.dumps(config))
    if final_val_tokens is not None:  # recorded by a bench whose floors failed
        ResultsDB(db, create=True).close()
        _update(db, "UPDATE runs SET final_val_tokens=?", final_val_tokens)
    (board,) = build_leaderboards(load_results(tmp_path))
    scored = final_val_tokens or (len(val) - 1) // 96 * 96  # the whole val set, in whole sequences
    expected = ngram_floors(train, val[: scored + 1], 64)
    assert (board.floors.unigram, board.floors.bigram) == (expected["unigram"], expected["bigram"])
    assert (board.floors.val_tokens, board.floors.source) == (scored, "report")
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    assert f"| bigram | {expected['bigram']:.4f} |" in md and "computed by this report" in md


def test_floors_are_unknown_with_the_reason(tmp_path):
    write_db(tmp_path, sizes=("tiny",))  # no floors, no config: nothing to compute them from
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    assert "Reference floors unknown: the database records neither the floors nor how many" in md
    assert "below bigram" not in md and NOT_LM not in md
    assert "| floors unknown |" in _section(md, "## Overview")

    other = tmp_path / "other"
    db = write_db(other, sizes=("tiny",), data=str(tmp_path / "not-here"))
    _update(db, "UPDATE runs SET config_json=?", json.dumps({"data": {"seq_len": 32}, "log": {}}))
    (board,) = build_leaderboards(load_results(other))
    assert not board.floors.known
    assert f"data `{tmp_path / 'not-here'}` cannot be read on this machine" in board.floors.problem


def test_synthetic_data_adds_the_entropy_rate_line(tmp_path):
    db = write_db(tmp_path, sizes=("tiny",), loss_floor=1.2)
    set_floors(db, 4.0, 3.0, VAL_TOKENS)
    md = build_report(tmp_path, num_bootstrap=0)[0].read_text()
    adamw = _means(tmp_path)["adamw"]
    assert f"| entropy rate | 1.2000 | {1.2 - adamw:+.4f} |" in _section(md, "### tiny")
