"""Tokenize documents into train/val shards, resumably.

Output directory layout (the layout `resolve_data` and `TokenLoader` read):

    train_000000.bin ...   train shards, `shard_tokens` tokens each except the last
    val_000000.bin ...     validation shards
    tokenizer.json         the local BPE (absent for gpt2 and bytes)
    manifest.json          progress: config, finished shards, where each split resumes
    meta.json              written last: tokenizer, vocab size, token and document counts

A document's tokens (BOS first) run on across shard boundaries, as in modded-nanogpt's
`data/fineweb.py`. After each finished shard the manifest records, per split, the (document
index, token offset) where its next shard starts. A rerun after a crash re-reads the documents
(tokenizing only those it still needs), skips what finished shards hold, and produces
byte-identical shards to an uninterrupted run; finished shards are not rewritten.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optarena._files import atomic_write

from .documents import is_val, iter_documents
from .shards import read_header, write_shard
from .tokenizer import TextTokenizer, get_tokenizer, parse_spec

FORMAT = "optarena-shards-1"
ENCODE_CHUNK_CHARS = 2**22  # documents are encoded in batches of ~4M chars for the thread pool
BPE_TRAIN_CHARS = 10**9  # a local BPE is trained on at most the first ~1 GB of train text

Documents = Callable[[], Iterable[tuple[str, bool]]]  # re-iterable (text, is_val) pairs


def prepare(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    tokenizer: str = "auto",
    val_fraction: float = 0.05,
    shard_tokens: int = 10**8,
    progress: bool = True,
) -> dict[str, Any]:
    """Tokenize `inputs` into shards in `out_dir` and return its meta.json contents.

    inputs: `.txt` (one document per file), `.jsonl` (field "text"), `.parquet` (column "text")
        files or directories of them, or `hf:<name>[:<config>]` (see `documents.py`).
    tokenizer: "auto" (gpt2 if tiktoken can load it, else "bpe:8192"), "gpt2", "bytes" or
        "bpe:<vocab>"; a BPE is trained on the train split only.
    val_fraction: share of documents, picked by a hash of their text, held out for validation.
    shard_tokens: tokens per shard (modded-nanogpt uses 10**8).
    progress: show a tqdm bar on stderr.
    Rerunning with the same arguments resumes an interrupted run, or returns at once if done.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if isinstance(shard_tokens, bool) or not isinstance(shard_tokens, int) or shard_tokens < 1:
        # 0 would write empty shards forever: a shard fills when it holds shard_tokens tokens
        raise ValueError(f"shard_tokens must be an integer >= 1, got {shard_tokens!r}")
    kind, vocab = parse_spec(tokenizer)
    config = {
        "inputs": [str(i) for i in inputs],
        "tokenizer": f"bpe:{vocab}" if kind == "bpe" else kind,  # "auto" pinned once
        "val_fraction": val_fraction,
        "shard_tokens": shard_tokens,
    }

    def documents() -> Iterator[tuple[str, bool]]:
        return ((text, is_val(text, val_fraction)) for text in iter_documents(inputs))

    return build_shards(documents, out_dir, config, progress)


def build_shards(
    documents: Documents, out_dir: str | Path, config: dict[str, Any], progress: bool = True
) -> dict[str, Any]:
    """The engine behind `prepare` and the embedded corpus: any (text, is_val) source.

    `config` must hold "tokenizer" and "shard_tokens"; all of it is the run's identity: a
    manifest written under another config is an error, not something to mix with.
    """
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    meta_path = out_dir / "meta.json"
    manifest = _load_manifest(out_dir, config)
    if manifest.get("done") and meta_path.exists():
        return json.loads(meta_path.read_text())

    def train_texts() -> Iterator[str]:
        return _take_chars((text for text, val in documents() if not val), BPE_TRAIN_CHARS)

    if not manifest and any(out_dir.glob("*_[0-9][0-9][0-9][0-9][0-9][0-9].bin")):
        # Shards without a manifest may be from another run; mixing them in would go unnoticed.
        raise ValueError(f"{out_dir} already holds shards but no manifest.json; use a fresh out_dir")
    out_dir.mkdir(parents=True, exist_ok=True)  # the byte tokenizer writes no file that would make it
    tok = get_tokenizer(config["tokenizer"], out_dir, train_texts, manifest.get("tokenizer"))
    if manifest.get("tokenizer", tok.fingerprint) != tok.fingerprint:
        raise ValueError(f"{out_dir}: the tokenizer differs from the one its finished shards used")
    shard_tokens = config["shard_tokens"]
    writers = {s: _SplitWriter.restore(s, out_dir, shard_tokens, manifest) for s in ("train", "val")}

    def save() -> None:
        _save_json(out_dir / "manifest.json", _manifest(config, tok, writers))

    save()
    num_docs = _run(documents, tok, writers, save, progress)
    for w in writers.values():
        w.finish(save)
    meta = _meta(config, tok, writers, num_docs)
    _save_json(out_dir / "manifest.json", {**_manifest(config, tok, writers), "done": True})
    _save_json(meta_path, meta)
    return meta


def _run(
    documents: Documents, tok: TextTokenizer, writers: dict, save: Callable, progress: bool
) -> dict[str, int]:
    """Feed every document each split still needs to its writer; count documents per split."""
    from tqdm import tqdm

    num_docs = {"train": 0, "val": 0}
    chunk: list[tuple[int, str, str]] = []
    chunk_chars = 0
    bar = tqdm(unit="tok", unit_scale=True, file=sys.stderr, disable=not progress, desc="tokenizing")
    doc = -1
    for doc, (text, val) in enumerate(documents()):
        split = "val" if val else "train"
        num_docs[split] += 1
        if writers[split].needs(doc):
            chunk.append((doc, split, text))
            chunk_chars += len(text)
        if chunk_chars >= ENCODE_CHUNK_CHARS:
            bar.update(_encode_and_add(chunk, tok, writers, save))
            chunk, chunk_chars = [], 0
    bar.update(_encode_and_add(chunk, tok, writers, save))
    bar.close()
    for w in writers.values():
        w.end_doc = doc + 1
    if not num_docs["train"] or not num_docs["val"]:
        raise ValueError(f"a split is empty ({num_docs}); add documents or change val_fraction")
    return num_docs


def _encode_and_add(
    chunk: list[tuple[int, str, str]], tok: TextTokenizer, writers: dict, save: Callable
) -> int:
    encoded = tok.encode_docs([text for _, _, text in chunk]) if chunk else []
    for (doc, split, _), tokens in zip(chunk, encoded):
        writers[split].add(doc, tokens, save)
    return sum(len(t) for t in encoded)


@dataclass
class _SplitWriter:
    """Accumulates one split's tokens and writes a shard each time `shard_tokens` are in."""

    split: str
    out_dir: Path
    shard_tokens: int
    shards: list[int] = field(default_factory=list)  # token counts of finished shards
    resume: tuple[int, int] = (0, 0)  # (doc, token offset) where the next shard starts
    buffer: list[np.ndarray] = field(default_factory=list)
    filled: int = 0  # tokens in buffer
    end_doc: int = 0

    @classmethod
    def restore(cls, split: str, out_dir: Path, shard_tokens: int, manifest: dict) -> _SplitWriter:
        state = manifest.get(split, {"shards": [], "resume": [0, 0]})
        w = cls(split, out_dir, shard_tokens, list(state["shards"]), tuple(state["resume"]))
        for k, n in enumerate(w.shards):  # a listed shard must still be intact
            found = read_header(w.path(k))
            if found != n:
                raise ValueError(f"{w.path(k)}: manifest says {n} tokens, file holds {found}")
        return w

    def path(self, k: int) -> Path:
        return self.out_dir / f"{self.split}_{k:06d}.bin"

    def needs(self, doc: int) -> bool:
        return doc >= self.resume[0]

    def add(self, doc: int, tokens: np.ndarray, save: Callable) -> None:
        start = self.resume[1] if doc == self.resume[0] else 0  # tokens already in finished shards
        pos = start
        while pos < len(tokens):
            take = min(self.shard_tokens - self.filled, len(tokens) - pos)
            self.buffer.append(tokens[pos : pos + take])
            self.filled += take
            pos += take
            if self.filled == self.shard_tokens:
                self._flush((doc, pos), save)

    def finish(self, save: Callable) -> None:
        if self.buffer:
            self._flush((self.end_doc, 0), save)

    def _flush(self, resume: tuple[int, int], save: Callable) -> None:
        tokens = np.concatenate(self.buffer)
        write_shard(self.path(len(self.shards)), tokens)
        self.shards.append(len(tokens))
        self.resume, self.buffer, self.filled = resume, [], 0
        save()  # after the shard is on disk: a crash in between only costs rewriting it


def _check_out_dir(out_dir: Path) -> None:
    """The output must be (or become) a directory: a file in its place, or above it, would only fail
    after the tokenizer is trained, with an OS error that names no setting."""
    existing = next(p for p in (out_dir, *out_dir.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        where = "is a file" if existing == out_dir else f"is inside {existing}, which is a file"
        raise ValueError(f"--out {str(out_dir)!r} {where}, not a directory")


def _load_manifest(out_dir: Path, config: dict) -> dict:
    path = out_dir / "manifest.json"
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:  # a hand edit, or a copy cut short
        raise ValueError(f"{path}: not valid JSON ({e}); delete {out_dir} to prepare it afresh") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(manifest).__name__}")
    if manifest.get("config") != config:
        raise ValueError(f"{out_dir} holds a preparation with another config (found {manifest.get('config')}, "
                         f"now {config}); use a fresh out_dir or delete this one")
    return manifest


def _manifest(config: dict, tok: TextTokenizer, writers: dict) -> dict:
    splits = {s: {"shards": w.shards, "resume": list(w.resume)} for s, w in writers.items()}
    return {"format": FORMAT, "config": config, "tokenizer": tok.fingerprint, **splits}


def _meta(config: dict, tok: TextTokenizer, writers: dict, num_docs: dict) -> dict:
    return {
        "format": FORMAT,
        **config,
        "tokenizer": tok.name,
        "tokenizer_fingerprint": tok.fingerprint,
        "vocab_size": tok.vocab_size,
        "bos_id": tok.bos_id,
        "train_tokens": sum(writers["train"].shards),
        "val_tokens": sum(writers["val"].shards),
        "train_docs": num_docs["train"],
        "val_docs": num_docs["val"],
        "train_shards": len(writers["train"].shards),
        "val_shards": len(writers["val"].shards),
    }


def _take_chars(texts: Iterable[str], limit: int) -> Iterator[str]:
    total = 0
    for text in texts:
        if total >= limit:
            return
        total += len(text)
        yield text


def _save_json(path: Path, obj: dict) -> None:
    atomic_write(path, json.dumps(obj, indent=1) + "\n")
