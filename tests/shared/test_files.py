"""optarena._files.atomic_write: the whole new file or the old one, never a temporary left behind."""

from __future__ import annotations

import os

import pytest

from optarena._files import atomic_write


def test_text_bytes_and_a_writer_function(tmp_path):
    assert atomic_write(tmp_path / "a.txt", "héllo\n") == tmp_path / "a.txt"
    assert (tmp_path / "a.txt").read_bytes() == "héllo\n".encode()
    atomic_write(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    seen = []

    def writer(tmp):
        seen.append(tmp)
        tmp.write_text("from a writer")

    atomic_write(tmp_path / "c.txt", writer)
    assert (tmp_path / "c.txt").read_text() == "from a writer"
    (tmp,) = seen  # beside the target, hidden, the pid last (what a stale-temporary cleanup parses)
    assert tmp.parent == tmp_path and tmp.name.startswith(".c.txt.") and tmp.name.endswith(".tmp")
    assert tmp.name.rsplit(".", 2)[-2] == str(os.getpid())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.txt"]


def test_replaces_an_existing_file_whole(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("old, longer than the new text")
    atomic_write(path, "new")
    assert path.read_text() == "new"


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    with pytest.raises(TypeError):  # not text, bytes or a function: nothing written
        atomic_write(path, 3)  # type: ignore[arg-type]
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_two_writes_of_one_process_use_distinct_temporaries(tmp_path):
    names = []
    for _ in range(2):
        atomic_write(tmp_path / "x", lambda tmp: (names.append(tmp.name), tmp.write_text("x")))
    assert names[0] != names[1]
