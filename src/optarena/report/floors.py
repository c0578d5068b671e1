"""Reference floors per cell: what counting tokens scores on the tokens the cell's final losses score.

A final loss measures language modelling only once it is below what count models of the data score
(`optarena.data.floors`): the unigram floor (token frequencies) and the bigram floor (counts of each
token after the previous one), both fitted on the training split; on synthetic data also the source's
exact entropy rate, which no model can go below.

The bench records them with each run (runs.unigram_floor and bigram_floor, on the run's
final_val_tokens validation targets; loss_floor: the entropy rate). A database made before those
columns has none: the floors are then computed here from the runs' data spec, when that data can be
read on this machine, on the targets the final loss scored: final_val_tokens when recorded, else by
the trainer's rule for the final evaluation (the whole validation set, or its `log.final_eval_tokens`,
in whole sequences of `data.seq_len`; both from the run's config_json). Otherwise they are unknown,
and `Floors.problem` says why.

The loss curves score a prefix of the validation set (`log.eval_tokens`), which may be shorter than
the final evaluation's: the curve plots draw the floors on that prefix (`Floors.curve`), recorded
as runs.curve_* or computed the same way.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass

from optarena.report.results import Run


@dataclass(frozen=True)
class Floors:
    unigram: float | None  # nats/token
    bigram: float | None
    entropy_rate: float | None  # synthetic data only
    val_tokens: int | None  # validation targets they are scored on: those of the cell's final losses
    source: str  # "bench" (recorded with the runs) | "report" (computed here) | "" (unknown)
    problem: str = ""  # why they are unknown
    curve: Floors | None = None  # the floors on the curves' prefix; None: unknown, or self's tokens

    def curve_floors(self) -> Floors:
        """The floors the loss curves compare with: on their own prefix, or these when it is the same."""
        return self.curve if self.curve is not None else self

    @property
    def known(self) -> bool:
        return self.unigram is not None and self.bigram is not None

    def lines(self) -> list[tuple[str, float]]:
        """(name, nats/token) of each known floor, highest first."""
        named = (("unigram", self.unigram), ("bigram", self.bigram), ("entropy rate", self.entropy_rate))
        return [(name, value) for name, value in named if value is not None]


def below(floor: float | None, loss: float | None) -> float | None:
    """How far `loss` is below `floor`, in nats/token (negative: above it); None if either is unknown."""
    return None if floor is None or loss is None else floor - loss


def board_floors(runs: Sequence[Run], entropy_rate: float | None) -> Floors:
    """The floors of one cell's runs (one data set, one validation prefix): the bench's, else computed."""
    recorded = [r for r in runs if r.unigram_floor is not None and r.bigram_floor is not None]
    if recorded:
        r = min(recorded, key=lambda r: r.id)
        final = Floors(r.unigram_floor, r.bigram_floor, entropy_rate, r.final_val_tokens, "bench")
        return dataclasses.replace(final, curve=_curve(r, final))
    finished = sorted((r for r in runs if r.status == "finished"), key=lambda r: r.id)
    if not finished:
        return _unknown(entropy_rate, "no run of this cell has finished, so none says which validation tokens "
                                      "its final loss scored")
    final = _computed(finished[0], entropy_rate)
    return dataclasses.replace(final, curve=_curve(finished[0], final)) if final.known else final


def _curve(run: Run, final: Floors) -> Floors | None:
    """The floors on run's curve prefix: recorded, the final ones when the prefix is the same, or
    computed; None when unknown (the curve plot then draws no floor rather than the wrong ones)."""
    if run.curve_unigram_floor is not None and run.curve_bigram_floor is not None:
        if run.curve_val_tokens == final.val_tokens:
            return None
        return Floors(run.curve_unigram_floor, run.curve_bigram_floor, final.entropy_rate, run.curve_val_tokens,
                      "bench")
    config = json.loads(run.config_json) if run.config_json else {}
    seq_len, prefix = config.get("data", {}).get("seq_len"), config.get("log", {}).get("eval_tokens", -1)
    if seq_len is None or prefix == -1:
        return _unknown(final.entropy_rate, "the runs do not record the curves' validation prefix")
    try:
        floors = data_floors(run.data, run.curve_val_tokens, seq_len, prefix)
    except Exception as err:  # unreadable data: no curve floors, the report still made
        return _unknown(final.entropy_rate, f"data `{run.data}` cannot be read here ({type(err).__name__}: {err})")
    if floors["val_tokens_scored"] == final.val_tokens:
        return None
    return Floors(floors["unigram"], floors["bigram"], final.entropy_rate, floors["val_tokens_scored"], "report")


def _computed(run: Run, entropy_rate: float | None) -> Floors:
    config = json.loads(run.config_json) if run.config_json else {}
    if run.final_val_tokens is None and not config:
        return _unknown(entropy_rate, "the database records neither the floors nor how many validation tokens "
                                      "the final losses scored")
    seq_len, final_eval = config.get("data", {}).get("seq_len"), config.get("log", {}).get("final_eval_tokens")
    try:
        floors = data_floors(run.data, run.final_val_tokens, seq_len, final_eval)
    except Exception as err:  # whatever stops the data being read here leaves the floors unknown, the report made
        return _unknown(entropy_rate, f"the bench did not record them and data `{run.data}` cannot be read on "
                                      f"this machine ({type(err).__name__}: {err})")
    entropy_rate = floors.get("entropy_rate") if entropy_rate is None else entropy_rate
    return Floors(floors["unigram"], floors["bigram"], entropy_rate, floors["val_tokens_scored"], "report")


@functools.lru_cache(maxsize=None)
def data_floors(spec: str, val_tokens: int | None, seq_len: int | None, final_eval_tokens: int | None) -> dict:
    """`reference_floors` of data `spec` on `val_tokens` targets or, when None, on those the trainer's
    final evaluation scores (validation_batches with seq_len and final_eval_tokens). Cached: cells
    that share data and prefix, and the CLI's summary after the report, compute them once."""
    from optarena.data import resolve_data, validation_batches
    from optarena.data.floors import reference_floors

    data = resolve_data(spec)
    if val_tokens is None:
        val_tokens = validation_batches(data.val, seq_len, 1, final_eval_tokens).num_tokens
    return reference_floors(data, val_tokens)


def _unknown(entropy_rate: float | None, problem: str) -> Floors:
    return Floors(None, None, entropy_rate, None, "", problem)
