"""Files written whole or not at all: a temporary file beside the target, then `os.replace`.

A reader (a browser reloading report.html, a resumed run reading its checkpoint, a second process
reading a shard) sees the old file or the new one, never half of one, and a crash mid-write leaves
the old file as it was. The temporary is `.NAME.<random>.<pid>.tmp` in the target's directory (the
same file system, so the rename is atomic): the random part keeps two writers of one process apart,
and the pid comes last so that a cleanup of a dead process's temporaries reads it back with
`name.rsplit(".", 2)[-2]` (train/loop.py does, for a run directory). It is created with the process's
umask (not mkstemp's 0600), so the file ends with the permissions of any other file written here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, content: str | bytes | Callable[[Path], object], encoding: str = "utf-8") -> Path:
    """Write `content` to `path` atomically; returns `path`.

    `content`: text (encoded with `encoding`), bytes, or a function that writes the file at the path
    it is given (for writers that want a path, such as `torch.save` or a tokenizer's `save`). On any
    error the temporary is removed and the error raised; the directory must exist.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.{os.getpid()}.tmp")
    try:
        if callable(content):
            content(tmp)
        else:
            data = content.encode(encoding) if isinstance(content, str) else content
            with open(tmp, "xb") as f:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
