"""SyntheticSource against references written here from the definition, and against samples."""

import numpy as np
import pytest

from optarena.data import SyntheticSource


def zipf_entropy(V, s):
    p = np.arange(1, V + 1, dtype=np.float64) ** -s
    p /= p.sum()
    return -(p * np.log(p)).sum()


def reference_stationary(src):
    """The stationary law from the explicit C x C chain's leading left eigenvector."""
    V, k = src.vocab_size, src.order
    C = V**k
    P = src.transition
    M = np.zeros((C, C))
    for c in range(C):
        for x in range(V):
            M[c, (c * V + x) % C] += P[c, x]
    w, vecs = np.linalg.eig(M.T)
    mu = np.real(vecs[:, np.argmin(np.abs(w - 1))])
    return mu / mu.sum()


def plugin_conditional_entropy(x, k, V):
    """H(X_t | X_{t-k..t-1}) from counts, with the Miller-Madow bias correction."""
    ctx = np.zeros(len(x) - k, dtype=np.int64)
    for i in range(k):
        ctx = ctx * V + x[i : len(x) - k + i]
    joint = np.bincount(ctx * V + x[k:], minlength=V ** (k + 1))
    marg = np.bincount(ctx, minlength=V**k)

    def H(counts):
        n = counts.sum()
        p = counts[counts > 0] / n
        return -(p * np.log(p)).sum() + (len(p) - 1) / (2 * n)

    return H(joint) - H(marg)


@pytest.mark.parametrize("V, k, s", [(64, 1, 1.0), (16, 2, 1.3)])
def test_entropy_rate_and_unigram_match_references_and_samples(V, k, s):
    src = SyntheticSource(vocab_size=V, order=k, zipf_s=s, seed=7)
    assert np.allclose(src.transition.sum(axis=1), 1)
    assert src.entropy_rate() == pytest.approx(zipf_entropy(V, s), abs=1e-12)  # rows are permuted Zipf
    assert np.allclose(src.stationary, reference_stationary(src), atol=1e-10)
    x = src.sample(2**20).astype(np.int64)
    assert abs(plugin_conditional_entropy(x, k, V) - src.entropy_rate()) < 5e-3
    freq = np.bincount(x, minlength=V) / len(x)
    assert np.abs(freq - src.unigram()).max() < 2e-3
    assert src.unigram_entropy() > src.entropy_rate()
    p = src.unigram()
    assert src.unigram_entropy() == pytest.approx(-(p * np.log(p)).sum())


def test_deterministic_and_seed_dependent():
    a = SyntheticSource(vocab_size=128, seed=1, block_len=1000).sample(5000)
    b = SyntheticSource(vocab_size=128, seed=1, block_len=1000).sample(5000)
    c = SyntheticSource(vocab_size=128, seed=2, block_len=1000).sample(5000)
    assert a.dtype == np.uint16 and np.array_equal(a, b) and not np.array_equal(a, c)


def test_seekable_any_slice_from_a_fresh_source():
    whole = SyntheticSource(vocab_size=128, seed=3, block_len=1000).sample(300_000)
    for offset, n in [(0, 1), (999, 2), (1000, 1000), (123_456, 7_890), (250_000, 50_000)]:
        fresh = SyntheticSource(vocab_size=128, seed=3, block_len=1000)  # empty block cache
        assert np.array_equal(fresh.sample(n, offset), whole[offset : offset + n])


def test_streams_are_disjoint():
    src = SyntheticSource(vocab_size=128, seed=3)
    train, val = src.stream(0).read(0, 4096), src.val_stream().read(0, 4096)
    assert not np.array_equal(train, val)
    with pytest.raises(IndexError):
        src.val_stream().read(src.val_stream().num_tokens - 1, 2)


BAD = [dict(vocab_size=1), dict(vocab_size=70000), dict(vocab_size=1024, order=2), dict(zipf_s=0.0),
       dict(order=0)]


@pytest.mark.parametrize("kwargs", BAD)
def test_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        SyntheticSource(**kwargs)
