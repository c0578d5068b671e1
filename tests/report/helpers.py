"""A synthetic results.db in the bench's schema (version 1), with known rankings, shared by the report tests.

Final loss of (optimizer, size, lr, seed): AdamW's law a + b·C^(−c) at k_opt times the compute, plus
a quadratic LR penalty in log(lr / lr_opt) and seed noise. By construction, in every cell:
muon < adamw < dms (both significant with 3 seeds), stable-momentum has 1 seed, muon's best LR is at
the top of its grid (at the edge), adamw diverges at its highest LR, and lion diverges everywhere in
the largest cell.
"""

import math
import sqlite3
import zlib

import numpy as np

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE runs(id INTEGER PRIMARY KEY, cell TEXT UNIQUE NOT NULL, suite TEXT, model TEXT, optimizer TEXT,
  optimizer_name TEXT, opt_json TEXT, lr REAL, lr_mult REAL, seed INTEGER, tokens INTEGER, data TEXT,
  phase TEXT, status TEXT, final_val_loss REAL, diverged_at_step INTEGER, steps INTEGER, tokens_per_s REAL,
  opt_state_bytes INTEGER, opt_step_s REAL, params_total INTEGER, params_nonemb INTEGER, flops_per_token REAL,
  loss_floor REAL, out_dir TEXT, error TEXT, config_json TEXT, record_json TEXT, started_at TEXT,
  finished_at TEXT, wall_s REAL, pid INTEGER);
CREATE TABLE curves(run_id INTEGER REFERENCES runs(id), step INTEGER, tokens INTEGER, train_loss REAL,
  val_loss REAL, lr REAL);
CREATE TABLE choices(model TEXT, optimizer TEXT, tokens INTEGER, data TEXT, best_lr REAL, at_edge INTEGER,
  n_lr_points INTEGER, PRIMARY KEY(model, optimizer, tokens, data));
"""
SUITE_TOML = '[suite]\nname = "test-ladder"\nmodels = ["tiny", "small"]\noptimizers = ["adamw", "muon"]\n'
SIZES = {"tiny": (10e6, 4e6), "small": (30e6, 15e6), "medium": (90e6, 50e6)}  # (N_total, N_non_embedding)
TOKENS_PER_PARAM = 8
MULTS = (0.25, 0.5, 1.0, 2.0, 4.0)
# name: (base LR, optimal LR / base, compute factor k, seeds at best LR, state floats per parameter)
OPTIMIZERS = {
    "adamw": (1e-3, 1.0, 1.0, 3, 2),
    "muon": (0.02, 5.0, 1.4, 3, 1),
    "dms": (3e-3, 1.0, 0.8, 3, None),
    "stable-momentum": (1e-3, 1.0, 0.9, 1, 1),
    "lion": (1e-4, 1.0, 1.1, 1, 1),
}
NUM_EVALS = 11
BATCH_TOKENS = 65536
NOISE = 0.002


def final_loss(opt: str, n_non_embedding: float, tokens: float, lr: float, seed: int,
               floor: float | None) -> float:
    base_lr, opt_mult, k = OPTIMIZERS[opt][:3]
    C = 6 * n_non_embedding * tokens / 3.6e18
    a = 2.0 if floor is None else floor + 0.3
    law = a + 0.5 * (k * C) ** -0.15
    noise = NOISE * np.random.default_rng([seed, zlib.crc32(opt.encode()), int(lr * 1e9)]).standard_normal()
    return float(law + 0.05 * math.log(lr / (base_lr * opt_mult)) ** 2 + noise)


def write_db(
    directory,
    sizes=("tiny", "small"),
    with_choices: bool = True,
    loss_floor: float | None = None,
    tokens_per_param=(TOKENS_PER_PARAM,),
    data: str | None = None,
):
    """Create `directory`/results.db (one cell per size and tokens-per-parameter budget) in the schema of
    a bench that predates the reference floors; returns its path. `data`: the runs' data spec (default:
    "synthetic" with a loss floor, else "fineweb")."""
    directory.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(directory / "results.db")
    con.executescript(SCHEMA)
    meta = {
        "schema_version": "1",
        "suite": "test-ladder",
        "suite_toml": SUITE_TOML,
        "created_at": "2026-01-01T00:00:00+00:00",
        "optarena_version": "0.1.0",
        "git_commit": "0123abcd",
    }
    con.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    data = data or ("synthetic" if loss_floor is not None else "fineweb")
    for size in sizes:
        for ratio in tokens_per_param:
            for opt in OPTIMIZERS:
                _optimizer_runs(con, size, int(ratio * SIZES[size][0]), opt, data, loss_floor, with_choices)
    con.commit()
    con.close()
    return directory / "results.db"


def _optimizer_runs(con, size, tokens, opt, data, floor, with_choices):
    n_non_embedding = SIZES[size][1]
    base_lr, _, _, num_seeds, state = OPTIMIZERS[opt]
    all_diverge = opt == "lion" and size == "small"
    sweep = {}
    for mult in MULTS:
        lr = base_lr * mult
        diverged = all_diverge or (opt == "adamw" and mult == MULTS[-1])
        loss = final_loss(opt, n_non_embedding, tokens, lr, 0, floor)
        _insert(con, size, opt, lr, mult, 0, tokens, data, "sweep", None if diverged else loss, floor, state)
        if not diverged:
            sweep[mult] = loss
    if not sweep:
        return
    best = min(sweep, key=sweep.get)
    for seed in range(1, num_seeds):
        loss = final_loss(opt, n_non_embedding, tokens, base_lr * best, seed, floor)
        _insert(con, size, opt, base_lr * best, best, seed, tokens, data, "seeds", loss, floor, state)
    if with_choices:
        at_edge = int(best in (MULTS[0], MULTS[-1]))
        con.execute(
            "INSERT INTO choices VALUES (?, ?, ?, ?, ?, ?, ?)",
            (size, opt, tokens, data, base_lr * best, at_edge, len(MULTS)),
        )


def _insert(con, size, opt, lr, mult, seed, tokens, data, phase, loss, floor, state):
    n_total, n_non_embedding = SIZES[size]
    steps = tokens // BATCH_TOKENS
    status = "finished" if loss is not None else "diverged"
    cell = f"{size}/{tokens}/{opt}/lr{lr:.3g}/s{seed}"
    state_bytes = None if state is None else int(4 * state * n_total)
    step_s = {"adamw": 0.004, "muon": 0.006, "dms": 0.0045}.get(opt, 0.004)
    cur = con.execute(
        "INSERT INTO runs (cell, suite, model, optimizer, optimizer_name, lr, lr_mult, seed, tokens, data, phase, "
        "status, final_val_loss, diverged_at_step, steps, tokens_per_s, opt_state_bytes, opt_step_s, params_total, "
        "params_nonemb, loss_floor) VALUES (?, 'test-ladder', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            cell,
            size,
            opt,
            opt,
            lr,
            mult,
            seed,
            tokens,
            data,
            phase,
            status,
            loss,
            None if loss is not None else steps // 3,
            steps,
            1e6 / (1 + n_total / 3e7),
            state_bytes,
            step_s,
            int(n_total),
            int(n_non_embedding),
            floor,
        ),
    )
    run_id = cur.lastrowid
    final = loss if loss is not None else 7.0
    last = NUM_EVALS if loss is not None else NUM_EVALS // 3 + 1
    for i in range(last):
        step = round(i * steps / (NUM_EVALS - 1))
        t = step / steps
        val = final + (10.0 - final) * ((1 + 20 * t) ** -1 - 1 / 21) / (1 - 1 / 21)
        if loss is None and i == last - 1:
            val = float("nan")  # the evaluation that tripped the divergence rule
        con.execute(
            "INSERT INTO curves VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, step, step * BATCH_TOKENS, val + 0.05, None if math.isnan(val) else val, lr),
        )


def set_floors(db, unigram: float, bigram: float, val_tokens: int, curve: tuple[float, float, int] | None = None):
    """Give the finished runs of `db` the floors a bench records, after the bench's migration of the file;
    `curve`: (unigram, bigram, val_tokens) on the curves' prefix, by default the same as the final ones."""
    from optarena.bench import ResultsDB

    ResultsDB(db, create=True).close()  # adds the columns this old schema lacks
    curve = curve or (unigram, bigram, val_tokens)
    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET unigram_floor=?, bigram_floor=?, final_val_tokens=?, curve_unigram_floor=?, "
                "curve_bigram_floor=?, curve_val_tokens=? WHERE status='finished'",
                (unigram, bigram, val_tokens, *curve))
    con.commit()
    con.close()
