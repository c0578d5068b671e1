"""The named suites: each loads, plans, builds every optimizer it names, and dry-runs; the format's rules."""

from __future__ import annotations

import dataclasses

import pytest

from optarena import optim
from optarena.bench import load_suite, named_suites, smoke
from optarena.bench.cells import Cell, data_info, resolve_groups
from optarena.bench.files import SUITES_DIR, suite_path
from optarena.cli import main
from optarena.model import Transformer, get_preset
from optarena.train import load_config
from optarena.train.build import make_optimizer

EXPECTED = {"cpu-tier", "svrm-sp", "dms-components", "stable-momentum-betas", "dms-134m", "stable-momentum-134m",
            "svrm-134m", "quick", "quick-seeds", "quick-sweep", "seed-134m", "grams-pretrain", "adana-ladder", "adana-kappa",
            "stable-momentum-clip", "svrm-gamma", "ladder-synthetic"}


def has_full(name: str) -> bool:
    return "[full]" in suite_path(name).read_text()


MODES = [(n, False) for n in sorted(EXPECTED)] + [(n, True) for n in sorted(EXPECTED) if has_full(n)]


def test_the_named_suites_are_shipped():
    assert set(named_suites()) == EXPECTED


@pytest.mark.parametrize("name, full", MODES)
def test_every_cell_config_builds(name, full, shard_dir, tmp_path):
    """Every optimizer row's settings pass the trainer's checks and build on a model, at each value of
    its tuned hyperparameters too: a typo in a suite's hyperparameters fails here, not hours into a GPU run."""
    suite = load_suite(name, full=full, data=str(shard_dir))
    groups = resolve_groups(suite, data_info(suite.data))
    assert len(groups) == len(suite.models) * len(suite.budgets) * len(suite.variants)
    model = Transformer(get_preset("tiny", vocab_size=64))
    for g in groups:
        if g.model != suite.models[0] or g.budget != suite.budgets[0]:
            continue
        starts = tuple((t.name, t.start) for t in g.variant.tune)
        points = [starts] + [tuple((u.name, x if u is t else u.start) for u in g.variant.tune)
                             for t in g.variant.tune for x in t.grid]
        for tuned in points:
            cell = Cell(g, suite.lr_mults[-1], 0, "sweep", tuned)
            cfg = load_config(None, cell.overrides(suite, tmp_path / "x"))
            make_optimizer(cfg, model, max(g.steps, 64))  # the tiny test data shrinks ratio budgets below delta


def test_quick_covers_every_optimizer_at_one_lr():
    suite = load_suite("quick")
    assert sorted(v.name for v in suite.variants) == optim.names()
    assert suite.lr_mults == (1.0,) and suite.lr_table and suite.lr_table.endswith("quick_lrs.toml")
    assert suite.seeds_of(next(v for v in suite.variants if v.name == "adamw")) == 3
    assert load_suite("quick-sweep").train == suite.train  # the table was tuned under these settings


def test_quick_seeds_is_quick_with_three_seeds_each_and_six_for_adamw():
    quick, seeds = load_suite("quick"), load_suite("quick-seeds")

    def no_seeds(suite):
        return [dataclasses.replace(v, seeds=None) for v in suite.variants]

    assert no_seeds(seeds) == no_seeds(quick) and seeds.train == quick.train and seeds.lr_table == quick.lr_table
    assert seeds.budgets == quick.budgets and seeds.lr_mults == quick.lr_mults
    assert {v.name: seeds.seeds_of(v) for v in seeds.variants} == {v.name: 6 if v.name == "adamw" else 3
                                                                   for v in quick.variants}


def test_quick_lr_table_has_every_optimizer():
    from optarena.bench.lrtable import read_table

    table = read_table(SUITES_DIR / "quick_lrs.toml")
    assert set(table["tiny"]) == set(optim.names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_smoke_shrinks_any_suite(name):
    s = smoke(load_suite(name))
    assert s.models == ("tiny",) and len(s.lr_mults) <= 2 and s.max_extend == 0 and s.seeds <= 2
    assert all(b.kind == "tokens" and b.value <= 12 * 256 for b in s.budgets)
    assert [v.name for v in s.variants] == [v.name for v in load_suite(name).variants]
    assert s.tune_rounds == 1 and all(len(t.grid) == 2 and t.start in t.grid for v in s.variants for t in v.tune)


def test_dry_run_and_list(capsys, shard_dir):
    assert main(["bench", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in EXPECTED)
    assert main(["bench", "seed-134m", "--dry-run", "--data", str(shard_dir)]) == 0
    out = capsys.readouterr().out
    assert "48 cells" in out and "training tokens in all" in out and "stable-momentum" in out  # 6 x (3 + 3 + 2)
    assert "weight_decay 0, 0.01*, 0.03, 0.1" in out and "weight_decay 0*, 2e-05, 6e-05, 0.0002" in out
    # missing data: the table still shows (planned with GPT-2's vocabulary), then exit 2 naming the path
    assert main(["bench", "seed-134m", "--full", "--dry-run", "--data", "/nonexistent/fineweb"]) == 2
    out, err = capsys.readouterr()
    assert "unusable" in out and "2,471,493,632" in out  # 20 x 123.6M parameters, whole batches
    assert "'/nonexistent/fineweb' does not exist" in err
    assert main(["bench", "quick-sweeep"]) == 2
    assert "did you mean 'quick-sweep'" in capsys.readouterr().err


def test_suite_format_errors(write_suite):
    for body, message in [
        ("tokens = [512]\nlr_mult = [1]\n[optimizers]\nadamw = 1e-3\n", "did you mean 'lr_mults'"),
        ("tokens = [512]\n[optimizers]\nadamw = { lr = 1e-3, scale = ['adamw_lr'] }\n", "must give their centre"),
        ("tokens = [512]\nratio = [1]\n[optimizers]\nadamw = 1e-3\n", "one of them"),
        ("tokens = [512]\n[optimizers]\nadamw = { lr = { mini = 1e-3 } }\n", "no centre LR for model 'tiny'"),
        ("tokens = [512]\nseeds = { lion = 2 }\n[optimizers]\nadamw = 1e-3\n", "unknown optimizer"),
        ("tokens = [512]\n[optimizers]\nadamww = 1e-3\n", "unknown optimizer 'adamww'"),
        ("tokens = [512]\n[optimizers]\nadamw = { lr = 1e-3, opt = { betaz = 1 } }\n", "did you mean 'betas'"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_suite(write_suite(body))
    path = write_suite("tokens = [512]\n[optimizers]\nadamw = 1e-3\n")
    path.write_text(path.read_text() + "lr = 3e-3\n")
    with pytest.raises(ValueError, match="set per run by the suite"):
        load_suite(path)


def test_extends_merges_training_settings(tmp_path):
    child = tmp_path / "child.toml"
    child.write_text('extends = "quick-sweep"\ndescription = "c"\nlr_mults = [1]\n'
                     '[train]\nschedule.kind = "constant"\n')
    suite = load_suite(child)
    settings = dict(suite.train)
    assert settings["schedule.kind"] == "constant" and settings["schedule.warmup"] == 0.05  # merged, not replaced
    assert suite.name == "child" and len(suite.variants) == len(optim.names())


def test_variants_are_rows_with_their_own_hyperparameters():
    suite = load_suite("stable-momentum-clip")
    clips = {v.name: v.opt["clip"] for v in suite.variants}
    assert clips == {"stable-momentum clip=0.5": 0.5, "stable-momentum clip=1": 1.0,
                     "stable-momentum clip=2": 2.0, "stable-momentum clip=None": "None"}
    assert dict(suite.train)["grad_clip"] == 0.0


def test_baseline_names_one_of_the_suites_optimizers(write_suite, tmp_path):
    rows = "tokens = [512]\n{}[optimizers]\nadam = 1e-3\nlion = 1e-4\n"
    assert load_suite(write_suite(rows.format(""))).baseline == "adamw"  # the default, with or without a row
    assert load_suite(write_suite(rows.format('baseline = "lion"\n'))).baseline == "lion"
    for name, message in [("muon", "'muon' is not one of the suite's optimizers; choices: adam, lion"),
                          ("lino", "'lino' is not one of the suite's optimizers \\(did you mean 'lion'\\?\\); "
                                   "choices: adam, lion")]:
        with pytest.raises(ValueError, match=message):
            load_suite(write_suite(rows.format(f'baseline = "{name}"\n')))
    assert load_suite("grams-pretrain").baseline == load_suite("grams-pretrain", full=True).baseline == "adam"
    child = tmp_path / "child.toml"
    child.write_text('extends = "grams-pretrain"\ndescription = "c"\n')
    assert load_suite(child).baseline == "adam"  # inherited
    from optarena.bench.runner import suite_summary

    assert suite_summary(load_suite("grams-pretrain"))["baseline"] == "adam"  # stored as meta.suite_json


def test_seed_134m_tunes_weight_decay_from_each_optimizers_own():
    """Untuned, each optimizer ran at its own default weight decay (AdamW torch's 0.01, SVRM 0.1); now each
    sweeps 4 from there, DMS on CPU a grid for its ~4000x LR; grams-pretrain keeps the paper's WD 0."""
    starts = {v.name: [(t.name, t.start, len(t.grid)) for t in v.tune] for v in load_suite("seed-134m").variants}
    assert starts == {name: [("weight_decay", start, 4)] for name, start in
                      [("adamw", 0.01), ("muon", 0.0), ("lion", 0.0), ("dms", 0.0), ("stable-momentum", 0.0),
                       ("svrm", 0.1)]}
    full = {v.name: v.tune[0].grid for v in load_suite("seed-134m", full=True).variants}
    assert full["dms"] == full["adamw"] == (0.0, 0.01, 0.03, 0.1)
    assert not load_suite("grams-pretrain").tunes_more


def test_an_optimizer_row_may_set_its_own_step_settings(write_suite, tmp_path):
    path = write_suite("tokens = [512]\n[optimizers]\nadamw = 1e-3\n"
                       "stable-momentum = { lr = 1e-3, train = { grad_clip = 0.0 } }\n")
    suite = load_suite(path)
    groups = resolve_groups(suite, data_info(suite.data))
    clips = {g.variant.name: load_config(None, Cell(g, 1.0, 0, "sweep").overrides(suite, tmp_path)).optim.grad_clip
             for g in groups}
    assert clips == {"adamw": 0.5, "stable-momentum": 0.0}  # the trainer's default clip, and the row's own


@pytest.mark.parametrize("train, match", [("{ seq_len = 64 }", "may set only optim and schedule"),
                                          ("{ lr = 1e-3 }", "is set per run by the suite"),
                                          ("1.0", "must be a table")])
def test_a_row_may_not_change_the_budget_or_data(write_suite, train, match):
    path = write_suite(f"tokens = [512]\n[optimizers]\nadamw = {{ lr = 1e-3, train = {train} }}\n")
    with pytest.raises(ValueError, match=match):
        load_suite(path)


def test_seed_134m_lets_the_inner_clippers_clip_alone():
    for full in (False, True):
        suite = load_suite("seed-134m", full=full)
        rows = {v.name: dict(v.train) for v in suite.variants}
        assert rows["stable-momentum"] == rows["dms"] == {"grad_clip": 0.0} and rows["adamw"] == {}
