"""A synthetic "power-law language" whose irreducible loss is known exactly.

An order-k Markov source over V tokens. Context c = the last k tokens (C = V^k contexts, index
c = sum_i a_i V^(k-i), so c % V is the latest token). Its next-token law is Zipf, P(rank j) =
(j+1)^-s / Z, over a context-specific random permutation pi_c of the vocabulary:

    P(x = pi_c[j] | c) = (j+1)^-s / Z

Since every row is Zipf with full support, the context chain is irreducible and aperiodic, so a
unique stationary law mu over contexts exists; it is found by power iteration in float64. Then

    entropy rate h = sum_c mu_c H(P(.|c))      (nats/token: the loss floor of a perfect model)
    unigram law    = marginal of mu on the latest token

(every row being a permutation of one Zipf law, h equals that law's entropy; the weighted sum is
kept as the general definition and is what the tests check against samples).

Seekable sampling: the stream is cut into blocks of `block_len` tokens; block b of stream `s` is
generated from an RNG seeded by (seed, s, b), starting from a context drawn from mu. Any position
is reproducible by generating its block alone. The price: at block starts (1 in block_len
positions) the context is fresh, so a model that cannot see block boundaries can do slightly
worse than h there; averaged over the stream that is at most max(-log P)/block_len, about 5e-4
nats for V=1024, s=1 and block_len=16384, and typically a few times less.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

VAL_STREAM = 1  # stream 0 is train; validation is stream 1: same law, disjoint RNG seeds
VAL_TOKENS = 2**20  # fixed validation length; every run is scored on these same tokens
MAX_TABLE = 2**24  # C * V entries: the float64 CDF table stays <= 128 MiB
BLOCKS_PER_FILL = 64  # blocks generated together: the per-token loop is vectorised across blocks


@dataclass(frozen=True)
class SyntheticSource:
    vocab_size: int = 1024
    order: int = 1
    zipf_s: float = 1.0
    seed: int = 0
    block_len: int = 16384
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 2 <= self.vocab_size <= 2**16:
            raise ValueError(f"synthetic: V (vocab_size) must be in [2, 65536] (uint16 tokens), got {self.vocab_size}")
        if self.order < 1 or self.vocab_size ** (self.order + 1) > MAX_TABLE:
            raise ValueError(
                f"synthetic: need order >= 1 and V**(order+1) <= {MAX_TABLE} (the transition table), "
                f"got V={self.vocab_size}, order={self.order}"
            )
        if not 0 < self.zipf_s < float("inf") or self.block_len < 1:  # (nan fails the comparison too)
            raise ValueError(f"synthetic: need s (zipf_s) > 0, finite, and block_len >= 1, got s={self.zipf_s}, "
                             f"block_len={self.block_len}")

    @property
    def num_contexts(self) -> int:
        return self.vocab_size**self.order

    @cached_property
    def zipf(self) -> np.ndarray:
        """The Zipf law over ranks, float64, shape (V,)."""
        p = np.arange(1, self.vocab_size + 1, dtype=np.float64) ** -self.zipf_s
        return p / p.sum()

    @cached_property
    def perms(self) -> np.ndarray:
        """pi_c, shape (C, V): row c lists the tokens of context c from most to least likely."""
        rng = np.random.default_rng([self.seed, 0])  # the table's RNG; blocks use [seed, 1, ...]
        V = self.vocab_size
        return rng.permuted(np.tile(np.arange(V), (self.num_contexts, 1)), axis=1)

    @property
    def transition(self) -> np.ndarray:
        """P[c, x], float64, shape (C, V)."""
        P = np.empty(self.perms.shape)
        np.put_along_axis(P, self.perms, np.broadcast_to(self.zipf, P.shape), axis=1)
        return P

    @cached_property
    def stationary(self) -> np.ndarray:
        """mu over contexts, by power iteration in float64 to an L1 change below 1e-13."""
        V, C = self.vocab_size, self.num_contexts
        # Context c = (a, rest) -> (rest, x): mass moves to next[rest, x] = sum_a mu[a, rest] P[c, x].
        P_arx = self.transition.reshape(V, C // V, V)
        mu = np.full(C, 1.0 / C)
        for _ in range(10_000):
            new = np.einsum("ar,arx->rx", mu.reshape(V, C // V), P_arx).ravel()
            new /= new.sum()
            done = np.abs(new - mu).sum() < 1e-13
            mu = new
            if done:
                return mu
        # A large s makes each row nearly deterministic: the chain mixes too slowly (s <= 8 converges).
        raise ValueError(f"synthetic: the stationary law of V={V}, order={self.order}, s={self.zipf_s} "
                         "did not converge in 10,000 power iterations; use a smaller s (<= 8 works)")

    def entropy_rate(self) -> float:
        """Exact entropy rate in nats/token: the loss of the true conditional law."""
        P = self.transition
        row_entropy = -(P * np.log(P)).sum(axis=1)
        return float(self.stationary @ row_entropy)

    def unigram(self) -> np.ndarray:
        """Stationary token frequencies (marginal of mu on the latest token)."""
        return self.stationary.reshape(-1, self.vocab_size).sum(axis=0)

    def unigram_entropy(self) -> float:
        p = self.unigram()
        return float(-(p * np.log(p)).sum())

    def sample(self, n_tokens: int, offset: int = 0, stream: int = 0) -> np.ndarray:
        """Tokens [offset, offset + n_tokens) of stream `stream` (uint16); any slice, any order."""
        if n_tokens <= 0:
            return np.zeros(0, dtype=np.uint16)
        L = self.block_len
        first, last = offset // L, (offset + n_tokens - 1) // L
        blocks = [self._block(stream, b) for b in range(first, last + 1)]
        start = offset - first * L
        return np.concatenate(blocks)[start : start + n_tokens]

    def stream(self, stream: int = 0, num_tokens: int | None = None) -> SyntheticStream:
        return SyntheticStream(self, stream, num_tokens)

    def val_stream(self) -> SyntheticStream:
        return SyntheticStream(self, VAL_STREAM, VAL_TOKENS)

    def _block(self, stream: int, b: int) -> np.ndarray:
        key = (stream, b)
        if key not in self._cache:
            if len(self._cache) >= 4 * BLOCKS_PER_FILL:
                self._cache.clear()  # simple bound; sequential readers refill in one go
            ids = range(b, b + BLOCKS_PER_FILL)
            self._cache.update(zip(((stream, i) for i in ids), self._generate(stream, ids)))
        return self._cache[key]

    def _generate(self, stream: int, block_ids: range) -> list[np.ndarray]:
        # Every row is the same Zipf law over its own permutation, so the *rank* of each token
        # is iid Zipf and can be drawn for all positions at once; only the walk through the
        # permutation tables (token = pi_ctx[rank]) is sequential, vectorised across blocks.
        V, C, L = self.vocab_size, self.num_contexts, self.block_len
        rngs = [np.random.default_rng([self.seed, 1, stream, b]) for b in block_ids]
        mu_cdf = np.cumsum(self.stationary)
        ctx = np.array([np.searchsorted(mu_cdf, r.random() * mu_cdf[-1], side="right") for r in rngs])
        ctx = np.minimum(ctx, C - 1)
        u = np.stack([r.random(L) for r in rngs])  # (n_blocks, L)
        ranks = np.minimum(np.searchsorted(np.cumsum(self.zipf), u, side="right"), V - 1)
        table = self.perms.ravel()
        out = np.empty((len(rngs), L), dtype=np.int64)
        for t in range(L):
            out[:, t] = table[ctx * V + ranks[:, t]]
            ctx = (ctx * V + out[:, t]) % C
        return list(out.astype(np.uint16))


@dataclass(frozen=True)
class SyntheticStream:
    """One stream of a SyntheticSource as a TokenStream; infinite unless num_tokens is set."""

    source: SyntheticSource
    stream: int = 0
    num_tokens: int | None = None

    def read(self, start: int, n: int) -> np.ndarray:
        if self.num_tokens is not None and start + n > self.num_tokens:
            raise IndexError(f"read [{start}, {start + n}) past the stream's {self.num_tokens} tokens")
        return self.source.sample(n, start, self.stream)
