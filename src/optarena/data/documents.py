"""Documents to tokenize: local files or a Hugging Face dataset, and the train/val assignment.

Inputs, read in the order given (a directory expands to its files in sorted name order):
- `.txt`: one document per file (UTF-8; a BOM is dropped; newlines normalised to \\n);
- `.jsonl`: one document per line, field "text";
- `.parquet`: column "text" (needs pyarrow);
- `hf:<name>[:<config>]`, e.g. `hf:HuggingFaceFW/fineweb:sample-10BT`: the "train" split of a
  Hugging Face dataset, streamed with `datasets` (needs the package and network access).

Validation membership is a function of the document's text alone (a hash), so it does not depend
on input order, a resumed run assigns every document the same way, and exact duplicates always
land on the same side: a duplicate can never leak a validation document into train.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

SUFFIXES = (".txt", ".jsonl", ".parquet")


def is_val(text: str, val_fraction: float) -> bool:
    """True for a deterministic ~val_fraction of documents, chosen by a hash of the text."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") < val_fraction * 2**64


def iter_documents(inputs: Sequence[str | Path]) -> Iterator[str]:
    """Yield every document of every input, in a fixed order."""
    for item in inputs:
        if str(item).startswith("hf:"):
            yield from _iter_hf(str(item))
        elif Path(item).is_dir():
            files = sorted(f for f in Path(item).iterdir() if f.suffix in SUFFIXES)
            if not files:
                raise ValueError(f"{item}: directory holds no {'/'.join(SUFFIXES)} files")
            for f in files:
                yield from _iter_file(f)
        else:
            yield from _iter_file(Path(item))


def _iter_file(path: Path) -> Iterator[str]:
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    if path.suffix == ".txt":
        yield _decode(path, path.read_bytes())
    elif path.suffix == ".jsonl":
        yield from _iter_jsonl(path)
    elif path.suffix == ".parquet":
        yield from _iter_parquet(path)
    else:
        raise ValueError(f"{path}: unsupported input type; expected one of {SUFFIXES} or hf:<name>")


def _iter_jsonl(path: Path) -> Iterator[str]:
    """One document per line; an error names the file and the line (json's own message says "line 1":
    it sees one line at a time)."""
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, 1):
            line = _decode(path, raw, line_no)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{line_no}: not valid JSON (column {e.colno}: {e.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError(f"{path}:{line_no}: expected an object with a string field 'text'")
            yield record["text"]


def _decode(path: Path, data: bytes, line_no: int | None = None) -> str:
    """UTF-8 text (a BOM at the start of the file dropped; newlines normalised to \\n, as text mode
    does); bytes that are not UTF-8 are a ValueError naming the file, the line and the byte."""
    if line_no in (None, 1):
        data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = line_no if line_no is not None else data[: e.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte {data[e.start]:#04x}); inputs must be UTF-8 "
                         "(convert it, e.g. with iconv -f latin1 -t utf-8)") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _iter_parquet(path: Path) -> Iterator[str]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError(f"{path}: reading .parquet needs pyarrow: pip install 'optarena[hf]'") from e
    parquet = pq.ParquetFile(path)
    if "text" not in parquet.schema_arrow.names:
        raise ValueError(f"{path}: no column 'text' (columns: {parquet.schema_arrow.names})")
    for batch in parquet.iter_batches(columns=["text"]):
        yield from batch.column(0).to_pylist()


def _iter_hf(spec: str) -> Iterator[str]:
    name, _, config = spec.removeprefix("hf:").partition(":")
    try:
        import datasets
    except ImportError as e:
        raise ImportError(f"{spec}: streaming a Hugging Face dataset needs datasets: pip install 'optarena[hf]'") from e
    try:
        stream = datasets.load_dataset(name, name=config or None, split="train", streaming=True)
        for record in stream:
            yield record["text"]
    except (ConnectionError, OSError) as e:
        raise ConnectionError(
            f"{spec}: could not stream from the Hugging Face hub ({e}); this needs network access "
            "to huggingface.co. Otherwise download the data elsewhere and pass local .parquet/.jsonl files"
        ) from e
