"""Training compute in PetaFLOP-hours (PFH), the x-axis of every optarena scaling plot.

One PFH = 1e15 FLOP/s for one hour = 3.6e18 FLOPs. Two conventions:

  * `compute_pfh(params_non_embedding, tokens)` = 6·N·D / 3.6e18 with N the *non-embedding* parameters
    (`ParamCount.non_embedding`) and D the training tokens. This is ADANA's choice ("6D Chinchilla",
    arXiv 2602.05298; mlexpos/adana visualization/compare_scaling_rules_new.py, with D = 20·N_total), which its
    compute_formula_comparison.py argues extrapolates better than 6·N_total·D. **Reports use this one**,
    so our multipliers compare with the paper's.
  * `compute_flops(flops_per_token, tokens)` = FLOPs/token · D / 3.6e18, for a per-token count that
    includes attention and the output head (`optarena.model.counting.flops_per_token`). Also in PFH,
    so the two are interchangeable as x-axes; they differ by a size-dependent factor, which changes
    fitted exponents and therefore multipliers: never mix them in one fit.
"""

from __future__ import annotations

FLOPS_PER_PFH = 3.6e18  # 1e15 FLOP/s x 3600 s


def compute_pfh(params_non_embedding: float, tokens: float) -> float:
    """6·N_nonemb·D in PetaFLOP-hours (the authors' convention; see the module docstring)."""
    if params_non_embedding <= 0 or tokens <= 0:
        raise ValueError(f"params_non_embedding and tokens must be positive, got {params_non_embedding}, {tokens}")
    return 6.0 * params_non_embedding * tokens / FLOPS_PER_PFH


def compute_flops(flops_per_token: float, tokens: float) -> float:
    """Counted training FLOPs (FLOPs per token x tokens) in PetaFLOP-hours."""
    if flops_per_token <= 0 or tokens <= 0:
        raise ValueError(f"flops_per_token and tokens must be positive, got {flops_per_token}, {tokens}")
    return flops_per_token * tokens / FLOPS_PER_PFH
