"""The seed papers' claims (claims.toml), each set against our measurement with a verdict.

A claim is data: who claims it (paper, arXiv id or "no arXiv id"), the words and numbers as printed
(labelled "quoted" wherever they are shown), the suite that measures it and a `kind`, how it is measured.
Per results directory, a claim is measured in every cell (model × tokens × data) that holds all the rows
it needs (one line per cell, with its scale: model, parameters, tokens, data), and is listed as "not
measured here", naming its suite, where no cell does. Verdicts: agrees / disagrees / inconclusive at
this scale; losses are best-LR final validation losses (standings.py), lower is better.

* `gap`: x vs y, the paper's relative gap in % (+: x worse). Ours: Δ% = 100·(mean_x/mean_y − 1) with a
  95% interval: the Welch interval of mean_x − mean_y (from the seeds' std) over mean_y, taking mean_y
  as fixed (its standard error is far below the mean). Significance: the cell's Holm-adjusted verdict
  where y is the suite's baseline, else Welch's p of x vs y. Agrees when significant in the claimed
  direction, disagrees when significant the other way, inconclusive otherwise (or with one seed).
* `ahead_of`: x better than each of a list. One Welch test per pair, Holm-adjusted over the claim's
  pairs in the cell. Agrees when x is significantly better than all, disagrees when significantly worse
  than any, else inconclusive.
* `ranking`: rows in the claimed order, best first. Each adjacent step is tested like `ahead_of`'s pairs
  (Holm over the steps). Agrees when every step is significant in the claimed order (so our means give
  it), disagrees when any step is significantly reversed, else inconclusive.
* `best_of`: one row the best of a group: `ahead_of` of it against the others. The papers' "most stable"
  is judged on the final loss, which every run records; where the runs recorded the stability columns
  (loss spikes after warmup, grad-norm CV: results.py `Run`) their medians are shown beside it, not used.
* In `ahead_of`, `ranking` and `best_of`, a row all of whose runs diverged counts as +inf: worse than any
  finished row (a significant step), tied with another diverged row; an unfinished row leaves its steps
  untested.
* `multiplier`: x's compute multiplier vs y on a ladder (ladder.py: the joint fit, its 5–95% residual
  bootstrap band) with y its baseline. `above_one`: agrees when the band at the ladder's largest compute
  lies above 1, disagrees when below. `trend` ("rising"/"falling"): the bootstrap's 5–95% band of
  multiplier(largest C) − multiplier(smallest C), from the same replicates; agrees when it excludes 0 on
  the claimed side, disagrees on the other. All parts agree: agrees; any disagrees: disagrees. With
  fewer than 3 sizes a curve passes through its points and the band is no uncertainty: inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from optarena._toml import tomllib
from optarena.report import fmt
from optarena.report.document import Block, Heading, Styled, Table, Text
from optarena.report.ladder import Ladder, compute_of
from optarena.report.stability import stability_means
from optarena.report.standings import ALPHA, Leaderboard, welch_verdict
from optarena.scaling import compute_multiplier
from optarena.stats import holm_verdicts

KINDS = ("gap", "ahead_of", "ranking", "best_of", "multiplier")
AGREES, DISAGREES, INCONCLUSIVE = "agrees", "disagrees", "inconclusive at this scale"
MIN_SIZES = 3  # a band from fewer sizes says nothing (ladder.py)


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    where: str
    quote: str
    numbers: tuple[str, ...]  # as the source text spells them
    source: str  # "paper" | "repository"
    suite: str  # the suite that measures it
    kind: str  # one of KINDS
    spec: dict[str, Any]  # the kind's own fields (claims.toml)

    @property
    def rows(self) -> tuple[str, ...]:
        """The optimizers (display names) it needs in one cell."""
        s = self.spec
        if self.kind == "ahead_of":
            return (s["x"], *s["of"])
        if self.kind in ("ranking", "best_of"):
            return tuple(s["order"] if self.kind == "ranking" else s["group"])
        return (s["x"], s["y"])  # gap, multiplier


@dataclass(frozen=True)
class Measurement:
    scale: str  # where: model, parameters, tokens, data (or the ladder)
    ours: str  # our number(s) and their uncertainty
    verdict: str  # AGREES | DISAGREES | INCONCLUSIVE


@dataclass(frozen=True)
class Checked:
    claim: Claim
    measurements: tuple[Measurement, ...]  # one per cell (or ladder); (): not measured here

    @property
    def not_measured(self) -> str:
        """Why there is no measurement here ("" where there is one)."""
        if self.measurements:
            return ""
        where = "on a ladder of ≥ 2 sizes" if self.claim.kind == "multiplier" else "in one cell"
        return f"needs {', '.join(f'`{r}`' for r in self.claim.rows)} {where}"


def load_claims() -> tuple[Claim, ...]:
    text = resources.files("optarena.report").joinpath("claims.toml").read_text(encoding="utf-8")
    common = ("id", "paper", "where", "quote", "numbers", "source", "suite", "kind")
    claims = []
    for e in tomllib.loads(text)["claim"]:
        if e["kind"] not in KINDS:
            raise ValueError(f"claim {e['id']!r}: unknown kind {e['kind']!r}; kinds: {', '.join(KINDS)}")
        spec = {k: v for k, v in e.items() if k not in common}
        claims.append(Claim(e["id"], e["paper"], e["where"], e["quote"], tuple(e["numbers"]), e["source"],
                            e["suite"], e["kind"], spec))
    return tuple(claims)


def check_claims(claims: Sequence[Claim], boards: list[Leaderboard], ladders: list[Ladder],
                 with_data: bool) -> list[Checked]:
    out = []
    for claim in claims:
        if claim.kind == "multiplier":
            found = [_multiplier(claim, lad) for lad in ladders if _on_ladder(claim, lad)]
        else:
            found = [_in_board(claim, board, with_data) for board in boards
                     if all(board.get(r) is not None for r in claim.rows)]
        out.append(Checked(claim, tuple(found)))
    return out


def claimed(claim: Claim) -> str:
    """The claim in our terms, one line."""
    s = claim.spec
    if claim.kind == "gap":
        return f"`{s['x']}` {s['gap_percent']:+g}% vs `{s['y']}` (+: worse)"
    if claim.kind == "ahead_of":
        return f"`{s['x']}` better than " + ", ".join(f"`{o}`" for o in s["of"])
    if claim.kind == "ranking":
        return " < ".join(f"`{r}`" for r in s["order"])
    if claim.kind == "best_of":
        return f"`{s['best']}` the best of " + ", ".join(f"`{g}`" for g in s["group"])
    parts = ["multiplier > 1 at the largest compute"] if s.get("above_one") else []
    parts += [f"multiplier {s['trend']} with scale"] if s.get("trend") else []
    return f"`{s['x']}` vs `{s['y']}`: " + " and ".join(parts)


# ------------------------------------------------------------------------------------- within a cell
def _in_board(claim: Claim, board: Leaderboard, with_data: bool) -> Measurement:
    s = claim.spec
    scale = f"{board.key.model} ({fmt.count(board.params_total)} params), {fmt.count(board.key.tokens)} tokens" + (
        f", {board.key.data}" if with_data else "")
    if claim.kind == "gap":
        return Measurement(scale, *_gap(board, s["x"], s["y"], s["gap_percent"]))
    if claim.kind == "ranking":
        pairs = list(zip(s["order"], s["order"][1:]))
        steps = _pairs(board, pairs)
        ours = "; ".join(_row(board, r) for r in s["order"]) + ". Steps: " + ", ".join(
            f"{_short(a)} < {_short(b)} {text}" for (a, b), (_, text) in zip(pairs, steps))
        return Measurement(scale, ours, _all_or_any(steps))
    if claim.kind == "ahead_of":
        best, others = s["x"], s["of"]
    else:
        best, others = s["best"], [g for g in s["group"] if g != s["best"]]
    pairs = [(best, o) for o in others]
    steps = _pairs(board, pairs)
    rows = [best, *others]
    ours = "; ".join(_row(board, r, stability=claim.kind == "best_of") for r in rows) + ". vs " + ", ".join(
        f"{_short(b)} {text}" for (_, b), (_, text) in zip(pairs, steps))
    return Measurement(scale, ours, _all_or_any(steps))


def _gap(board: Leaderboard, x: str, y: str, gap_percent: float) -> tuple[str, str]:
    sx, sy = board.get(x), board.get(y)
    if sx.summary is None or sy.summary is None:
        return f"`{x}` {sx.status}, `{y}` {sy.status}", INCONCLUSIVE
    mean_y = sy.summary.mean
    v = sx.verdict if y == board.baseline_name and sx.verdict is not None else welch_verdict(_losses(sx), _losses(sy))
    text = f"{100 * v.delta / mean_y:+.2f}%"
    if math.isfinite(v.ci[0]):
        text += f" [{100 * v.ci[0] / mean_y:+.2f}%, {100 * v.ci[1] / mean_y:+.2f}%]"
    text += f" ({fmt.loss(sx)} vs {fmt.loss(sy)}; {fmt.verdict(v)})"
    claimed_worse = gap_percent > 0
    if v.verdict not in ("better", "worse"):
        return text, INCONCLUSIVE
    return text, AGREES if (v.verdict == "worse") == claimed_worse else DISAGREES


def _pairs(board: Leaderboard, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Per (a, b), claimed a better: ("better" | "worse" | "", the p or reason), Holm over the Welch tests."""
    out: list[tuple[str, str] | None] = [None] * len(pairs)
    tests = {}
    for i, (a, b) in enumerate(pairs):
        la, lb = _level(board.get(a)), _level(board.get(b))
        if la is None or lb is None:
            out[i] = ("", "untested (unfinished)")
        elif math.isinf(la) or math.isinf(lb):
            out[i] = ("", "tied (both diverged)") if la == lb else ("better" if lb > la else "worse", "diverged")
        else:
            tests[i] = welch_verdict(*(_losses(board.get(r)) for r in (a, b)))
    for i, v in zip(tests, holm_verdicts(list(tests.values()), ALPHA)):
        direction = v.verdict if v.verdict in ("better", "worse") else ""
        out[i] = (direction, fmt.verdict(v))
    return out


def _all_or_any(steps: list[tuple[str, str]]) -> str:
    if any(d == "worse" for d, _ in steps):
        return DISAGREES
    return AGREES if all(d == "better" for d, _ in steps) else INCONCLUSIVE


def _level(s) -> float | None:
    """The mean final loss; +inf for a row that only diverged; None while it has no result."""
    if s.summary is not None:
        return s.summary.mean
    return math.inf if s.status == "diverged" else None


def _losses(s) -> list[float]:
    return [r.final_val_loss for r in s.best_runs]


def _row(board: Leaderboard, name: str, stability: bool = False) -> str:
    s = board.get(name)
    text = f"`{name}` {fmt.loss(s) if s.summary else s.status}"
    m = stability_means(s) if stability else None
    if m is not None:  # the stability table's numbers: means over the seeds of the best point
        extra = [f"{label} {m[field]:.2g}" if field == "spikes" else f"{label} {m[field]:.3f}"
                 for label, field in (("spikes", "spikes"), ("grad-norm CV", "grad_norm_cv")) if m[field] is not None]
        text += f" ({', '.join(extra)})" if extra else ""
    return text


def _short(name: str) -> str:
    """A variant by its setting ("clip=1"), an optimizer by its name."""
    return name.split(" ", 1)[1] if " " in name else name


# ------------------------------------------------------------------------------------- on a ladder
def _on_ladder(claim: Claim, lad: Ladder) -> bool:
    return lad.fit is not None and lad.baseline == claim.spec["y"] and claim.spec["x"] in lad.compared


def _multiplier(claim: Claim, lad: Ladder) -> Measurement:
    x, y = claim.spec["x"], claim.spec["y"]
    C = [compute_of(c) for c in lad.boards]
    gain = compute_multiplier(lad.fit, x, [min(C), max(C)], y)
    scale = (f"ladder {lad.data}, {lad.rule}: {lad.boards[0].key.model} to {lad.boards[-1].key.model} "
             f"({fmt.count(lad.boards[0].params_total)}–{fmt.count(lad.boards[-1].params_total)} params, "
             f"{min(C):.3g}–{max(C):.3g} PFH)")
    ours = f"{gain[0]:.3f} at the smallest compute, {gain[1]:.3f} at the largest"
    band = lad.bands.get(x)
    sizes = min(len(lad.points[x]), len(lad.points[y]))
    if band is None or sizes < MIN_SIZES:
        why = f"{sizes} sizes: no uncertainty" if sizes < MIN_SIZES else "no bootstrap band"
        return Measurement(scale, f"{ours} ({why})", INCONCLUSIVE)
    parts = []
    if claim.spec.get("above_one"):
        low, high = band.low[-1], band.high[-1]  # the grid ends at the largest C
        parts.append(_side(low - 1, high - 1, +1))
        ours += f"; band at the largest [{low:.3f}, {high:.3f}] (> 1: {parts[-1]})"
    if claim.spec.get("trend"):
        low, high = _change_band(band)
        trend = claim.spec["trend"]
        parts.append(_side(low, high, +1 if trend == "rising" else -1))
        ours += f"; change smallest → largest {gain[1] - gain[0]:+.3f} [{low:+.3f}, {high:+.3f}] ({trend}: {parts[-1]})"
    verdict = DISAGREES if DISAGREES in parts else AGREES if all(p == AGREES for p in parts) else INCONCLUSIVE
    return Measurement(scale, ours, verdict)


def _change_band(band) -> tuple[float, float]:
    """The bootstrap's percentiles of multiplier(largest C) − multiplier(smallest C), replicate by replicate."""
    change = band.samples[:, -1] - band.samples[:, 0]
    change = change[np.isfinite(change)]
    if not len(change):
        return math.nan, math.nan
    low, high = np.percentile(change, band.levels)
    return float(low), float(high)


def _side(low: float, high: float, sign: int) -> str:
    """A band [low, high] against 0: on the claimed side (`sign`) agrees, on the other disagrees."""
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 <= high:
        return INCONCLUSIVE
    return AGREES if (low > 0) == (sign > 0) else DISAGREES


# ------------------------------------------------------------------------------------- as blocks
CLAIMS_NOTE = (
    "Each seed claim as **quoted** from its paper (or the authors' code), set against our measurement in "
    "this directory: one line per cell that holds the rows it needs, at that cell's scale. Verdict: "
    "**agrees** when our difference is significant (α = {alpha:g}, Holm-adjusted over the claim's tests, or "
    "over the cell's where the comparison is with the baseline) in the claimed direction, **disagrees** when "
    "significant the other way, else **inconclusive at this scale**. A row that diverged counts as +inf. Gaps: "
    "Δ% of the seed means [95% Welch interval over the baseline mean]. Multipliers: the ladder fit with its "
    "5–95% bootstrap band (≥ 3 sizes). The papers' settings differ from ours (model, data, tokens, tuning): "
    "a verdict is about this scale only."
)
TONE = {AGREES: "good", DISAGREES: "bad"}


def claims_blocks(checked: list[Checked], level: int = 2) -> list[Block]:
    blocks: list[Block] = [Heading("Claims", level), Text(CLAIMS_NOTE.format(alpha=ALPHA), "note")]
    rows = []
    for c in (c for c in checked if c.measurements):
        for i, m in enumerate(c.measurements):
            said = _quoted(c.claim) if i == 0 else "″ (the same claim)"
            paper = c.claim.paper if i == 0 else "″"
            rows.append((said, paper, m.ours, m.scale, Styled(m.verdict, TONE.get(m.verdict, ""))))
    if rows:
        header = ("claim (quoted)", "paper", "ours ± uncertainty", "scale", "verdict")
        blocks.append(Table(header, tuple(rows), "Quoted claims, our measurements."))
    missing = [(_quoted(c.claim), c.claim.paper, f"`{c.claim.suite}`", c.not_measured)
               for c in checked if not c.measurements]
    if missing:
        blocks += [Heading("Not measured here", level + 1),
                   Table(("claim (quoted)", "paper", "measured by the suite", "why not here"), tuple(missing))]
    return blocks


def _quoted(claim: Claim) -> str:
    return f"Quoted ({claim.where}): “{claim.quote}” Our reading: {claimed(claim)}."
