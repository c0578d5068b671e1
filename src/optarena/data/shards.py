"""The FineWeb / llm.c token-shard format, as read by modded-nanogpt.

A shard is a 1024-byte header of 256 little-endian int32 followed by the tokens:

    header[0] = 20240520   magic
    header[1] = 1          version
    header[2] = n_tokens
    header[3:] = 0
    body      = n_tokens x uint16, little-endian

Tokens are uint16, so a tokenizer's vocabulary must fit in 65536 ids (GPT-2's 50257 does).
Shards written here are byte-identical to modded-nanogpt's `data/fineweb.py` output, so its
pre-tokenized FineWeb10B shards can be read directly and ours can be fed to its trainer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optarena._files import atomic_write

MAGIC = 20240520
VERSION = 1
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
MAX_TOKEN = 2**16 - 1


class ShardError(ValueError):
    """A file is not a well-formed token shard; the message names the file and the defect."""


def write_shard(path: str | Path, tokens: np.ndarray | list[int]) -> Path:
    """Write `tokens` as a shard at `path`, atomically (optarena._files.atomic_write).

    Readers never see a half-written shard, which is what makes `prepare` safe to kill.
    """
    path = Path(path)
    tokens_np = np.asarray(tokens)
    if tokens_np.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {tokens_np.shape}")
    if tokens_np.size and (tokens_np.min() < 0 or tokens_np.max() > MAX_TOKEN):
        raise ValueError(
            f"tokens must lie in [0, {MAX_TOKEN}] to fit uint16, "
            f"found range [{tokens_np.min()}, {tokens_np.max()}] for {path}"
        )
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:3] = (MAGIC, VERSION, tokens_np.size)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "xb") as f:
            f.write(header.tobytes())
            f.write(tokens_np.astype("<u2").tobytes())

    return atomic_write(path, write)


def read_header(path: str | Path) -> int:
    """Validate a shard's header and size; return its token count."""
    path = Path(path)
    size = path.stat().st_size
    if size < HEADER_BYTES:
        raise ShardError(f"{path}: file has {size} bytes, shorter than the {HEADER_BYTES}-byte header")
    try:
        header = np.fromfile(path, dtype="<i4", count=HEADER_INTS)
    except OSError as e:  # e.g. permission denied: say which shard
        raise ShardError(f"{path}: cannot read the shard ({e.strerror or e})") from None
    if header[0] != MAGIC:
        raise ShardError(f"{path}: bad magic number: expected {MAGIC}, found {header[0]}")
    if header[1] != VERSION:
        raise ShardError(f"{path}: unsupported version: expected {VERSION}, found {header[1]}")
    n_tokens = int(header[2])
    if n_tokens < 0:
        raise ShardError(f"{path}: corrupt header: it counts {n_tokens} tokens")
    body = size - HEADER_BYTES
    if n_tokens < 0 or body != 2 * n_tokens:
        raise ShardError(
            f"{path}: body has {body} bytes, expected 2 * {n_tokens} = {2 * n_tokens} "
            f"({'truncated' if body < 2 * n_tokens else 'trailing bytes'})"
        )
    return n_tokens


def read_shard(path: str | Path) -> np.ndarray:
    """Memory-map a shard's tokens (uint16, read-only, no copy) after validating it."""
    n_tokens = read_header(path)
    if n_tokens == 0:  # np.memmap refuses zero-length maps
        return np.zeros(0, dtype="<u2")
    return np.memmap(path, dtype="<u2", mode="r", offset=HEADER_BYTES, shape=(n_tokens,))
