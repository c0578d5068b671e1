"""``python -m tests.train.crash_at ARGS``: ``optarena train ARGS`` whose step OPTARENA_TEST_CRASH_AT raises
on every rank, as a kill would stop it there (for the resume tests under torchrun)."""

from __future__ import annotations

import os
import sys

from optarena.cli import main
from optarena.train.loop import Trainer

AT = int(os.environ["OPTARENA_TEST_CRASH_AT"])
_original = Trainer._train_step


def _step_or_crash(self):
    if self.step + 1 == AT:
        raise RuntimeError(f"simulated crash in step {AT}")
    return _original(self)


Trainer._train_step = _step_or_crash
sys.exit(main(["train", *sys.argv[1:]]))
