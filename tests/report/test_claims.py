"""The claims table (claims.py, claims.toml): each kind's verdict on hand-made cells, the ladder's
multiplier claims, "not measured here", claims.md, and the quotes against the seed papers' text."""

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from optarena.bench.suite import load_suite
from optarena.report import build_report
from optarena.report.claims import (
    AGREES,
    DISAGREES,
    INCONCLUSIVE,
    KINDS,
    Claim,
    _change_band,
    _side,
    check_claims,
    load_claims,
)
from optarena.report.ladder import find_ladders, fit_ladder
from optarena.report.quoted import load_quoted
from optarena.report.results import Results, Run, load_results
from optarena.report.standings import build_leaderboards
from optarena.scaling import MultiplierBand
from tests.report.helpers import write_db

# The papers' text is not in the repository (three of them have no arXiv id to fetch it by): set
# OPTARENA_SEED_PAPERS to a folder holding the files below to check each quoted number against it.
SEEDS = Path(os.environ["OPTARENA_SEED_PAPERS"]) if os.environ.get("OPTARENA_SEED_PAPERS") else None
SEED_FILES = {  # the start of a claim's paper -> its seed paper's text
    "Dynamic Momentum Scaling": "dms-dynamic-momentum-scaling.txt",
    "Stable Momentum Optimization": "stable-momentum.txt",
    "Scaled Variance-Reduced Momentum": "svrm-scaled-variance-reduced-momentum.txt",
    "Grams": "grams.txt",
    "Logarithmic-time Schedules": "adana-log-time-schedules.txt",
}
WORSE, SAME, BETTER = [3.10, 3.11, 3.12], [3.005, 3.015, 3.025], [2.90, 2.91, 2.92]
BASE = [3.00, 3.01, 3.02]


def _run(i: int, opt: str, loss: float | None, seed: int, spikes: int | None = None) -> Run:
    return Run(i, "tiny", opt, 1e-3, seed, 80_000_000, "fineweb", "seeds", "finished" if loss else "diverged",
               loss, None if loss else 10, None, None, None, 10_000_000, 4_000_000, None, None, None, None, None,
               None, None, None, spikes=spikes, grad_norm_cv=None if spikes is None else 0.5)


def _boards(rows: dict[str, list[float] | str], baseline: str = "adamw"):
    """One cell: each optimizer's final losses, one run per seed at one LR ("diverged": 3 runs that did)."""
    runs = []
    for opt, losses in rows.items():
        for seed, loss in enumerate([None] * 3 if losses == "diverged" else losses):
            runs.append(_run(len(runs), opt, loss, seed, spikes=seed if opt.startswith("svrm") else None))
    return build_leaderboards(Results(Path("."), {}, tuple(runs), {}, {}, baseline))


def _claim(kind: str, **spec) -> Claim:
    return Claim("t", "A paper (no arXiv id)", "Table 1", "words", ("1",), "paper", "a-suite", kind, spec)


def _verdict(claim, boards, ladders=()):
    (checked,) = check_claims([claim], boards, list(ladders), with_data=False)
    (m,) = checked.measurements
    return m


@pytest.mark.parametrize("losses, gap, verdict", [
    (WORSE, 2.3, AGREES), (WORSE, -2.3, DISAGREES), (BETTER, 2.3, DISAGREES), (SAME, 2.3, INCONCLUSIVE),
    ([3.1], 2.3, INCONCLUSIVE),  # one seed: no test
])
@pytest.mark.parametrize("baseline", ["adamw", "muon"])  # muon: y is not the cell's baseline, plain Welch
def test_gap_verdicts_and_the_interval(losses, gap, verdict, baseline):
    m = _verdict(_claim("gap", x="dms", y="adamw", gap_percent=gap), _boards({"adamw": BASE, "dms": losses}, baseline))
    assert m.verdict == verdict
    assert m.ours.startswith(f"{100 * (np.mean(losses) / np.mean(BASE) - 1):+.2f}%")
    assert ("Holm" in m.ours) == (baseline == "adamw" and len(losses) > 1)
    assert m.scale == "tiny (10M params), 80M tokens"
    if len(losses) > 1:  # the Welch interval of the difference over the baseline's mean
        x, y = np.array(losses), np.array(BASE)
        vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
        dof = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
        half = stats.t.ppf(0.975, dof) * math.sqrt(vx + vy)
        low, high = (100 * (x.mean() - y.mean() + s * half) / y.mean() for s in (-1, 1))
        assert f"[{low:+.2f}%, {high:+.2f}%]" in m.ours


@pytest.mark.parametrize("lion, verdict", [(WORSE, AGREES), (BETTER, DISAGREES), (SAME, INCONCLUSIVE),
                                           ("diverged", AGREES)])
def test_ahead_of_needs_all_for_agrees_and_one_for_disagrees(lion, verdict):
    claim = _claim("ahead_of", x="grams", of=["adam", "lion"])
    grams = [2.99, 3.00, 3.01]  # better than WORSE, worse than BETTER, like SAME
    boards = _boards({"adam": WORSE, "grams": grams, "lion": lion}, baseline="adam")
    assert _verdict(claim, boards).verdict == verdict


@pytest.mark.parametrize("rows, verdict", [
    ({"c=1": BASE, "c=2": WORSE, "c=None": "diverged"}, AGREES),
    ({"c=1": WORSE, "c=2": BASE, "c=None": "diverged"}, DISAGREES),  # the first step reversed
    ({"c=1": BASE, "c=2": WORSE, "c=None": BASE}, DISAGREES),  # the one said to diverge finished, better
    ({"c=1": BASE, "c=2": SAME, "c=None": "diverged"}, INCONCLUSIVE),
    ({"c=1": BASE, "c=2": "diverged", "c=None": "diverged"}, INCONCLUSIVE),  # two diverged rows tie
])
def test_ranking_takes_each_adjacent_step(rows, verdict):
    rows = {f"sm {k}": v for k, v in rows.items()}
    m = _verdict(_claim("ranking", order=list(rows)), _boards({"adamw": BASE, **rows}))
    assert m.verdict == verdict
    assert "c=1 < c=2" in m.ours and "c=2 < c=None" in m.ours


@pytest.mark.parametrize("other, verdict", [(WORSE, AGREES), (BETTER, DISAGREES), (SAME, INCONCLUSIVE)])
def test_best_of_shows_the_stability_columns_beside_the_loss(other, verdict):
    claim = _claim("best_of", best="svrm gamma=0.3", group=["svrm gamma=0.1", "svrm gamma=0.3", "svrm gamma=0.5"])
    boards = _boards({"adamw": BASE, "svrm gamma=0.1": WORSE, "svrm gamma=0.3": BASE, "svrm gamma=0.5": other})
    m = _verdict(claim, boards)
    assert m.verdict == verdict
    assert m.ours.count("spikes 1") == 3 and "grad-norm CV 0.5" in m.ours  # the stability table's means over seeds 0, 1, 2


def test_a_claim_without_its_rows_is_not_measured():
    claim = _claim("ahead_of", x="grams", of=["adam", "lion"])
    (checked,) = check_claims([claim], _boards({"adam": BASE, "grams": WORSE}), [], with_data=False)
    assert checked.measurements == () and checked.not_measured == "needs `grams`, `adam`, `lion` in one cell"


def test_a_band_decides_by_its_side():
    assert _side(0.1, 0.3, +1) == AGREES and _side(0.1, 0.3, -1) == DISAGREES
    assert _side(-0.3, -0.1, -1) == AGREES and _side(-0.1, 0.1, +1) == INCONCLUSIVE
    assert _side(math.nan, 0.1, +1) == INCONCLUSIVE


def test_the_trend_band_pairs_each_replicate_with_itself():
    """Replicates that all rise by 0.1 give a change band at 0.1, though each end's band is wide."""
    start = np.linspace(1.0, 2.0, 21)
    samples = np.stack([start, start + 0.05, start + 0.1], axis=1)  # (n, G): smallest .. largest compute
    band = MultiplierBand(np.array([1.0, 2.0, 3.0]), samples[10], samples.min(0), samples.max(0), samples, (5.0, 95.0))
    assert _change_band(band) == pytest.approx((0.1, 0.1))
    assert _side(*_change_band(band), +1) == AGREES and _side(*_change_band(band), -1) == DISAGREES


@pytest.fixture(scope="module")
def three_sizes(tmp_path_factory):
    """The synthetic ladder (helpers.py): muon at 1.4× AdamW's compute, dms at 0.8×, over 3 sizes."""
    out = tmp_path_factory.mktemp("ladder")
    write_db(out, sizes=("tiny", "small", "medium"))
    boards = build_leaderboards(load_results(out))
    return boards, [fit_ladder(lad, num_bootstrap=20) for lad in find_ladders(boards)]


@pytest.mark.parametrize("x, verdict", [("muon", AGREES), ("dms", DISAGREES)])
def test_a_multiplier_above_one_on_a_ladder(three_sizes, x, verdict):
    boards, ladders = three_sizes
    m = _verdict(_claim("multiplier", x=x, y="adamw", above_one=True), boards, ladders)
    assert m.verdict == verdict and f"(> 1: {verdict})" in m.ours and m.scale.startswith("ladder fineweb")
    trend = _verdict(_claim("multiplier", x=x, y="adamw", above_one=True, trend="rising"), boards, ladders)
    assert f"(> 1: {verdict})" in trend.ours and "(rising: " in trend.ours  # each part's verdict is shown
    if verdict == DISAGREES:  # one part disagreeing decides the claim
        assert trend.verdict == DISAGREES


def test_a_multiplier_on_two_sizes_is_inconclusive(tmp_path):
    write_db(tmp_path)
    boards = build_leaderboards(load_results(tmp_path))
    ladders = [fit_ladder(lad, num_bootstrap=10) for lad in find_ladders(boards)]
    m = _verdict(_claim("multiplier", x="muon", y="adamw", above_one=True), boards, ladders)
    assert m.verdict == INCONCLUSIVE and "2 sizes: no uncertainty" in m.ours
    (checked,) = check_claims([_claim("multiplier", x="muon", y="adam", above_one=True)], boards, ladders, False)
    assert checked.measurements == ()  # the ladder's baseline is adamw, not adam


def test_claims_md_is_written_and_the_section_sits_before_the_quotes(built):
    out, md, html = built
    claims = (out / "claims.md").read_text(encoding="utf-8")
    assert claims.startswith("# optarena claims: test-ladder\n\n## Claims")
    measured, missing = claims.split("### Not measured here")
    assert "2.3% worse than AdamW" in measured and measured.count("| agrees |") == 2  # dms in both cells
    assert "`grams-pretrain`" in missing and "`svrm-gamma`" in missing and "`grams-pretrain`" not in measured
    assert md.index("## Claims") < md.index("## Quoted from the papers") and ">Claims</h2>" in html
    assert claims.split("## Claims", 1)[1] in md  # the same section


def test_every_claim_is_well_formed_and_its_rows_are_its_suites():
    claims = load_claims()
    assert len({c.id for c in claims}) == len(claims) and {c.kind for c in claims} <= set(KINDS)
    assert {"gap", "ahead_of", "ranking", "best_of", "multiplier"} == {c.kind for c in claims}
    for c in claims:
        assert c.numbers and c.source in ("paper", "repository") and ("arXiv" in c.paper)
        assert set(c.rows) <= {v.name for v in load_suite(c.suite).variants}, c.id
        if c.kind == "gap" and len(c.numbers) == 2:  # the paper's two losses give its gap
            x, y = (float(n) for n in c.numbers)
            assert c.spec["gap_percent"] == pytest.approx(100 * (x / y - 1), abs=0.01)


def test_repository_claims_are_those_quoted_toml_quotes():
    quoted = " ".join(claim for p in load_quoted().papers for claim in p.get("claims", ()))
    repository = [c for c in load_claims() if c.source == "repository"]
    assert repository and all(n in quoted for c in repository for n in c.numbers)


@pytest.mark.skipif(SEEDS is None or not SEEDS.is_dir(), reason="OPTARENA_SEED_PAPERS: no folder of the papers' text")
def test_quoted_numbers_are_in_the_seed_papers():
    for c in (c for c in load_claims() if c.source == "paper"):
        (name,) = [f for start, f in SEED_FILES.items() if c.paper.startswith(start)]
        text = (SEEDS / name).read_text(encoding="utf-8")
        assert all(n in text for n in c.numbers), c.id
        if not re.search("[βγκ≤≥]", c.quote) and c.kind != "ranking":  # the text writes formulas in LaTeX,
            assert c.quote in text, c.id  # and a table's rows are quoted on one line
