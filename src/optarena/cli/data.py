"""``optarena data``: make token shards from text (``prepare``), or build/show the embedded corpus."""

from __future__ import annotations

import argparse
import json

from optarena.cli import usage_error


def register(sub) -> None:
    p = sub.add_parser("data", help="prepare token shards; build or show the embedded corpus")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    prep = actions.add_parser("prepare", help="tokenize documents into train/val shards (resumable)")
    prep.add_argument("inputs", nargs="+", metavar="INPUT",
                      help=".txt / .jsonl / .parquet files or directories, or hf:<name>[:<config>]")
    prep.add_argument("--out", required=True, metavar="DIR", help="the shard directory (use it as --data DIR)")
    prep.add_argument("--tokenizer", default="auto", help="auto | gpt2 | bytes | bpe:<vocab> (default auto)")
    prep.add_argument("--val-fraction", type=float, default=0.05, help="share of documents held out (0.05)")
    prep.add_argument("--shard-tokens", type=int, default=10**8, help="tokens per shard (10^8)")
    prep.add_argument("--no-progress", action="store_true", help="no progress bar")
    prep.set_defaults(func=run_prepare)

    emb = actions.add_parser("embedded", help="build the embedded corpus once, then print its path and meta")
    emb.add_argument("--tokenizer", default="bpe:8192",
                     help="bpe:8192 (default, --data embedded) | bytes (--data embedded:bytes) | bpe:<vocab>")
    emb.add_argument("--cache-dir", metavar="DIR",
                     help="default $OPTARENA_DATA/embedded[-<variant>], else ~/.cache/optarena/data/embedded[-<variant>]")
    emb.set_defaults(func=run_embedded)


def run_prepare(args: argparse.Namespace) -> int:
    from optarena.data import prepare

    try:
        meta = prepare(args.inputs, args.out, tokenizer=args.tokenizer, val_fraction=args.val_fraction,
                       shard_tokens=args.shard_tokens, progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as e:
        return usage_error("data prepare", e)
    print(json.dumps(meta, indent=2))
    return 0


def run_embedded(args: argparse.Namespace) -> int:
    from optarena.data import ensure_embedded

    try:
        path = ensure_embedded(args.cache_dir, tokenizer=args.tokenizer)
    except ValueError as e:
        return usage_error("data embedded", e)
    print(path)
    print((path / "meta.json").read_text().strip())
    return 0
