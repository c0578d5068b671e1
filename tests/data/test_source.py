"""resolve_data: each --data form, and its errors."""

import json

import numpy as np
import pytest

from optarena.data import SyntheticSource, resolve_data, write_shard


def test_synthetic_spec():
    ds = resolve_data("synthetic:V=64,order=2,s=1.2,seed=3")
    src = SyntheticSource(vocab_size=64, order=2, zipf_s=1.2, seed=3)
    assert ds.kind == "synthetic" and ds.vocab_size == 64
    assert ds.meta["loss_floor"] == pytest.approx(src.entropy_rate())
    assert np.array_equal(ds.train.read(0, 1000), src.sample(1000))
    assert not np.array_equal(ds.val.read(0, 1000), ds.train.read(0, 1000))
    assert ds.val.num_tokens is not None and ds.train.num_tokens is None
    assert resolve_data("synthetic").vocab_size == SyntheticSource().vocab_size


def test_synthetic_typo_suggests_the_key():
    with pytest.raises(ValueError, match="did you mean 'order'"):
        resolve_data("synthetic:ordr=2")


def test_shards_dir(tmp_path):
    write_shard(tmp_path / "train_000000.bin", np.arange(100))
    write_shard(tmp_path / "val_000000.bin", np.arange(50))
    ds = resolve_data(str(tmp_path))
    assert ds.kind == "shards" and ds.vocab_size == 50257  # no meta.json: GPT-2 tokens assumed
    assert ds.train.num_tokens == 100 and ds.val.num_tokens == 50
    (tmp_path / "meta.json").write_text(json.dumps({"vocab_size": 300}))
    assert resolve_data(str(tmp_path)).vocab_size == 300


def test_modded_nanogpt_file_names(tmp_path):
    write_shard(tmp_path / "fineweb_train_000001.bin", np.arange(10))
    write_shard(tmp_path / "fineweb_train_000002.bin", np.arange(10, 30))
    write_shard(tmp_path / "fineweb_val_000000.bin", np.arange(5))
    ds = resolve_data(str(tmp_path))
    assert np.array_equal(ds.train.read(0, 30), np.arange(30))


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="optarena data prepare"):
        resolve_data("hf:HuggingFaceFW/fineweb:sample-10BT")
    with pytest.raises(ValueError, match="directory of train"):
        resolve_data(str(tmp_path / "nowhere"))
    write_shard(tmp_path / "train_000000.bin", np.arange(10))
    with pytest.raises(FileNotFoundError, match="no val_"):
        resolve_data(str(tmp_path))


def test_an_unknown_embedded_variant_names_the_spec():
    with pytest.raises(ValueError, match="--data embedded:words: tokenizer spec must be"):
        resolve_data("embedded:words")


def shard_dir(tmp_path, train, val, vocab_size=None):
    write_shard(tmp_path / "train_000000.bin", train)
    write_shard(tmp_path / "val_000000.bin", val)
    if vocab_size is not None:
        (tmp_path / "meta.json").write_text(json.dumps({"vocab_size": vocab_size}))
    return tmp_path


@pytest.mark.parametrize("train, val, bad", [
    ([1, 2, 300, 3], [4, 5], "train_000000.bin: token id 300 at position 2"),
    ([1, 2, 3], [4, 5, 6, 7, 512, 301], "val_000000.bin: token id 512 at position 4"),
])  # fmt: skip
def test_token_ids_outside_the_vocabulary_are_refused_at_load_time(tmp_path, train, val, bad):
    """Once a bare `IndexError: index out of range in self` from the embedding, mid-run."""
    shard_dir(tmp_path, train, val, vocab_size=300)
    with pytest.raises(ValueError) as e:
        resolve_data(str(tmp_path))
    assert str(e.value) == (f"{tmp_path / bad} is not below the vocabulary size 300 (vocab_size in {tmp_path / 'meta.json'}: the shards and "
                            f"meta.json disagree); the largest id in the file is {max(train + val)}")


def test_without_meta_json_gpt2_is_assumed_with_a_warning_and_ids_are_checked(tmp_path, capsys):
    shard_dir(tmp_path, [1, 50256], [3])
    assert resolve_data(str(tmp_path)).vocab_size == 50257
    err = capsys.readouterr().err
    assert err == (f"optarena: warning: {tmp_path} has no meta.json; assuming GPT-2 tokens (vocab_size 50257), "
                   "as in modded-nanogpt's FineWeb shards\n")
    write_shard(tmp_path / "val_000000.bin", [3, 50257])
    with pytest.raises(ValueError, match=r"val_000000.bin: token id 50257 at position 1 is not below the "
                                         r"vocabulary size 50257 \(GPT-2's, assumed: .* has no meta.json; "
                                         r"write one with the tokenizer's vocab_size\)"):
        resolve_data(str(tmp_path))
