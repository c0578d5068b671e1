"""Best LR, seeds, verdicts and statuses per cell, checked against the synthetic database's construction."""

import math
import sqlite3

import numpy as np
import pytest

from optarena.report.results import load_results
from optarena.report.standings import build_leaderboards
from tests.report.helpers import MULTS, OPTIMIZERS, write_db


@pytest.fixture(scope="module")
def boards_both(tmp_path_factory):
    """(cells with the bench's choices, cells without: the report derives the best LR itself)."""
    with_choices, without = tmp_path_factory.mktemp("choices"), tmp_path_factory.mktemp("derived")
    write_db(with_choices)
    write_db(without, with_choices=False)
    return build_leaderboards(load_results(with_choices)), build_leaderboards(load_results(without))


def _losses_at_best(db, model, opt):
    """Independent reference: the finished runs at the LR with the lowest mean loss, straight from SQL."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT lr, final_val_loss FROM runs WHERE model=? AND optimizer=? AND status='finished'", (model, opt)
    ).fetchall()
    con.close()
    by_lr = {}
    for lr, loss in rows:
        by_lr.setdefault(lr, []).append(loss)
    best = min(by_lr, key=lambda lr: np.mean(by_lr[lr]))
    return best, by_lr[best]


def test_ranking_and_statistics(boards_both, tmp_path):
    boards, _ = boards_both
    db = write_db(tmp_path)
    tiny = boards[0]
    assert tiny.key.model == "tiny"
    order = [s.optimizer for s in tiny.standings]
    assert order == ["muon", "lion", "adamw", "stable-momentum", "dms"]
    for s in tiny.standings:
        best, losses = _losses_at_best(db, "tiny", s.optimizer)
        assert s.best_lr == pytest.approx(best, rel=1e-12)
        assert s.summary.n == len(losses) == OPTIMIZERS[s.optimizer][3]
        assert s.summary.mean == pytest.approx(np.mean(losses), abs=1e-12)
        if len(losses) > 1:
            assert s.summary.std == pytest.approx(np.std(losses, ddof=1), abs=1e-12)


def test_verdicts_against_adamw(boards_both):
    tiny = boards_both[0][0]
    verdicts = {s.optimizer: s.verdict.verdict if s.verdict else None for s in tiny.standings}
    assert verdicts == {
        "muon": "better",
        "dms": "worse",
        "stable-momentum": "n/a (1 seed)",
        "lion": "n/a (1 seed)",
        "adamw": None,
    }
    muon, adamw = tiny.get("muon"), tiny.baseline
    assert muon.verdict.delta == pytest.approx(muon.summary.mean - adamw.summary.mean, abs=1e-12)


def test_edge_divergence_and_all_diverged(boards_both):
    small = boards_both[0][1]
    assert small.get("muon").edge == "highest"  # optimum at 5x, grid up to 4x
    assert all(s.edge == "" for s in small.standings if s.optimizer != "muon")
    adamw = small.get("adamw")
    assert adamw.num_diverged_lrs == 1 and adamw.lr_points[-1].num_diverged == 1
    lion = small.standings[-1]
    assert (lion.optimizer, lion.status, lion.num_diverged_lrs, lion.summary) == ("lion", "diverged", len(MULTS), None)


def test_derived_choice_matches_the_bench(boards_both):
    """With an empty choices table the report picks the same LRs and edges as the bench did."""
    for a, b in zip(*boards_both):
        for s in a.standings:
            t = b.get(s.optimizer)
            assert (s.picked_by, t.picked_by) == (("bench", "report") if s.best_lr else ("", ""))
            assert (t.best_lr, t.edge, t.status) == (s.best_lr, s.edge, s.status)


def test_repeated_seed_counts_once_and_lr_matches_loosely(tmp_path):
    db = write_db(tmp_path, sizes=("tiny",))
    con = sqlite3.connect(db)
    (lr,) = con.execute("SELECT best_lr FROM choices WHERE optimizer='adamw'").fetchone()
    # a rerun of seed 1 at an LR that differs in the last bits (lr computed as base x multiplier elsewhere)
    con.execute(
        "INSERT INTO runs (cell, model, optimizer, lr, seed, tokens, data, phase, status, final_val_loss) "
        "SELECT 'rerun', model, optimizer, ?, seed, tokens, data, 'seeds', 'finished', 9.0 FROM runs "
        "WHERE optimizer='adamw' AND seed=1",
        (lr * (1 + 1e-13),),
    )
    con.commit()
    con.close()
    adamw = build_leaderboards(load_results(tmp_path))[0].get("adamw")
    assert adamw.summary.n == 3
    assert max(r.final_val_loss for r in adamw.best_runs) == 9.0  # the latest run of seed 1 wins
    assert math.isclose(adamw.best_lr, lr)


def test_bench_edge_flag_on_a_single_lr_keeps_its_side_unknown(tmp_path):
    """An LR from a tuned table (one point here, the sweep elsewhere) flagged at_edge by the bench."""
    write_db(tmp_path, sizes=("tiny",))
    con = sqlite3.connect(tmp_path / "results.db")
    con.execute("DELETE FROM runs WHERE optimizer='dms' AND lr_mult != 1.0")
    con.execute("UPDATE choices SET at_edge=1, best_lr=(SELECT lr FROM runs WHERE optimizer='dms' LIMIT 1) "
                "WHERE optimizer='dms'")  # fmt: skip
    con.commit()
    con.close()
    dms = build_leaderboards(load_results(tmp_path))[0].get("dms")
    assert (len(dms.lr_points), dms.edge, dms.status) == (1, "edge", "ranked")
