"""TokenLoader and validation batches against windows cut by hand from the concatenated tokens."""

import numpy as np
import pytest
import torch

from optarena.data import SyntheticSource, TokenLoader, validation_batches, write_shard
from optarena.data.stream import ShardStream

T, B = 8, 4


@pytest.fixture
def data_dir(tmp_path):
    """Train: 3 shards of uneven size whose token i is (7 i) mod 65536; val: 2 shards."""
    train = (7 * np.arange(500)) % 65536
    for k, (a, b) in enumerate([(0, 130), (130, 131), (131, 500)]):
        write_shard(tmp_path / f"train_{k:06d}.bin", train[a:b])
    val = np.arange(1000, 1203)
    write_shard(tmp_path / "val_000000.bin", val[:100])
    write_shard(tmp_path / "val_000001.bin", val[100:])
    return tmp_path, train, val


def window(tokens, j):
    seq = torch.from_numpy(tokens[j * T : j * T + T + 1].astype(np.int64))
    return seq[:-1], seq[1:]


def expected_batch(tokens, seq_ids):
    pairs = [window(tokens, j) for j in seq_ids]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def take(loader, n):
    return [next(loader) for _ in range(n)]


def assert_same(a, b):
    assert len(a) == len(b)
    for (x1, y1), (x2, y2) in zip(a, b):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_stream_reads_across_shard_boundaries(data_dir):
    path, train, _ = data_dir
    stream = ShardStream.open(path, "train")
    assert stream.num_tokens == 500
    for start, n in [(0, 500), (125, 10), (130, 1), (129, 3), (499, 1)]:
        assert np.array_equal(stream.read(start, n), train[start : start + n])


def test_sequential_batches_and_epoch_wrap(data_dir):
    path, train, _ = data_dir
    loader = TokenLoader(path, B, T)
    per_epoch = (500 - 1) // T // B
    assert loader.batches_per_epoch == per_epoch
    batches = take(loader, per_epoch + 1)
    for g, (x, y) in enumerate(batches[:per_epoch]):
        ex, ey = expected_batch(train, range(g * B, g * B + B))
        assert x.dtype == torch.int64 and x.shape == (B, T)
        assert torch.equal(x, ex) and torch.equal(y, ey)
    assert loader.epoch == 1
    assert_same(batches[-1:], batches[:1])  # unshuffled epochs repeat


def test_shuffle_is_a_seeded_permutation_per_epoch(data_dir):
    path, train, _ = data_dir
    a = take(TokenLoader(path, B, T, seed=1, shuffle=True), 30)
    assert_same(a, take(TokenLoader(path, B, T, seed=1, shuffle=True), 30))
    b = take(TokenLoader(path, B, T, seed=2, shuffle=True), 30)
    assert not all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, b))
    per_epoch = TokenLoader(path, B, T).batches_per_epoch
    epoch0 = torch.cat([x for x, _ in a[:per_epoch]])
    everything = expected_batch(train, range(per_epoch * B))[0]
    assert sorted(map(tuple, epoch0.tolist())) == sorted(map(tuple, everything.tolist()))
    epoch1 = torch.cat([x for x, _ in a[per_epoch : 2 * per_epoch]])
    assert not torch.equal(epoch0, epoch1)  # a new permutation each epoch


@pytest.mark.parametrize("shuffle", [False, True])
def test_resume_equals_uninterrupted(data_dir, shuffle):
    path, _, _ = data_dir
    uninterrupted = take(TokenLoader(path, B, T, seed=5, shuffle=shuffle), 40)
    first = TokenLoader(path, B, T, seed=5, shuffle=shuffle)
    take(first, 17)
    state = first.state_dict()
    resumed = TokenLoader(path, B, T, seed=5, shuffle=shuffle)
    resumed.load_state_dict(state)
    assert_same(take(resumed, 23), uninterrupted[17:])
    with pytest.raises(ValueError, match="another data order"):
        TokenLoader(path, B, T, seed=6, shuffle=shuffle).load_state_dict(state)


@pytest.mark.parametrize("source", ["shards", "synthetic"])
def test_ranks_together_consume_the_global_batch(data_dir, source):
    src = data_dir[0] if source == "shards" else SyntheticSource(vocab_size=64, block_len=100)
    single = take(TokenLoader(src, B, T, seed=3, shuffle=True), 35)
    ranks = [take(TokenLoader(src, B, T, seed=3, shuffle=True, rank=r, world_size=2), 35) for r in (0, 1)]
    for g in range(35):
        assert ranks[0][g][0].shape == (B // 2, T)
        assert torch.equal(torch.cat([ranks[0][g][0], ranks[1][g][0]]), single[g][0])
        assert torch.equal(torch.cat([ranks[0][g][1], ranks[1][g][1]]), single[g][1])


def test_synthetic_source_batches_are_stream_windows():
    src = SyntheticSource(vocab_size=64, block_len=100)
    tokens = src.sample(3 * B * T + 1)
    for g, (x, y) in enumerate(take(TokenLoader(src, B, T), 3)):
        ex, ey = expected_batch(tokens, range(g * B, g * B + B))
        assert torch.equal(x, ex) and torch.equal(y, ey)


def test_bad_arguments(data_dir):
    path, _, _ = data_dir
    with pytest.raises(ValueError, match="world_size"):
        TokenLoader(path, 5, T, world_size=2)
    with pytest.raises(ValueError, match="fewer than one batch"):
        TokenLoader(path, 100, T)


def test_validation_is_fixed_and_complete(data_dir):
    path, _, val = data_dir
    vs = validation_batches(path, T, 7)
    num_seqs = (len(val) - 1) // T  # 25: batches of 7, 7, 7, 4
    assert vs.num_seqs == num_seqs and len(vs) == 4
    first, second = list(vs), list(vs)
    assert_same(first, second)
    x = torch.cat([b[0] for b in first])
    y = torch.cat([b[1] for b in first])
    ex, ey = expected_batch(val, range(num_seqs))
    assert torch.equal(x, ex) and torch.equal(y, ey)
    assert [b[0].shape[0] for b in first] == [7, 7, 7, 4]
    capped = validation_batches(path, T, 5, max_tokens=50)  # whole sequences only: 6 of them
    assert capped.num_tokens == 48 and torch.equal(torch.cat([b[0] for b in capped]), ex[:6])


def test_validation_split_across_ranks_covers_the_same_tokens(data_dir):
    path, _, _ = data_dir
    single = torch.cat([x for x, _ in validation_batches(path, T, 5)])
    parts = [torch.cat([x for x, _ in validation_batches(path, T, 5, rank=r, world_size=3)])
             for r in range(3)]
    assert sorted(map(tuple, torch.cat(parts).tolist())) == sorted(map(tuple, single.tolist()))


def test_synthetic_validation_is_its_own_fixed_stream():
    src = SyntheticSource(vocab_size=64, block_len=100)
    vs = validation_batches(src, T, 16)
    assert vs.num_tokens == (src.val_stream().num_tokens - 1) // T * T
    x0 = next(iter(vs))[0]
    again = validation_batches(SyntheticSource(vocab_size=64, block_len=100), T, 16)
    assert torch.equal(x0, next(iter(again))[0])
    train_x = next(TokenLoader(src, 16, T))[0]
    assert not torch.equal(x0, train_x)
