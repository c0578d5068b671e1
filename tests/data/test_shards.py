"""Shard format: round trip, the byte layout of modded-nanogpt's writer, and every corruption."""

import struct

import numpy as np
import pytest

from optarena.data import ShardError, read_shard, write_shard


def reference_shard_bytes(tokens: list[int]) -> bytes:
    # The format spelled out independently: 256 little-endian int32, then uint16 tokens.
    header = struct.pack("<256i", 20240520, 1, len(tokens), *([0] * 253))
    return header + struct.pack(f"<{len(tokens)}H", *tokens)


@pytest.mark.parametrize("tokens", [[], [0], [0, 1, 50256, 65535], list(range(1000))])
def test_round_trip_and_layout(tmp_path, tokens):
    path = write_shard(tmp_path / "s.bin", np.array(tokens, dtype=np.int64))
    assert path.read_bytes() == reference_shard_bytes(tokens)
    got = read_shard(path)
    assert got.dtype == np.uint16 and got.tolist() == tokens
    if tokens:
        assert isinstance(got, np.memmap) and not got.flags.writeable


def test_rejects_out_of_range_tokens_and_leaves_no_file(tmp_path):
    for bad in ([65536], [-1]):
        with pytest.raises(ValueError, match="uint16"):
            write_shard(tmp_path / "s.bin", bad)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_shard(tmp_path):
    path = write_shard(tmp_path / "s.bin", [1, 2, 3])
    with pytest.raises(ValueError):
        write_shard(path, [70000])
    assert read_shard(path).tolist() == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.bin"]


def corrupt(path, kind):
    data = bytearray(reference_shard_bytes([5, 6, 7, 8]))
    if kind == "magic":
        data[0:4] = struct.pack("<i", 12345)
    elif kind == "version":
        data[4:8] = struct.pack("<i", 2)
    elif kind == "short header":
        data = data[:1000]
    elif kind == "truncated body":
        data = data[:-3]
    elif kind == "trailing bytes":
        data += b"\x00\x00"
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("magic", "expected 20240520, found 12345"),
        ("version", "expected 1, found 2"),
        ("short header", "1000 bytes, shorter than the 1024-byte header"),
        ("truncated body", "body has 5 bytes, expected 2 \\* 4 = 8 \\(truncated\\)"),
        ("trailing bytes", "body has 10 bytes, expected 2 \\* 4 = 8 \\(trailing bytes\\)"),
    ],
)
def test_corruption_raises_shard_error_naming_the_file(tmp_path, kind, expected):
    path = tmp_path / f"{kind.replace(' ', '_')}.bin"
    corrupt(path, kind)
    with pytest.raises(ShardError, match=expected) as err:
        read_shard(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ValueError)
