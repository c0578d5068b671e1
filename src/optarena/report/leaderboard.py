"""One cell's section of the report: the ranked table, its reference floors, its plots and the loss ratio
to the suite's baseline at set steps."""

from __future__ import annotations

import math

import numpy as np

from optarena.report import figures, fmt
from optarena.report.curves import MeanCurve, checkpoints, loss_ratio, mean_curve
from optarena.report.document import Block, Figure, Heading, Styled, Table, Text
from optarena.report.floors import below
from optarena.report.results import Results
from optarena.report.sensitivity import chosen, sensitivity_table
from optarena.report.stability import stability_table
from optarena.report.standings import ALPHA, Leaderboard, Standing

VERDICT_TONE = {"better": "good", "worse": "bad"}
RATIO_CAPTION = (
    "Validation loss / {who}'s validation loss at matching steps, best LRs, seed means (the DMS paper's Table 3 "
    "view); the losses are on the evaluation prefix, as in the curves."
)
CURVE_NOTE = (
    "The curves score the runs' fixed evaluation prefix (`eval_tokens`) at every point; the leaderboard's "
    "final losses score the whole validation set (or its `final_eval_tokens`), so the two differ at the last step."
)
FLOOR_MEANING = {
    "unigram": "token frequencies of the training split",
    "bigram": "counts of each token after the previous one, training split",
    "entropy rate": "the synthetic source's exact entropy: no model goes below it",
}
NOT_LM = "this cell does not measure language modelling"
TUNED_NOTE = (" Where more than the LR is tuned, a curve is the LR's last sweep and the circle the chosen point, "
              "which a later sweep of the other hyperparameters may have lowered (their table is above).")


def board_blocks(board: Leaderboard, results: Results, colours: dict[str, str], with_data: bool) -> list[Block]:
    label = fmt.board_label(board, with_data=True)
    means = {s.optimizer: c for s in board.standings if (c := mean_curve(s, results.curves)) is not None}
    blocks: list[Block] = [Heading(fmt.board_label(board, with_data), 3), Text(_board_summary(board, results))]
    blocks += [leaderboard_table(board), floors_block(board)]
    if (table := sensitivity_table(board, results)) is not None:
        blocks.append(table)
    if (table := stability_table(board)) is not None:
        blocks.append(table)
    if board.not_language_modelling:
        blocks.append(Text(not_lm_warning(board), "warn"))
    if any(s.edge for s in board.standings):
        names = ", ".join(f"`{s.optimizer}`" for s in board.standings if s.edge)
        blocks.append(
            Text(
                f"Best LR at the edge of the LR grid for {names}: the optimum may lie outside the grid "
                "and the loss shown is only an upper bound. Extend the grid before trusting this ranking.",
                "warn",
            )
        )
    ratios = _ratios(means, board.baseline_name)
    if figures.available():
        blocks += _figures(board, means, ratios, colours, label)
    if ratios:
        blocks.append(_ratio_table(means[board.baseline_name], ratios, board.baseline_name))
    return blocks


def _figures(board: Leaderboard, means: dict[str, MeanCurve], ratios, colours: dict[str, str],
             label: str) -> list[Block]:
    out = []
    floors, curve_floors = board.floors.lines(), board.floors.curve_floors()
    if means:
        out.append(
            _figure(
                figures.loss_vs_tokens(means, colours, f"validation loss, {label}", curve_floors.lines(),
                                       board.baseline_name),
                "Validation loss at each optimizer's best LR",
                "Seed mean; shaded: min–max over seeds. " + CURVE_NOTE + _curve_floors_caption(board),
            )
        )
    if any(p.losses or p.num_diverged for s in board.standings for p in s.lr_points):
        out.append(
            _figure(
                figures.lr_sensitivity(board, colours, f"LR sensitivity, {label}", floors),
                "LR sensitivity",
                "Final validation loss against peak LR (mean ± std over seeds); x on the top edge: "
                "diverged; open circle: best LR." + TUNED_NOTE * any(s.tuned for s in board.standings)
                + _floors_caption(board),
            )
        )
    if ratios:
        base = board.baseline_name
        fig = figures.loss_ratio(
            {k: (x, r) for k, (_, x, r) in ratios.items()},
            colours,
            f"loss ratio to {fmt.plain(base)}, {label}",
            figures.x_label([means[base]]),
            base,
        )
        caption = f"Seed-mean validation loss over {fmt.who(base)}'s at matching steps. " + CURVE_NOTE
        out.append(_figure(fig, f"Loss ratio to {fmt.plain(base)}", caption))
    if board.loss_floor is not None and means:
        fig = figures.excess_loss(means, board.loss_floor, colours, f"excess loss over the entropy floor, {label}")
        out.append(
            _figure(
                fig,
                "Excess loss over the entropy floor",
                f"Synthetic data with a known entropy rate of {board.loss_floor:.4f} nats/token.",
            )
        )
    return out


def leaderboard_table(board: Leaderboard) -> Table:
    who = fmt.who(board.baseline_name)
    header = [
        "#",
        "optimizer",
        "final val loss, mean ± std (n seeds)",
        f"Δ vs {who}",
        f"vs {who} (Welch, Holm α={ALPHA:g})",
        "p (Welch)",
        "p (Holm)",
        "best LR",
        "LR grid",
        "diverged LRs",
        "tokens/s",
        f"opt-state memory (vs {who})",
        f"opt step time (vs {who})",
    ]
    if board.floors.known:
        header += ["below bigram", "below unigram"]
    if board.loss_floor is not None:
        header.append("excess over entropy rate")
    base, rows = board.baseline, []
    for s, rank in zip(board.standings, board.ranks):
        row = [
            fmt.MISSING if rank is None else str(rank),
            f"`{s.optimizer}`",
            _loss_cell(s),
            *_versus(s, board),
            chosen(s.best_lr, s.tuned),
            _grid_cell(s),
            _diverged_cell(s),
            fmt.count(s.tokens_per_s),
            _overhead(fmt.nbytes, s.opt_state_bytes, base and base.opt_state_bytes),
            _overhead(fmt.seconds, s.opt_step_s, base and base.opt_step_s),
        ]
        mean = s.summary.mean if s.summary else None
        if board.floors.known:
            row += [_below_cell(below(board.floors.bigram, mean)), _below_cell(below(board.floors.unigram, mean))]
        if board.loss_floor is not None:
            row.append(f"{mean - board.loss_floor:.4f}" if mean is not None else fmt.MISSING)
        rows.append(tuple(row))
    return Table(tuple(header), tuple(rows), _verdict_caption(board))


def _verdict_caption(board: Leaderboard) -> str:
    who = fmt.who(board.baseline_name)
    if board.baseline is None:
        return f"No finished {who} run in this cell: no Δ and no verdict."
    m = board.num_tests
    if m == 0:
        return (f"Verdict: none in this cell. A Welch test needs two or more seeds on both sides; no optimizer "
                f"here has them beside {who}'s.")
    return (f"Verdict: Welch's two-sided t-test of each optimizer's seeds against {who}'s, decided on its "
            f"Holm–Bonferroni adjusted p over the {m} test{'s' if m != 1 else ''} of this cell at α = {ALPHA:g}, "
            "so the chance of any false verdict in the cell is at most α. p (Welch): the unadjusted p.")


def floors_block(board: Leaderboard) -> Table | Text:
    """A line per reference floor with the baseline's distance below it; or why the floors are unknown."""
    f = board.floors
    if not f.known:
        return Text(f"Reference floors unknown: {f.problem}. Without them this cell cannot show that its losses "
                    "measure language modelling.", "note")
    base = board.baseline.summary.mean if board.baseline else None
    rows = tuple((name, f"{value:.4f}", _below_cell(below(value, base)), FLOOR_MEANING[name])
                 for name, value in f.lines())
    tokens = f"the {f.val_tokens:,}" if f.val_tokens else "the"
    who = "recorded by the bench" if f.source == "bench" else "computed by this report: the database predates them"
    caption = (f"Reference floors (`optarena.data.floors`, {who}), scored on {tokens} validation tokens the final "
               "losses score. Below: floor − mean final loss, nats/token; negative: above the floor.")
    return Table(("reference floor", "nats/token", f"{fmt.who(board.baseline_name)} below it", "what it is"),
                 rows, caption)


def not_lm_warning(board: Leaderboard) -> str:
    """The flag of a cell whose baseline is not below the bigram floor, with the numbers."""
    loss, floor = board.baseline.summary.mean, board.floors.bigram
    return (f"{fmt.who(board.baseline_name)}'s final loss {loss:.4f} is {loss - floor:.4f} nats/token above the "
            f"bigram floor {floor:.4f}: a count of token pairs scores as well or better, so {NOT_LM}. Its ranking "
            "says how fast the optimizers learn token statistics, not language; train longer or on more data "
            "before reading it.")


def floor_summary(board: Leaderboard) -> str:
    """One line for a terminal: the cell, its floors, and the baseline's distance below the bigram floor."""
    label = f"{board.key.model} / {board.key.tokens:,} tokens / {board.key.data}"
    f = board.floors
    if not f.known:
        return f"{label}: floors unknown: {f.problem}"
    floors = ", ".join(f"{name} {value:.3f}" for name, value in f.lines())
    tokens = f" ({f.val_tokens:,} val tokens)" if f.val_tokens else ""
    base = board.baseline
    if base is None:
        return f"{label}: {floors} nats{tokens}; no finished {board.baseline_name} run"
    gap = below(f.bigram, base.summary.mean)
    side = f"{gap:.3f} below bigram" if gap > 0 else f"{-gap:.3f} above bigram: {NOT_LM}"
    return f"{label}: {floors} nats{tokens}; {board.baseline_name} {base.summary.mean:.3f} = {side}"


def _curve_floors_caption(board: Leaderboard) -> str:
    """The curve plot's floors: on the curves' prefix when it differs from the final set."""
    curve = board.floors.curve_floors()
    if curve is board.floors:
        return _floors_caption(board)
    lines = curve.lines()
    if not lines:
        return f" No floors drawn: those on the curves' validation prefix are unknown ({curve.problem})."
    named = ", ".join(f"{name} {value:.4f}" for name, value in lines)
    return (f" Dashed: the reference floors on the curves' {curve.val_tokens:,} validation tokens, {named} "
            "nats/token (the final losses' floors are in the table).")


def _floors_caption(board: Leaderboard) -> str:
    lines = board.floors.lines()
    if not lines:
        return ""
    named = ", ".join(f"{name} {value:.4f}" for name, value in lines)
    return f" Dashed: the reference floors on the final losses' validation tokens, {named} nats/token."


def _below_cell(gap: float | None) -> str | Styled:
    if gap is None:
        return fmt.MISSING
    return f"{gap:+.4f}" if gap > 0 else Styled(f"{gap:+.4f}", "bad")


def _loss_cell(s: Standing) -> str | Styled:
    if s.status == "diverged":
        return Styled(f"diverged (every run, {len(s.lr_points)} LRs)", "bad")
    if s.status == "incomplete":
        return Styled("incomplete (runs still pending)", "warn")
    if s.status == "failed":
        return Styled("no result (failed runs; see runs.error)", "bad")
    return fmt.loss(s)


def _versus(s: Standing, board: Leaderboard) -> tuple[str | Styled, ...]:
    """Δ, the verdict, its raw and its Holm-adjusted p."""
    base = board.baseline
    if s.optimizer == board.baseline_name and base is not None:
        return "baseline", "baseline", fmt.MISSING, fmt.MISSING
    if s.verdict is None or base is None:
        return (fmt.MISSING,) * 4
    v = s.verdict
    return (fmt.delta(v.delta, base.summary.mean), Styled(v.verdict, VERDICT_TONE.get(v.verdict, "")),
            fmt.probability(v.p_value), fmt.probability(v.p_adjusted))


def _grid_cell(s: Standing) -> str | Styled:
    n = len(s.lr_points)
    tried = f"{n} LR{'s' if n != 1 else ''}"
    if s.edge == "edge":
        return Styled(f"⚠ AT EDGE (the bench's flag; {tried} here)", "warn")
    if s.edge:
        return Styled(f"⚠ AT EDGE: {s.edge} of {tried}", "warn")
    return tried


def _diverged_cell(s: Standing) -> str | Styled:
    k = s.num_diverged_lrs
    return Styled(f"✗ {k} of {len(s.lr_points)}", "bad") if k else "0"


def _overhead(format_one, x: float | None, base: float | None) -> str:
    if x is None:
        return fmt.MISSING
    return f"{format_one(x)} ({fmt.ratio(x, base)})" if base else format_one(x)


def _board_summary(board: Leaderboard, results: Results) -> str:
    runs = [r for r in results.runs if (r.model, r.tokens, r.data) == board.key]
    params = ""
    if board.params_total:
        params = (f"N = {fmt.count(board.params_total)} parameters "
                  f"({fmt.count(board.params_non_embedding)} non-embedding) · ")
    picked = {s.picked_by for s in board.standings if s.picked_by}
    how = " · best LRs picked by " + " and ".join(sorted(picked)) if picked else ""
    return (
        f"Model `{board.key.model}`, data `{board.key.data}`, {fmt.count(board.key.tokens)} training tokens. {params}"
        f"{len(board.standings)} optimizers, {len(runs)} runs ({fmt.statuses(runs)}){how}."
    )


def _ratios(means: dict[str, MeanCurve], baseline: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{optimizer: (steps, x, L / L_baseline)} for every optimizer but the baseline, when it has a curve."""
    base = means.get(baseline)
    if base is None or len(base.step) < 2:
        return {}
    return {k: loss_ratio(c, base) for k, c in means.items() if k != baseline}


def _ratio_table(base: MeanCurve, ratios, baseline: str) -> Table:
    idx = checkpoints(len(base.step))
    header = ["optimizer"]
    for i in idx:
        tokens = f" ({fmt.count(base.tokens[i])})" if math.isfinite(base.tokens[i]) else ""
        header.append(f"step {base.step[i]}{tokens}")
    rows = []
    for name, (steps, _, r) in ratios.items():
        at = dict(zip(steps.tolist(), r.tolist()))
        rows.append((f"`{name}`", *(f"{at[s]:.3f}" if (s := int(base.step[i])) in at else fmt.MISSING for i in idx)))
    return Table(tuple(header), tuple(rows), RATIO_CAPTION.format(who=fmt.who(baseline)))


def _figure(fig, title: str, caption: str) -> Figure:
    return Figure(title, figures.png(fig), caption)
