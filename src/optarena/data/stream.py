"""Token streams: what loaders read. A stream is one long token sequence with random access.

Two kinds: `ShardStream` (the shards of one split, concatenated in name order) and
`SyntheticStream` (synthetic.py; infinite unless capped). Concatenating shards is safe because
every document starts with BOS, so a window spanning a shard boundary is still well formed.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from .shards import ShardError, read_header, read_shard


class TokenStream(Protocol):
    num_tokens: int | None  # None: infinite

    def read(self, start: int, n: int) -> np.ndarray: ...


def split_shards(directory: str | Path, split: str) -> list[Path]:
    """The `split` ("train"/"val") shards of a directory, sorted. Accepts modded-nanogpt's names
    (fineweb_train_000001.bin) as well as ours (train_000000.bin)."""
    directory = Path(directory)
    paths = sorted(p for p in directory.glob(f"*{split}_*.bin") if p.name.split("_")[-2] == split)
    if not paths:
        raise FileNotFoundError(
            f"{directory}: no {split}_*.bin shards; a data dir needs train_*.bin and val_*.bin "
            "(make one with optarena.data.prepare)"
        )
    return paths


@dataclass(frozen=True)
class ShardStream:
    """Shards concatenated into one stream; each shard is memory-mapped on first use."""

    paths: tuple[Path, ...]
    starts: tuple[int, ...]  # starts[i] = global index of shard i's first token
    num_tokens: int
    _maps: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def open(cls, directory: str | Path, split: str) -> ShardStream:
        paths = tuple(split_shards(directory, split))
        sizes = [read_header(p) for p in paths]  # validates every shard up front
        starts = tuple(int(s) for s in np.cumsum([0, *sizes[:-1]]))
        return cls(paths, starts, sum(sizes))

    def read(self, start: int, n: int) -> np.ndarray:
        if start < 0 or start + n > self.num_tokens:
            raise IndexError(f"read [{start}, {start + n}) outside the stream's {self.num_tokens} tokens")
        if n == 0:
            return np.zeros(0, dtype=np.uint16)
        parts, pos, end = [], start, start + n
        i = bisect.bisect_right(self.starts, pos) - 1
        while pos < end:
            shard = self._mapped(i)
            lo = pos - self.starts[i]
            take = min(end - pos, len(shard) - lo)
            parts.append(shard[lo : lo + take])
            pos += take
            i += 1
        return np.concatenate(parts) if len(parts) != 1 else np.asarray(parts[0])

    def check_ids(self, vocab_size: int, context: str) -> None:
        """Raise a ShardError naming the file, the id and its position unless every id is below
        ``vocab_size`` (``context`` says where that size comes from): a bad id would otherwise surface
        mid-run as a bare IndexError in the embedding, or not at all below the padded vocabulary."""
        for path in self.paths:
            top = _max_id(path)
            if top >= vocab_size:
                tokens = read_shard(path)
                pos = int(np.argmax(tokens >= vocab_size))
                raise ShardError(f"{path}: token id {tokens[pos]} at position {pos} is not below the vocabulary "
                                 f"size {vocab_size} ({context}); the largest id in the file is {top}")

    def _mapped(self, i: int) -> np.ndarray:
        # Map each shard once per stream: mapping per read would cost an mmap syscall each time.
        if i not in self._maps:
            self._maps[i] = read_shard(self.paths[i])
        return self._maps[i]


def _max_id(path: Path) -> int:
    stat = path.stat()  # the file's identity: a rewritten shard is scanned again
    return _max_id_of(path, stat.st_ino, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _max_id_of(path: Path, inode: int, size: int, mtime_ns: int) -> int:
    # A linear scan of the memory map (a FineWeb shard: 200 MB), once per file and process: the
    # trainer and the bench worker both resolve the same data. Nothing is cached on disk.
    tokens = read_shard(path)
    return int(tokens.max()) if len(tokens) else -1
