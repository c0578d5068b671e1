"""The report as blocks: overview, a leaderboard per cell, ladders, the papers' claims and numbers, reproducibility."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import optarena
from optarena.bench.db import suite_of
from optarena.report import figures, fmt
from optarena.report.claims import Checked, claims_blocks
from optarena.report.document import Block, Code, Figure, Heading, Styled, Table, Text
from optarena.report.ladder import Ladder, compute_of
from optarena.report.floors import below
from optarena.report.leaderboard import NOT_LM, VERDICT_TONE, board_blocks, not_lm_warning
from optarena.report.quoted import quoted_blocks
from optarena.report.results import Results
from optarena.report.standings import ALPHA, Leaderboard
from optarena.scaling import compute_multiplier

HOW_TO_READ = (
    "Each table ranks the optimizers of one cell (model × token budget × data) by final validation loss at "
    "their best LR: mean ± sample std over seeds, n seeds. The baseline is {who}: the suite's `baseline`, adamw "
    "when it names none. **Δ** and the **verdict** compare these seeds with {who}'s seeds at its best LR by "
    "Welch's t-test (two-sided); the verdict is read off the **Holm**-adjusted p over the tests of the cell "
    f"(up to one per optimizer) at α = {ALPHA:g}, and **p (Welch)** is the unadjusted p beside it; "
    "\"n/a (1 seed)\" when either side has a single seed. **LR grid**: the LRs tried; **⚠ AT EDGE** when the "
    "best LR is the lowest or highest of them, so the optimum may lie outside. **Diverged LRs**: LR points where a run "
    "diverged; an optimizer whose every run diverged is listed last as diverged. tokens/s, optimizer-state "
    "memory and optimizer step time are medians over the optimizer's finished runs in the cell, with the ratio "
    "to {who}'s; — where not measured. **Below bigram / below unigram**: how far the mean final loss is below "
    "the reference floor, what count models of the training split score on the same validation tokens "
    "(nats/token; negative: above it). A cell whose {who} is not below the bigram floor does not measure "
    "language modelling."
)
LADDER_NOTE = (
    "Points: each optimizer's best-LR mean final loss per model size, against compute 6·N_nonemb·D in "
    "PetaFLOP-hours. Lines: the joint fit L = a + b·C^−c (+ e·C^−f with ≥ 5 points) with one saturation a "
    "shared by all optimizers (`optarena.scaling`, the ADANA paper's procedure). Compute multiplier: the "
    "compute {who}'s fitted curve needs to reach the optimizer's loss, divided by the optimizer's compute "
    "(> 1: the optimizer needs less). Band: 5–95% of a residual bootstrap of the fit. Dots: the data-only "
    "affine-by-part estimate."
)


def report_blocks(
    results: Results, boards: list[Leaderboard], ladders: list[Ladder], claims: list[Checked], command_dir: str
) -> list[Block]:
    with_data = len({c.key.data for c in boards}) > 1
    who = fmt.who(results.baseline)
    colours = figures.palette({s.optimizer for c in boards for s in c.standings}, results.baseline)
    suite = results.meta.get("suite", "?")
    blocks: list[Block] = [Heading(f"optarena report: {suite}", 1), Text(_intro(results))]
    if not figures.available():
        blocks.append(
            Text("matplotlib is not installed (`pip install optarena[plot]`): this report has no plots.", "warn")
        )
    if not boards:
        blocks.append(Text("The database has no runs yet.", "warn"))
    untuned = _untuned_table(results.meta)
    if untuned:
        blocks.append(Text(untuned, "warn"))
    blocks += _overview(boards, with_data, results.baseline) if boards else []
    blocks += [Heading("Leaderboards"), Text(HOW_TO_READ.format(who=who), "note")]
    for board in boards:
        blocks += board_blocks(board, results, colours, with_data)
    if ladders:
        blocks += [Heading("Scaling ladders"), Text(LADDER_NOTE.format(who=who), "note")]
        for ladder in ladders:
            blocks += _ladder_blocks(ladder, colours)
    blocks += claims_blocks(claims)
    blocks += quoted_blocks(boards, ladders, with_data, results.baseline)
    blocks += _reproducibility(results, command_dir)
    return blocks


def _untuned_table(meta: dict[str, str]) -> str:
    """A warning when the suite's LRs came from an LR table marked ``tuned = false``, else ""."""
    suite = suite_of(meta)
    if not suite.get("lr_table") or suite.get("lr_table_tuned") is not False:
        return ""
    return (
        f"**LR table not tuned.** This suite's LRs come from `{Path(suite['lr_table']).name}`, which is marked "
        "`tuned = false`: its LRs are hand-set centres, not the best of a sweep, so an optimizer may rank low "
        "only for its LR. Run the table's sweep and `optarena bench tune-table` before reading the ranking."
    )


def _intro(results: Results) -> str:
    meta = results.meta
    return (
        f"Suite `{meta.get('suite', '?')}`, created {meta.get('created_at', '?')}. "
        f"{len(results.runs)} runs: {fmt.statuses(results.runs)}. Built from this directory's `results.db`; "
        'every number below is measured by optarena unless it is labelled quoted (the papers\' claims in "Claims", '
        'and the section "Quoted from the papers").'
    )


def _overview(boards: list[Leaderboard], with_data: bool, baseline: str) -> list[Block]:
    rows = []
    for board in boards:
        ranked = [s for s in board.standings if s.status == "ranked"]
        top = ranked[0] if ranked else None
        base = board.baseline
        verdict: str | Styled = fmt.MISSING
        if top is not None and top.optimizer == baseline:
            verdict = "is the baseline"
        elif top is not None and top.verdict is not None:
            verdict = Styled(fmt.verdict(top.verdict), VERDICT_TONE.get(top.verdict.verdict, ""))
        rows.append(
            (
                fmt.board_label(board, with_data),
                f"`{top.optimizer}`" if top else fmt.MISSING,
                fmt.loss(top) if top else fmt.MISSING,
                fmt.loss(base) if base else fmt.MISSING,
                verdict,
                str(sum(s.edge != "" for s in board.standings)),
                _versus_bigram(board),
            )
        )
    who = fmt.who(baseline)
    header = ("cell", "lowest loss", "its loss", who, f"vs {who}", "best LRs at a grid edge",
              f"{who} vs bigram floor")
    flags = [Text(f"{fmt.board_label(c, with_data)}: {not_lm_warning(c)}", "warn")
             for c in boards if c.not_language_modelling]
    return [Heading("Overview"), Table(header, tuple(rows)), *flags]


def _versus_bigram(board: Leaderboard) -> str | Styled:
    """The baseline's distance below the bigram floor, flagged when it is not below it."""
    if not board.floors.known:
        return "floors unknown"
    if board.baseline is None:
        return fmt.MISSING
    gap = below(board.floors.bigram, board.baseline.summary.mean)
    if board.not_language_modelling:
        return Styled(f"⚠ {-gap:.4f} above: {NOT_LM}", "warn")
    return f"{gap:.4f} below"


def _ladder_blocks(lad: Ladder, colours: dict[str, str]) -> list[Block]:
    models = ", ".join(
        f"`{c.key.model}` ({fmt.count(c.params_total)}, {fmt.count(c.key.tokens)} tokens)" for c in lad.boards
    )
    blocks: list[Block] = [Heading(f"Ladder: {lad.data}, {lad.rule}", 3), Text(f"Sizes: {models}.")]
    columns = [f"`{c.key.model}` ({compute_of(c):.3g} PFH)" for c in lad.boards]
    rows = []
    for name in sorted({s.optimizer for c in lad.boards for s in c.standings}):
        losses = [c.get(name).summary.mean if c.get(name) and c.get(name).summary else None for c in lad.boards]
        fitted = "" if name in lad.points else " (not fitted: < 2 sizes)"
        rows.append((f"`{name}`{fitted}", *(fmt.MISSING if x is None else f"{x:.4f}" for x in losses)))
    blocks.append(Table(("optimizer", *columns), tuple(rows), "Best-LR mean final validation loss per size."))
    if lad.problem:
        blocks.append(Text(lad.problem, "warn"))
    if lad.fit is None:
        return blocks
    two = ", ".join(f"`{name}`" for name, pts in lad.points.items() if len(pts) == 2)
    if two and lad.bands:
        warning = (
            f"Only 2 sizes for {two}: a 2-parameter law passes through 2 points exactly, so such a curve has no "
            "residuals to resample and its bootstrap band says nothing about uncertainty. 3 or more sizes give one."
        )
        blocks.append(Text(warning, "warn"))
    blocks += _fit_figures(lad, colours)
    if lad.compared:
        blocks.append(_multiplier_table(lad, columns))
    return blocks


def _fit_figures(lad: Ladder, colours: dict[str, str]) -> list[Block]:
    if not figures.available():
        return []
    from optarena.scaling.plots import plot_multiplier, plot_scaling

    with figures.colour_cycle([colours[n] for n in lad.fit.curves]):  # plots colour curves C0, C1, … in fit order
        out = [
            Figure(
                "Scaling fit",
                figures.png(plot_scaling(lad.fit, lad.points)),
                f"Best-LR final loss against compute, {lad.data}; shared a = {lad.fit.a:.4g}.",
            )
        ]
        if lad.compared:
            fig = plot_multiplier(lad.fit, lad.compared, lad.C_grid, lad.baseline, bands=lad.bands, affine=lad.affine)
            out.append(
                Figure(
                    f"Compute multiplier vs {fmt.plain(lad.baseline)}",
                    figures.png(fig),
                    "Fitted multiplier with its 5–95% bootstrap band; dots: affine by part.",
                )
            )
    return out


def _multiplier_table(lad: Ladder, columns: list[str]) -> Table:
    rows = []
    for name in lad.compared:
        row = [f"`{name}`"]
        for board in lad.boards:
            C = compute_of(board)
            gain = compute_multiplier(lad.fit, name, [C], lad.baseline)[0]
            text = f"{gain:.3f}" if math.isfinite(gain) else fmt.MISSING
            band = lad.bands.get(name)
            if band is not None and math.isfinite(gain):
                i = int(np.argmin(np.abs(np.log(band.C) - math.log(C))))  # the grid holds every cell's C
                text += f" [{band.low[i]:.3f}, {band.high[i]:.3f}]"
            C_aff, g_aff = lad.affine.get(name, ((), ()))
            near = [g for c, g in zip(C_aff, g_aff) if math.isclose(c, C, rel_tol=1e-9)]
            row.append(text + (f"; data {near[0]:.3f}" if near else ""))
        rows.append(tuple(row))
    return Table(
        ("optimizer", *columns),
        tuple(rows),
        f"Compute multiplier vs {fmt.who(lad.baseline)} at each size: fit [5–95% bootstrap]; data: affine by part.",
    )


def _code_versions(results: Results) -> list[Block]:
    """The git commits the runs were made at (each run records its own: a suite resumed after a change
    of code holds runs of both), and a warning naming the rows whose runs span several of them."""
    done = [r for r in results.runs if r.status in ("finished", "diverged")]
    if not done:
        return []
    by_code: dict[str, list] = {}
    for r in done:
        by_code.setdefault(r.code or "not recorded", []).append(r)
    rows = tuple((f"`{code}`", str(len(runs)), ", ".join(sorted({r.optimizer for r in runs})))
                 for code, runs in sorted(by_code.items(), key=lambda kv: -len(kv[1])))
    blocks: list[Block] = [Table(("code (git commit)", "runs", "optimizers"), rows,
                                 "The commit each finished or diverged run was made at.")]
    rows_of: dict[tuple[str, str], set[str]] = {}
    for r in done:
        rows_of.setdefault((r.model, r.optimizer), set()).add(r.code or "not recorded")
    mixed = sorted(f"{m} · {o} ({', '.join(sorted(c))})" for (m, o), c in rows_of.items() if len(c) > 1)
    if mixed:
        blocks.append(Text(
            f"**Runs of one row at several commits**: {'; '.join(mixed)}. Their losses compare code across "
            "versions. `optarena recheck DIR --cell KEY` trains a cell again at today's code and says whether its "
            "loss is reproduced; where a row's is not, `optarena bench SUITE --out DIR --redo NAME` reruns its "
            "cells at one commit before its verdict is read.", "warn"))
    return blocks


def _reproducibility(results: Results, command_dir: str) -> list[Block]:
    meta = results.meta
    suite = meta.get("suite", "SUITE")
    mode = meta.get("mode", "")
    rows = [
        ("suite", f"`{suite}`"),
        ("description", meta.get("description", fmt.MISSING)),
        ("mode", mode or fmt.MISSING),
        ("created", meta.get("created_at", fmt.MISSING)),
        ("optarena version (bench)", meta.get("optarena_version", fmt.MISSING)),
        ("git commit (bench)", f"`{meta.get('git_commit', fmt.MISSING)}`"),
        ("optarena version (this report)", optarena.__version__),
        ("schema version", meta.get("schema_version", fmt.MISSING)),
    ]
    flag = {"full": " --full", "smoke": " --smoke"}.get(mode, "")  # the bench's modes besides "cpu"
    commands = (
        f"# rebuild this report\noptarena report {command_dir}\n"
        f"# rerun the suite (finished cells are kept)\noptarena bench {suite}{flag} --out {command_dir}"
    )
    blocks: list[Block] = [Heading("Reproducibility"), Table(("", "value"), tuple(rows)), Code(commands, "sh")]
    blocks += _code_versions(results)
    toml = meta.get("suite_toml")
    if not toml:
        return blocks + [Text("The database stores no suite TOML.", "warn")]
    note = (
        f"The suite TOML as the bench read it. If `{suite}` is not a named suite (`optarena bench --list`), "
        f"save it as `{suite}.toml` and pass that path instead of the name."
    )
    return blocks + [Text(note), Code(toml, "toml")]
