"""DIR/results.db: every cell of a suite, its curves and the LR choices, in one SQLite file.

This module is the only one that knows the file: its schema, its reads (the report, the export,
`optarena bench tune-table`, scripts/results_tables.py) and its writes (the bench runner). The schema
below is the contract with those readers: columns may be added, never renamed or removed;
`meta.schema_version` (an integer, SCHEMA_VERSION, stored as text like every meta value) says which
contract a file follows. A reader opens the file read-only, so a report can be built while the bench
is still writing. Every write is one
transaction (WAL journal, so readers never block the runner): a killed suite loses at most the
cells in flight, which stay "running" with the runner's pid and host, and the next run of the
suite on this host returns them to "pending" once that pid is gone.

Status of a run: pending -> running -> finished | diverged | failed. Diverged is a result (the
divergence rule stopped it; final_val_loss is null); failed is an exception, with its traceback
in `error`, retried by the next invocation of the suite.

    runs.pid / host    the runner process that claimed the cell (a worker process runs it)
    runs.params_nonemb the non-embedding parameter count (optarena.model.ParamCount.non_embedding): the
                       column keeps the name it was made with, and reads and writes here call it
                       `params_non_embedding`, the package's one name for it (FIELD_OF)
    runs.peak_mem_bytes, runs.host   added to the contract's columns
    choices.best_val_loss, choices.lr_source   added: the chosen LR's loss; "sweep" or the LR table
    runs.unigram_floor, bigram_floor, final_val_tokens   added: the data's reference floors
                       (optarena.data.floors; nats/token) scored on the final_val_tokens validation
                       targets the run's final loss scored; NULL where not computed (a diverged run, a
                       failure, a file made before they existed). loss_floor keeps the synthetic
                       source's entropy rate.
    runs.curve_val_tokens, curve_unigram_floor, curve_bigram_floor   added: the same floors on the
                       validation prefix the curve scores (log.eval_tokens), which may be shorter
    runs.spikes, max_spike, grad_norm_cv, grad_norm_p99_median   added: the run's stability after its
                       warmup (optarena.train.stability): loss spikes and gradient-norm spread
    runs.tuned_json    added: {hyperparameter: value} of the cell's tuned hyperparameters besides the
                       LR (bench/tuned.py); NULL in a suite that tunes nothing. opt_json holds them too.
    choices.tuned_json added: the coordinate search's last sweep of each coordinate, the LR's first
                       (bench/tuning.py): [{"name": "lr" | hyperparameter, "value": chosen (an LR, not
                       a multiplier), "at_edge": bool, "n_points": int, "at": {the other coordinates'
                       values while it ran}}]; NULL where the suite tunes nothing besides the LR
    runs.engine_job    added: the engine job that runs the cell under `optarena bench --executor local|slurm`
                       (optarena.bench.engine): JSON {"engine", "job_id", "tasks", "folder",
                       "submitted_from"}, set when the job is submitted; a later driver reattaches to
                       it. NULL for cells of the runner's own worker processes.
    meta               schema_version, suite, suite_toml, suite_json (the resolved suite), mode,
                       settings_hash, created_at, optarena_version, git_commit; added: git_dirty and
                       git_diff_sha256 (a modified tree: the hash of DIR/source.diff, optarena.train.record);
                       variant_settings (bench/runner.py: what a resumed suite may change, its rows' centre LRs)

A file made before a column was added gets it (NULL in every old row) when the bench opens it to
write; a reader leaves the file as it is and sees such a column as NULL.

Rows are dicts keyed by field name: the column's name, but for the columns of FIELD_OF.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from optarena._proc import pid_alive

SCHEMA_VERSION = 1
FILENAME = "results.db"
STATUSES = ("pending", "running", "finished", "diverged", "failed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  cell TEXT UNIQUE NOT NULL,
  suite TEXT, model TEXT, optimizer TEXT,
  optimizer_name TEXT,
  opt_json TEXT,
  lr REAL, lr_mult REAL, seed INTEGER, tokens INTEGER, data TEXT,
  phase TEXT,
  status TEXT,
  final_val_loss REAL, diverged_at_step INTEGER, steps INTEGER,
  tokens_per_s REAL,
  opt_state_bytes INTEGER,
  opt_step_s REAL,
  params_total INTEGER, params_nonemb INTEGER, flops_per_token REAL,
  loss_floor REAL,
  out_dir TEXT, error TEXT, config_json TEXT, record_json TEXT,
  started_at TEXT, finished_at TEXT, wall_s REAL, pid INTEGER,
  host TEXT, peak_mem_bytes INTEGER,
  unigram_floor REAL, bigram_floor REAL, final_val_tokens INTEGER,
  curve_val_tokens INTEGER, curve_unigram_floor REAL, curve_bigram_floor REAL,
  tuned_json TEXT,
  spikes INTEGER, max_spike REAL, grad_norm_cv REAL, grad_norm_p99_median REAL,
  engine_job TEXT);
CREATE TABLE IF NOT EXISTS curves(run_id INTEGER REFERENCES runs(id), step INTEGER, tokens INTEGER,
  train_loss REAL, val_loss REAL, lr REAL);
CREATE INDEX IF NOT EXISTS curves_run ON curves(run_id);
CREATE TABLE IF NOT EXISTS choices(model TEXT, optimizer TEXT, tokens INTEGER, data TEXT, best_lr REAL,
  at_edge INTEGER, n_lr_points INTEGER, best_val_loss REAL, lr_source TEXT, tuned_json TEXT,
  PRIMARY KEY(model, optimizer, tokens, data));
"""

# {column: field}: columns whose rows' dicts use another name (the column's is frozen by the contract).
FIELD_OF = {"params_nonemb": "params_non_embedding"}
COLUMN_OF = {field: column for column, field in FIELD_OF.items()}

# Fields a finished cell's outcome fills (the worker's dict keys).
RESULT_FIELDS = ("status", "final_val_loss", "diverged_at_step", "steps", "tokens_per_s", "opt_state_bytes",
                 "opt_step_s", "params_total", "params_non_embedding", "flops_per_token", "loss_floor", "error",
                 "config_json", "record_json", "finished_at", "wall_s", "peak_mem_bytes", "unigram_floor",
                 "bigram_floor", "final_val_tokens", "curve_val_tokens", "curve_unigram_floor",
                 "curve_bigram_floor", "spikes", "max_spike", "grad_norm_cv", "grad_norm_p99_median")
CURVE_COLUMNS = ("step", "tokens", "train_loss", "val_loss", "lr")


def _schema_columns() -> dict[str, list[tuple[str, str]]]:
    """{table: [(column, type), ...]} as SCHEMA declares them."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    columns = {t: [(row[1], row[2]) for row in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    conn.close()
    return columns


COLUMNS = _schema_columns()


def db_path(path: str | Path) -> Path:
    """A results directory or the database file itself."""
    path = Path(path)
    return path / FILENAME if path.is_dir() or path.suffix != ".db" else path


def fields(table: str) -> list[str]:
    """The field names of SCHEMA's `table`, in column order: the keys of its rows' dicts."""
    return [FIELD_OF.get(name, name) for name, _ in COLUMNS[table]]


def suite_of(meta: Mapping[str, str]) -> dict[str, Any]:
    """The resolved suite the bench stored (meta.suite_json); {} when the file has none or it is unreadable."""
    try:
        suite = json.loads(meta.get("suite_json") or "{}")
    except json.JSONDecodeError:
        return {}
    return suite if isinstance(suite, dict) else {}


class ResultsDB:
    """Read API (the report, the export, the scripts): runs, curves, choices, meta. Write API: the bench
    runner's, with `create=True`; without it the file is opened read-only and must exist.

    Usable as a context manager (closed on exit)."""

    def __init__(self, path: str | Path, create: bool = False) -> None:
        self.path = db_path(path)
        self.writer = create
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        elif not self.path.is_file():
            where = f"no {FILENAME} in {self.path.parent}" if self.path.name == FILENAME else f"no file {self.path}"
            raise FileNotFoundError(f"{where} (is it an `optarena bench --out` directory?)")
        else:  # read-only: never changes the file, and reads while the bench writes
            self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=60,
                                        isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        try:
            if create:
                if self._table_names():  # a file to resume: check it before adding anything to it
                    self._check_readable()
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.executescript(SCHEMA)
                with self.transaction():
                    self._add_missing_columns()
                    self.conn.execute("INSERT OR IGNORE INTO meta VALUES('schema_version', ?)",
                                      (str(SCHEMA_VERSION),))
            self._check_readable()
        except BaseException:
            self.conn.close()
            raise

    def _check_readable(self) -> None:
        """The file is a results database of a schema version this optarena reads, or a ValueError
        that names the file and what is wrong with it."""
        tables = self._table_names()
        missing = [t for t in ("meta", "runs") if t not in tables]
        if missing:
            raise ValueError(f"{self.path} is not a results database: it has no table "
                             f"{' and no table '.join(missing)}")
        self._tables = tables  # a table SCHEMA has and the file lacks reads as empty
        version = self.meta().get("schema_version")
        if version is None:  # a file of a bench that predates the key: the first contract
            return
        if not version.strip().isdigit():
            raise ValueError(f"{self.path}: schema_version {version!r} is not a version number")
        if int(version) > SCHEMA_VERSION:
            raise ValueError(f"{self.path} has schema version {version}; this optarena reads up to {SCHEMA_VERSION}"
                             " (a newer optarena made it: upgrade to read it)")

    def _table_names(self) -> set[str]:
        """The file's tables. A file SQLite cannot read ("file is not a database") is a ValueError for a
        reader; the writer's sqlite3.DatabaseError is left to the runner, which says what to do about it."""
        try:
            return {name for (name,) in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as e:
            if self.writer:
                raise
            raise ValueError(f"{self.path} is not a results database: {e}") from None

    def _add_missing_columns(self) -> None:
        """ALTER TABLE ... ADD COLUMN for each column of SCHEMA that a file made by an older optarena
        lacks (the contract only ever adds columns, so this is the whole migration)."""
        for table, columns in COLUMNS.items():
            have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in have:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def close(self) -> None:
        if self.writer:  # fold the WAL into the file, so that results.db alone is the whole record
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- read ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """The reads inside see one state of the file, though the bench commits cells meanwhile (one
        read transaction): a report's runs, curves and choices agree with each other."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def runs(self, status: str | Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Rows in id order, as dicts with every column of SCHEMA under its field name (None where an
        older file lacks the column)."""
        if status is None:
            rows = self.conn.execute("SELECT * FROM runs ORDER BY id")
        else:
            wanted = [status] if isinstance(status, str) else list(status)
            marks = ",".join("?" * len(wanted))
            rows = self.conn.execute(f"SELECT * FROM runs WHERE status IN ({marks}) ORDER BY id", wanted)
        return [self._fields("runs", r) for r in rows]

    def curves(self, run_id: int | None = None) -> list[dict[str, Any]]:
        """The curve points of run `run_id` in step order; of every run (by run_id, then step) when None."""
        if "curves" not in self._tables:
            return []
        if run_id is None:
            rows = self.conn.execute("SELECT * FROM curves ORDER BY run_id, step")
        else:
            rows = self.conn.execute("SELECT * FROM curves WHERE run_id = ? ORDER BY step", (run_id,))
        return [self._fields("curves", r) for r in rows]

    def choices(self) -> list[dict[str, Any]]:
        if "choices" not in self._tables:
            return []
        rows = self.conn.execute("SELECT * FROM choices ORDER BY model, tokens, optimizer")
        return [self._fields("choices", r) for r in rows]

    def meta(self) -> dict[str, str]:
        return {k: v for k, v in self.conn.execute("SELECT key, value FROM meta")}

    @staticmethod
    def _fields(table: str, row: sqlite3.Row) -> dict[str, Any]:
        """A row as {field: value} with every column of SCHEMA's `table` (None where the file lacks it)."""
        values = {**dict.fromkeys(name for name, _ in COLUMNS[table]), **dict(row)}
        return {FIELD_OF.get(k, k): v for k, v in values.items()}

    # -- write --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def set_meta(self, values: dict[str, Any]) -> None:
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO meta VALUES(?, ?)", [(k, str(v)) for k, v in values.items()])

    def add_pending(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert cells not yet known, as "pending"; known cells are left as they are."""
        rows = list(rows)
        if not rows:
            return
        fields = list(rows[0])
        cols = [COLUMN_OF.get(k, k) for k in fields]
        sql = f"INSERT OR IGNORE INTO runs({','.join(cols)}, status) VALUES({','.join('?' * len(cols))}, 'pending')"
        with self.transaction() as c:
            c.executemany(sql, [tuple(r[k] for k in fields) for r in rows])

    def claim(self, cell: str, started_at: str) -> int | None:
        """Mark a pending or failed cell "running" for this process; its id, or None if taken."""
        with self.transaction() as c:
            cur = c.execute("UPDATE runs SET status='running', pid=?, host=?, started_at=?, error=NULL, engine_job=NULL "
                            "WHERE cell=? AND status IN ('pending', 'failed')",
                            (os.getpid(), socket.gethostname(), started_at, cell))
            if cur.rowcount != 1:
                return None
            return c.execute("SELECT id FROM runs WHERE cell=?", (cell,)).fetchone()[0]

    def record(self, run_id: int, outcome: dict[str, Any], curves: list[dict[str, Any]]) -> None:
        """A run's outcome (RESULT_FIELDS) and curves, in one transaction."""
        fields = [k for k in RESULT_FIELDS if k in outcome]
        with self.transaction() as c:
            c.execute(f"UPDATE runs SET {', '.join(f'{COLUMN_OF.get(k, k)}=?' for k in fields)} WHERE id=?",
                      [outcome[k] for k in fields] + [run_id])
            c.execute("DELETE FROM curves WHERE run_id=?", (run_id,))
            c.executemany(f"INSERT INTO curves(run_id, {','.join(CURVE_COLUMNS)}) VALUES(?{',?' * len(CURVE_COLUMNS)})",
                          [(run_id, *(p.get(k) for k in CURVE_COLUMNS)) for p in curves])

    def release(self, cells: Iterable[str]) -> None:
        """Return cells this process was running to "pending" (after an interrupt)."""
        with self.transaction() as c:
            c.executemany("UPDATE runs SET status='pending' WHERE cell=? AND status='running'", [(k,) for k in cells])

    def set_engine_job(self, run_id: int, engine_job: str) -> None:
        """The engine job that now runs cell `run_id` (its JSON, optarena.bench.engine)."""
        with self.transaction() as c:
            c.execute("UPDATE runs SET engine_job=? WHERE id=?", (engine_job, run_id))

    def adopt(self, cell: str) -> None:
        """Make this process the runner of a "running" cell whose engine job it reattached to."""
        with self.transaction() as c:
            c.execute("UPDATE runs SET pid=?, host=? WHERE cell=? AND status='running'",
                      (os.getpid(), socket.gethostname(), cell))

    def drop(self, optimizers: Iterable[str], keep_code: str | None) -> list[dict[str, Any]]:
        """Delete the finished and diverged runs (with their curves) of these optimizer rows that were not
        made at `keep_code` (code_of's form), and the rows' choices; the runs deleted."""
        names = list(optimizers)
        marks = ",".join("?" * len(names))
        with self.transaction() as c:
            rows = [self._fields("runs", r) for r in c.execute(
                f"SELECT * FROM runs WHERE optimizer IN ({marks}) AND status IN ('finished', 'diverged') "
                "ORDER BY id", names)]
            rows = [r for r in rows if keep_code is None or code_of(r["record_json"]) != keep_code]
            ids = [(r["id"],) for r in rows]
            c.executemany("DELETE FROM curves WHERE run_id=?", ids)
            c.executemany("DELETE FROM runs WHERE id=?", ids)
            if "choices" in self._tables:
                c.execute(f"DELETE FROM choices WHERE optimizer IN ({marks})", names)
        return rows

    def stale_runs(self) -> list[dict[str, Any]]:
        """Rows left "running" by a runner process of this host that no longer exists."""
        host = socket.gethostname()
        return [r for r in self.runs("running") if r["host"] == host and not pid_alive(r["pid"])]

    def set_choices(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        cols = list(rows[0])
        with self.transaction() as c:
            c.executemany(f"INSERT OR REPLACE INTO choices({','.join(cols)}) VALUES({','.join('?' * len(cols))})",
                          [tuple(r[k] for k in cols) for r in rows])


def code_of(record_json: str | None) -> str | None:
    """The git state a run recorded (runs.record_json, train/record.py), in short_code's form."""
    try:
        git = json.loads(record_json).get("git") if record_json else None
    except (ValueError, AttributeError):
        return None
    return short_code(git)


def short_code(git: Any) -> str | None:
    """A git state (train.record.git_state) in short: its commit's first 12 digits, and "+dirty" with its
    diff's hash where the tree was modified; None where it holds no commit."""
    if not isinstance(git, dict) or not git.get("commit"):
        return None
    commit = str(git["commit"])[:12]
    if git.get("dirty"):
        return f"{commit}+dirty {str(git.get('diff_sha256') or '?')[:8]}"
    return commit


def dumps(obj: Any) -> str:
    """JSON for a column: sorted keys, tuples as lists, anything else as its str."""
    return json.dumps(obj, sort_keys=True, default=str)
