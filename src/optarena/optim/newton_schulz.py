"""Newton–Schulz orthogonalisation for Muon, batched over stacks of same-shape matrices.

For a matrix G = U·S·Vᵀ (SVD), the quintic iteration drives every singular value towards ~1, giving an
approximation of U·Vᵀ without an SVD (KellerJordan/Muon@857d1ad ``zeropower_via_newtonschulz5``)::

    X ← bf16(G);  X ← Xᵀ if rows > cols            the wide side: A is min(r, c)² (bf16: Keller's;
                                                    fp32 where the CPU lacks bf16 matmul, see ns_dtype)
    X ← X / (‖X‖_F + 1e-7)                          ‖X‖₂ ≤ ‖X‖_F ≤ 1: inside the iteration's basin
    repeat steps:  A = X·Xᵀ ;  B = b·A + c·A·A ;  X = a·X + B·X
    undo the transpose

with (a, b, c) = (3.4445, −4.7750, 2.0315), chosen to maximise the slope at zero; the result is
U·S'·Vᵀ with S' roughly in [0.7, 1.2], not exactly U·Vᵀ, which Keller reports does not hurt training.

Every operation acts on the last two dimensions, so a (N, r, c) stack is N independent iterations run
as batched matmuls: Muon stacks its same-shape matrices and orthogonalises them in one call.

Two forms of the same iteration (``form``, Muon's ``ns_form``):

* ``"keller"``: his ops in his order (``c * A @ A`` is (c·A)·A), each rounded to bf16 on its own, so
  one stack gives the same bf16 numbers as his per-matrix loop;
* ``"fused"``: B = b·A + c·A·A and X = a·X + B·X each as one ``baddbmm`` (torch.optim.Muon's
  ``addmm`` form), where the scaling and the sum happen inside the matmul and are rounded once. The
  same iteration, rounded differently in bf16 (less often: the elementwise ops' own roundings are
  gone); in fp32/fp64 the two agree to rounding (tests/optim/test_muon.py). On CPU the separate
  bf16 elementwise ops cost more than the matmuls' work saves: on the 20m preset's 70 matrices, one
  thread, the fused form took 0.45x the time of Keller's (docs/results/perf_cpu.md).
"""

from __future__ import annotations

import math

import torch

KELLER_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
ADJUST_LR = ("original", "match_rms_adamw")
NS_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}
NS_FORMS = ("keller", "fused")


def ns_dtype(setting: str, device: torch.device) -> torch.dtype:
    """The precision Newton–Schulz runs in: ``"bfloat16"`` (Keller's), ``"float32"``, or ``"auto"``: bf16 on
    accelerators and on CPUs with bf16 matrix units (AVX512-BF16 or AMX, as oneDNN uses them), fp32 on
    other CPUs, where a bf16 matmul is converted to fp32 and computed there, so bf16 only adds the
    conversions. (On this project's Xeon with AMX, bf16 NS measured 2-4x faster than fp32.)"""
    if setting != "auto":
        return NS_DTYPES[setting]
    if device.type != "cpu" or cpu_has_bf16_matmul():
        return torch.bfloat16
    return torch.float32


def cpu_has_bf16_matmul() -> bool:
    return bool(torch.backends.mkldnn.is_available()
                and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()))


def ns_form(setting: str, device: torch.device) -> str:
    """The form Newton–Schulz runs in: ``"keller"``, ``"fused"``, or ``"auto"``: fused on CPU, where it
    measured 2.2x faster (the module docstring), Keller's bits on accelerators."""
    if setting != "auto":
        return setting
    return "fused" if device.type == "cpu" else "keller"


def newton_schulz(G: torch.Tensor, steps: int = 5,
                  coefficients: tuple[float, float, float] = KELLER_COEFFICIENTS,
                  dtype: torch.dtype = torch.bfloat16, form: str = "keller") -> torch.Tensor:
    """Approximately orthogonalise each matrix of ``G`` (..., r, c); returns ``dtype`` (bf16: Keller's).
    ``form``: ``"keller"`` or ``"fused"`` (the module docstring)."""
    if form not in NS_FORMS:
        raise ValueError(f"newton_schulz: form must be one of {NS_FORMS}, got {form!r}")
    a, b, c = coefficients
    X = G.to(dtype)  # bf16 throughout, as Keller: the iteration is stable in it and twice as fast
    tall = G.size(-2) > G.size(-1)
    if tall:
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    if form == "fused":
        shape = X.shape
        X = X.reshape(math.prod(shape[:-2]), *shape[-2:])  # baddbmm takes exactly one batch dimension
        for _ in range(steps):
            A = X @ X.mT
            X = torch.baddbmm(X, torch.baddbmm(A, A, A, beta=b, alpha=c), X, beta=a)
        X = X.reshape(shape)
    else:
        for _ in range(steps):
            A = X @ X.mT
            B = b * A + c * A @ A
            X = a * X + B @ X
    return X.mT if tall else X


def matrix_shape(shape: torch.Size) -> tuple[int, int]:
    """The (rows, cols) of the matrices Muon sees in a tensor of this shape (see :func:`as_matrices`)."""
    if len(shape) == 4:
        return shape[0], math.prod(shape[1:])
    return shape[-2], shape[-1]


def as_matrices(x: torch.Tensor) -> torch.Tensor:
    """A (k, r, c) view of a Muon tensor.

    4-D conv filters (out, in, kh, kw) are one (out, in·kh·kw) matrix (Keller's ``view(len, -1)``);
    2-D is one matrix; other shapes are a batch of matrices over the leading dimensions (Keller's
    batched NS, e.g. stacked expert weights). ``k`` is explicit so that zero-size tensors reshape.
    """
    k = 1 if x.ndim == 4 else math.prod(x.shape[:-2])
    return x.reshape(k, *matrix_shape(x.shape))


def lr_scale(adjust_lr: str, rows: int, cols: int) -> float:
    """Per-matrix multiplier of the lr.

    ``"original"``: sqrt(max(1, r/c)) (Keller), so a tall matrix's update keeps unit RMS per column;
    ``"match_rms_adamw"``: 0.2·sqrt(max(r, c)) (Moonlight, MoonshotAI/Moonlight@c2ad5b2), which gives
    the update the RMS ~0.2 of a typical AdamW update, so AdamW's lr and weight decay carry over.
    """
    if adjust_lr == "original":
        return max(1.0, rows / cols) ** 0.5 if cols else 1.0
    return 0.2 * max(rows, cols) ** 0.5
