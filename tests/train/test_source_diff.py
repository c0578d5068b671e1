"""A run or suite made from a modified tree records its diff's hash and writes the diff beside its results,
so that `git apply` on the recorded commit rebuilds the code; nothing outside a git checkout."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from optarena.bench import ResultsDB, load_suite
from optarena.bench import runner
from optarena.train import record
from optarena.train.record import DIFF_FILENAME, git_state

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
NONE = {"commit": None, "dirty": None, "diff_sha256": None}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A checkout holding a package `pkg` (its __init__.py and a module), one commit."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("LR = 1e-3\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "one")
    return root


def test_a_clean_tree_records_its_commit_and_writes_no_diff(repo, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / DIFF_FILENAME).write_text("from an earlier, modified process\n")
    state = git_state(out, src=repo / "pkg")
    assert state == {"commit": git(repo, "rev-parse", "HEAD"), "dirty": False, "diff_sha256": None}
    assert not (out / DIFF_FILENAME).exists()


def test_a_modified_tree_s_diff_rebuilds_it(repo, tmp_path):
    (repo / "pkg" / "mod.py").write_text("LR = 3e-3\n")
    (repo / "pkg" / "__init__.py").write_text("VERSION = 2\n")
    git(repo, "add", "pkg/__init__.py")  # staged changes count too
    out = tmp_path / "run"
    out.mkdir()
    state = git_state(out, src=repo / "pkg")
    diff = (out / DIFF_FILENAME).read_bytes()
    assert state["dirty"] is True and state["diff_sha256"] == hashlib.sha256(diff).hexdigest()
    assert state["commit"] == git(repo, "rev-parse", "HEAD")

    rebuilt = tmp_path / "rebuilt"
    subprocess.run(["git", "clone", "-q", str(repo), str(rebuilt)], check=True)
    git(rebuilt, "checkout", "-q", state["commit"])
    git(rebuilt, "apply", str(out / DIFF_FILENAME))
    for name in ("mod.py", "__init__.py"):
        assert (rebuilt / "pkg" / name).read_text() == (repo / "pkg" / name).read_text()


def test_untracked_files_do_not_make_a_tree_dirty(repo):
    (repo / "runs").mkdir()
    (repo / "runs" / "metrics.jsonl").write_text("{}\n")
    assert git_state(src=repo / "pkg")["dirty"] is False


def test_nothing_outside_a_checkout(repo, tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "__init__.py").write_text("")
    assert git_state(tmp_path, src=plain) == NONE
    untracked = repo / "vendored"  # a copy inside some other checkout, not tracked by it
    untracked.mkdir()
    (untracked / "__init__.py").write_text("")
    assert git_state(tmp_path, src=untracked) == NONE
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    (repo / "pkg" / "mod.py").write_text("LR = 3e-3\n")
    assert git_state(tmp_path, src=repo / "pkg") == NONE
    assert not (tmp_path / DIFF_FILENAME).exists()


def test_the_suite_records_commit_dirty_flag_and_diff_hash(repo, tmp_path, monkeypatch, shard_dir):
    (repo / "pkg" / "mod.py").write_text("LR = 3e-3\n")
    monkeypatch.setattr(record, "git_state", lambda out=None: git_state(out, src=repo / "pkg"))
    suite_file = tmp_path / "s.toml"
    suite_file.write_text(f'description = "d"\nmodels = ["tiny"]\ndata = "{shard_dir}"\ntokens = [512]\n'
                          "[optimizers]\nadamw = 1e-3\n")
    out = tmp_path / "suite"
    db = ResultsDB(out, create=True)
    runner.start_suite(db, load_suite(suite_file))
    meta = db.meta()
    diff = (out / DIFF_FILENAME).read_bytes()
    assert b"+LR = 3e-3" in diff
    assert meta["git_commit"] == git(repo, "rev-parse", "HEAD") and meta["git_dirty"] == "True"
    assert meta["git_diff_sha256"] == hashlib.sha256(diff).hexdigest()
