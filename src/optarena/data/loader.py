"""Training batches and the fixed validation batches.

Sequence j of a stream is tokens [j*T, j*T + T + 1): inputs its first T, targets its last T.
The stride is T, so every token after the first is a target once per epoch, as in
modded-nanogpt's loader. A batch is B sequences:

- Global batch g of epoch e = g // batches_per_epoch takes sequences order_e[i*B : (i+1)*B],
  i = g % batches_per_epoch, where order_e is 0, 1, 2, ... or, with shuffle=True, a permutation
  seeded by (seed, e). The last (num_seqs mod B) sequences of an epoch are skipped.
- Rank r of w takes the r-th contiguous B/w of those: the w ranks' batches concatenated along
  dim 0 are exactly the global batch, so w ranks consume the same tokens as one process.
- The state is the global batch index alone: resuming from `state_dict()` reproduces the
  uninterrupted batches, even with another world size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .stream import ShardStream, TokenStream
from .synthetic import SyntheticSource

Source = str | Path | SyntheticSource | TokenStream


def as_stream(source: Source, split: str) -> TokenStream:
    """A directory of shards, a SyntheticSource or a ready TokenStream, as the `split` stream."""
    if isinstance(source, SyntheticSource):
        return source.stream(0) if split == "train" else source.val_stream()
    if isinstance(source, (str, Path)):
        return ShardStream.open(source, split)
    return source


def read_windows(stream: TokenStream, seq_ids: np.ndarray, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets), int64, shape (len(seq_ids), seq_len)."""
    T = seq_len
    windows = np.stack([stream.read(int(j) * T, T + 1) for j in seq_ids]).astype(np.int64)  # (b, T+1)
    return torch.from_numpy(windows[:, :-1].copy()), torch.from_numpy(windows[:, 1:].copy())


class TokenLoader:
    """An endless iterator of (inputs_BT, targets_BT) int64 batches for rank `rank` of `world_size`.

    batch_size is the *global* number of sequences per step; each rank gets batch_size/world_size.
    """

    def __init__(
        self,
        source: Source,
        batch_size: int,
        seq_len: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = False,
    ) -> None:
        if batch_size % world_size or not 0 <= rank < world_size:
            raise ValueError(f"need batch_size % world_size == 0 and 0 <= rank < world_size, "
                             f"got {batch_size}, {world_size}, rank {rank}")
        self.stream = as_stream(source, "train")
        self.batch_size, self.seq_len = batch_size, seq_len
        self.rank, self.world_size = rank, world_size
        self.seed, self.shuffle = seed, shuffle
        self.batch = 0  # next global batch index: the whole iteration state
        self._order: tuple[int, np.ndarray] | None = None
        n = self.stream.num_tokens
        self.batches_per_epoch = None if n is None else max(0, n - 1) // seq_len // batch_size
        if self.batches_per_epoch == 0:  # (an empty stream would give -1 and read nothing, later)
            raise ValueError(f"the train stream{_where(self.stream)} has {n} tokens, fewer than one batch of "
                             f"{batch_size} x {seq_len} (+1) tokens (data.batch_tokens / data.seq_len); "
                             "use more data or a smaller batch")

    @property
    def epoch(self) -> int:
        return 0 if self.batches_per_epoch is None else self.batch // self.batches_per_epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.get_batch(self.batch)
        self.batch += 1
        return batch

    def get_batch(self, g: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of global batch g: a pure function of g and the constructor args."""
        B, b = self.batch_size, self.batch_size // self.world_size
        if self.batches_per_epoch is None:  # infinite stream: no epochs, no shuffling needed
            ids = g * B + self.rank * b + np.arange(b)
        else:
            epoch, i = divmod(g, self.batches_per_epoch)
            ids = self._epoch_order(epoch)[i * B + self.rank * b : i * B + (self.rank + 1) * b]
        return read_windows(self.stream, ids, self.seq_len)

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if self._order is None or self._order[0] != epoch:
            num_seqs = self.batches_per_epoch * self.batch_size
            order = (np.random.default_rng([self.seed, epoch]).permutation(num_seqs) if self.shuffle
                     else np.arange(num_seqs))
            self._order = (epoch, order)
        return self._order[1]

    def state_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, **self._identity()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        found = {k: state.get(k) for k in self._identity()}
        if found != self._identity():
            raise ValueError(f"loader state is for another data order: {found} != {self._identity()}")
        self.batch = int(state["batch"])

    def _identity(self) -> dict[str, Any]:
        # What fixes the batch sequence; rank and world size do not (global batches are the same).
        return {"batch_size": self.batch_size, "seq_len": self.seq_len, "seed": self.seed,
                "shuffle": self.shuffle, "num_tokens": self.stream.num_tokens}


@dataclass(frozen=True)
class ValidationSet:
    """The fixed validation batches, re-iterable: the first num_seqs sequences of the val stream,
    in order, batch_size at a time (the last batch may be smaller). With world_size > 1 each batch
    is split among ranks; their union is always the same tokens."""

    stream: TokenStream
    seq_len: int
    batch_size: int
    num_seqs: int
    rank: int = 0
    world_size: int = 1

    @property
    def num_tokens(self) -> int:
        """Target tokens scored (all ranks together)."""
        return self.num_seqs * self.seq_len

    def __len__(self) -> int:
        return -(-self.num_seqs // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, self.num_seqs, self.batch_size):
            ids = np.arange(start, min(start + self.batch_size, self.num_seqs))
            mine = np.array_split(ids, self.world_size)[self.rank]
            if len(mine):
                yield read_windows(self.stream, mine, self.seq_len)


def validation_batches(
    source: Source,
    seq_len: int,
    batch_size: int,
    max_tokens: int | None = None,
    *,
    rank: int = 0,
    world_size: int = 1,
) -> ValidationSet:
    """The validation set of a shards dir / SyntheticSource / stream: the whole of it, or its
    first `max_tokens` target tokens (modded-nanogpt scores the first 10,485,760), rounded down
    to whole sequences. The same tokens for every run, whatever its optimizer or batch size."""
    stream = as_stream(source, "val")
    n = stream.num_tokens
    if n is None and max_tokens is None:
        raise ValueError("an infinite validation stream needs max_tokens")
    num_seqs = (n - 1) // seq_len if n is not None else max_tokens // seq_len
    if max_tokens is not None:
        num_seqs = min(num_seqs, max_tokens // seq_len)
    if num_seqs < 1:
        raise ValueError(f"the validation stream{_where(stream)} of {n} tokens holds no sequence of "
                         f"{seq_len} + 1 tokens (data.seq_len)")
    return ValidationSet(stream, seq_len, batch_size, num_seqs, rank, world_size)


def _where(stream: TokenStream) -> str:
    """' (DIR)' for a stream of shards, so that a too-short split names its directory."""
    paths = getattr(stream, "paths", None)
    return f" ({Path(paths[0]).parent})" if paths else ""
