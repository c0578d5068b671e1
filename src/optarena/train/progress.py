"""Progress on stderr (rank 0 only): a tqdm bar on a terminal, plain lines elsewhere.

A bar redraws in place, which a terminal shows well and a CI log turns into thousands of lines;
so `progress="auto"` draws a bar only when stderr is a TTY (and tqdm is installed), and otherwise
prints one line per logged step: step, loss, LR, tokens/s and the ETA. Evaluations and the end
of the run are announced as lines in both modes.
"""

from __future__ import annotations

import sys
import time
from typing import Any


def _format_eta(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


class Progress:
    def __init__(self, mode: str, total_steps: int, start_step: int, enabled: bool = True) -> None:
        self.total, self.start_step = total_steps, start_step
        self.t0 = time.perf_counter()
        self.mode = _resolve(mode) if enabled else "off"
        self.bar = None
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, file=sys.stderr, unit="step",
                            dynamic_ncols=True, smoothing=0.05)

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def log(self, entry: dict[str, Any]) -> None:
        """A metrics entry: the bar's postfix, or one line."""
        loss, rate = entry.get("train_loss"), entry.get("tokens_per_s")
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}" if loss is not None else "nan",
                                 tok_s=f"{rate:,.0f}" if rate else "-", refresh=False)
        elif self.mode == "lines":
            step = entry["step"]
            done = step - self.start_step
            eta = (time.perf_counter() - self.t0) / done * (self.total - step) if done > 0 else 0.0
            loss_text = f"{loss:.4f}" if loss is not None else "nan"
            self.message(f"step {step}/{self.total} | loss {loss_text} | lr {entry.get('lr', 0):.3g} | "
                         f"{(rate or 0):,.0f} tok/s | eta {_format_eta(eta)}")

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        elif self.mode != "off":
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _resolve(mode: str) -> str:
    if mode != "auto":
        return "lines" if mode == "bar" and not _has_tqdm() else mode
    return "bar" if sys.stderr.isatty() and _has_tqdm() else "lines"


def _has_tqdm() -> bool:
    import importlib.util

    return importlib.util.find_spec("tqdm") is not None
