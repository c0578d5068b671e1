"""Statistics for comparing optimizers across seeds (significance.py)."""

from optarena.stats.significance import (
    Summary,
    Verdict,
    WelchResult,
    ZTest,
    compare_to_baseline,
    holm,
    holm_verdicts,
    summarize,
    welch_t_test,
    z_test_against_target,
)

__all__ = [
    "Summary",
    "Verdict",
    "WelchResult",
    "ZTest",
    "compare_to_baseline",
    "holm",
    "holm_verdicts",
    "summarize",
    "welch_t_test",
    "z_test_against_target",
]
