"""Tokenizers that turn documents into shard tokens.

Two kinds, named by a spec string:
- "gpt2": GPT-2 BPE through tiktoken (vocab 50257, BOS = <|endoftext|> = 50256), the tokenizer of
  modded-nanogpt's FineWeb shards. tiktoken fetches its BPE files from the internet on first use
  and caches them in $TIKTOKEN_CACHE_DIR (default <tmp>/data-gym-cache), so it is only usable
  where that cache is filled or the network is reachable; `gpt2_available` checks, with a timeout.
- "bpe:<V>": a byte-level BPE with V ids trained locally with HF `tokenizers` on the train split
  only, saved as tokenizer.json beside the shards. Id 0 is <|endoftext|>, used as BOS. The default
  V = 8192 keeps the embedding and head small, so tiny CPU models spend their parameters on the
  transformer rather than on a 50k-row table that 3M tokens could not train anyway.
- "bytes": the UTF-8 bytes themselves, id = byte + 1, id 0 = <|endoftext|> (BOS); 257 ids, no
  training and no `tokenizers` dependency. The CPU tier's vocabulary: with V = 257 the embedding is
  a sliver of a small model, and every token is seen thousands of times in a few million.
- "auto": "gpt2" if available, else "bpe:8192".

Every document is prefixed with the BOS id, as modded-nanogpt does with 50256. Ids must fit the
shards' uint16, so V <= 65536.

Determinism: BPE training was checked to produce a byte-identical tokenizer.json across runs and
with RAYON_NUM_THREADS=1 vs 2 (tokenizers 0.23: counts are summed and merge ties are broken by pair
order, so the thread count does not matter); tests re-check it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optarena._files import atomic_write

EOT = "<|endoftext|>"
DEFAULT_BPE_VOCAB = 8192
MAX_VOCAB = 2**16
GPT2_TIMEOUT_S = 20.0
BYTES_VOCAB = 257  # 256 byte values shifted by one, and BOS = 0


@dataclass(frozen=True)
class TextTokenizer:
    """A named tokenizer: `encode_docs` returns one BOS-prefixed uint16 array per document."""

    name: str  # "gpt2" or "bpe:<V>"
    vocab_size: int
    bos_id: int
    encode_batch: Callable[[list[str]], list[list[int]]]
    decode: Callable[[list[int]], str]
    fingerprint: str  # sha256 of the tokenizer definition, recorded in meta.json

    def encode_docs(self, docs: list[str]) -> list[np.ndarray]:
        return [np.array([self.bos_id, *ids], dtype=np.uint16) for ids in self.encode_batch(docs)]


def parse_spec(spec: str) -> tuple[str, int]:
    """'gpt2' -> ('gpt2', 50257); 'bytes' -> ('bytes', 257); 'bpe:V' -> ('bpe', V); 'auto' resolved
    by `gpt2_available`."""
    if spec == "auto":
        spec = "gpt2" if gpt2_available() else f"bpe:{DEFAULT_BPE_VOCAB}"
    if spec == "gpt2":
        return "gpt2", 50257
    if spec == "bytes":
        return "bytes", BYTES_VOCAB
    kind, _, size = spec.partition(":")
    if kind != "bpe" or not size.isdigit():
        raise ValueError(f"tokenizer spec must be 'auto', 'gpt2', 'bytes' or 'bpe:<vocab>', got {spec!r}")
    vocab = int(size)
    if not 257 <= vocab <= MAX_VOCAB:  # 256 byte symbols + BOS; ids must fit uint16
        raise ValueError(f"bpe vocab must be in [257, {MAX_VOCAB}], got {vocab}")
    return "bpe", vocab


_GPT2_STATUS: dict[str, bool] = {}


def gpt2_available(timeout_s: float = GPT2_TIMEOUT_S) -> bool:
    """Whether tiktoken's GPT-2 encoding loads (from its cache or the network) within timeout_s.

    Runs in a daemon thread because tiktoken's download has no timeout of its own; a firewall
    that drops packets would otherwise hang us. The answer is cached per process.
    """
    if "gpt2" not in _GPT2_STATUS:
        result: list[bool] = []

        def probe() -> None:
            try:
                import tiktoken

                tiktoken.get_encoding("gpt2")
                result.append(True)
            except Exception:  # ImportError, network errors, hash mismatch: all mean "no"
                result.append(False)

        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        thread.join(timeout_s)
        _GPT2_STATUS["gpt2"] = bool(result and result[0])
    return _GPT2_STATUS["gpt2"]


def load_gpt2() -> TextTokenizer:
    if not gpt2_available():
        raise RuntimeError(
            "GPT-2 tokenizer unavailable: needs tiktoken (pip install 'optarena[hf]') and either network access to "
            "openaipublic.blob.core.windows.net or tiktoken's cached vocab.bpe/encoder.json in "
            "$TIKTOKEN_CACHE_DIR; or use tokenizer='bpe:<vocab>'"
        )
    import tiktoken

    enc = tiktoken.get_encoding("gpt2")
    return TextTokenizer(
        name="gpt2",
        vocab_size=enc.n_vocab,
        bos_id=enc.eot_token,
        encode_batch=enc.encode_ordinary_batch,
        decode=enc.decode,
        fingerprint=f"tiktoken-gpt2-{enc.n_vocab}",
    )


def load_bytes() -> TextTokenizer:
    """The byte tokenizer: id = UTF-8 byte + 1, BOS = 0."""

    def encode_batch(docs: list[str]) -> list[list[int]]:
        return [(np.frombuffer(d.encode("utf-8"), dtype=np.uint8).astype(np.uint16) + 1).tolist() for d in docs]

    def decode(ids: list[int]) -> str:
        return bytes(i - 1 for i in ids if 0 < i < BYTES_VOCAB).decode("utf-8", errors="replace")

    return TextTokenizer("bytes", BYTES_VOCAB, 0, encode_batch, decode, "bytes-utf8-plus-one")


def _tokenizers():
    """The `tokenizers` package, or an error that says how to get it (it is an optional extra)."""
    try:
        import tokenizers
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "a local BPE tokenizer needs the `tokenizers` package: pip install 'optarena[data]' "
            "(or use the byte tokenizer, which needs nothing: --tokenizer bytes, --data embedded:bytes)"
        ) from None
    return tokenizers


def train_bpe(texts: Iterable[str], vocab_size: int, path: str | Path) -> TextTokenizer:
    """Train a byte-level BPE on `texts` (the train split only) and save it as `path`."""
    tk = _tokenizers()
    Tokenizer, decoders, models, pre_tokenizers, trainers = (tk.Tokenizer, tk.decoders, tk.models,
                                                              tk.pre_tokenizers, tk.trainers)

    tok = Tokenizer(models.BPE())
    # GPT-2's pre-tokenization regex on bytes: any text encodes, nothing maps to <unk>.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],  # first special token gets id 0
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tok.save(str(tmp)))
    return load_bpe(path)


def load_bpe(path: str | Path) -> TextTokenizer:
    Tokenizer = _tokenizers().Tokenizer

    path = Path(path)
    tok = Tokenizer.from_file(str(path))
    vocab = tok.get_vocab_size()

    # encode_batch_fast (tokenizers >= 0.20) skips offset tracking: same ids, ~2x less CPU.
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)

    def encode_batch(docs: list[str]) -> list[list[int]]:
        return [e.ids for e in encode(docs, add_special_tokens=False)]

    return TextTokenizer(
        name=f"bpe:{vocab}",
        vocab_size=vocab,
        bos_id=tok.token_to_id(EOT),
        encode_batch=encode_batch,
        decode=tok.decode,
        fingerprint=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def get_tokenizer(
    spec: str,
    out_dir: str | Path,
    train_texts: Callable[[], Iterable[str]],
    reuse_fingerprint: str | None = None,
) -> TextTokenizer:
    """Resolve `spec`. A BPE is reloaded from out_dir/tokenizer.json when its fingerprint equals
    `reuse_fingerprint` (a resumed run), otherwise trained on `train_texts()` and saved there."""
    kind, vocab = parse_spec(spec)
    if kind == "gpt2":
        return load_gpt2()
    if kind == "bytes":
        return load_bytes()
    path = Path(out_dir) / "tokenizer.json"
    if reuse_fingerprint and path.exists():
        tok = load_bpe(path)
        if tok.fingerprint == reuse_fingerprint:
            return tok
    return train_bpe(train_texts(), vocab, path)
