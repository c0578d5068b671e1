"""Whether a process id names a live process (the bench's stale-cell check, the trainer's temporaries)."""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    """True while `pid` runs. A zombie (exited, not yet reaped by its parent) is not alive: it holds
    its id until reaped, which under an init that does not reap orphans may be never."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:  # "pid (comm) S ...": the state after the last ")"
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (macOS, Windows): kill(0) is all there is
        return True
