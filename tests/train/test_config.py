"""TrainConfig: TOML + flag overrides, nearest-key suggestions, value checks naming the field."""

from __future__ import annotations

import pytest

from optarena.cli import build_parser
from optarena.cli.train import overrides
from optarena.train import TrainConfig, load_config
from optarena.train.config import FIELDS

TOML = """
seed = 7
[model]
preset = "tiny"
[data]
source = "synthetic:V=64"
seq_len = 64
batch_tokens = 1024
[optim]
name = "adamw"
lr = 3e-3
[optim.hp]
betas = [0.9, 0.95]
weight_decay = 0.1
[schedule]
kind = "wsd"
"""


@pytest.fixture
def toml_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(TOML)
    return path


def test_defaults_are_the_authors_protocol():
    cfg = TrainConfig()
    assert (cfg.schedule.kind, cfg.schedule.warmup, cfg.schedule.warmup_start, cfg.schedule.final_lr_frac) == (
        "cosine", 0.02, 0.01, 0.1)
    assert cfg.optim.grad_clip == 0.5
    assert (cfg.budget.tokens, cfg.budget.steps, cfg.budget.ratio, cfg.budget.count) == (None, None, 20.0, "total")


def test_toml_then_overrides(toml_file):
    cfg = load_config(toml_file, {"lr": "1e-2", "optim.hp.weight_decay": "0.0", "hp.eps": "1e-10",
                                  "steps": "1e3", "grad_clip": "none", "compile": "true"})
    assert cfg.model.preset == "tiny" and cfg.data.seq_len == 64 and cfg.schedule.kind == "wsd"
    assert cfg.run.seed == 7  # a top-level leaf key in the file
    assert cfg.optim.lr == 1e-2
    assert cfg.optim.hp == {"betas": (0.9, 0.95), "weight_decay": 0.0, "eps": 1e-10}  # lists -> tuples
    assert cfg.budget.steps == 1000 and isinstance(cfg.budget.steps, int)
    assert cfg.optim.grad_clip is None and cfg.run.compile is True


def test_later_overrides_win():
    cfg = load_config(None, [("lr", 1.0), ("optim.lr", 2.0)])
    assert cfg.optim.lr == 2.0


def test_cli_flag_precedence_and_opt_literals(toml_file):
    args = build_parser().parse_args([
        "train", "--config", str(toml_file), "--set", "lr=1", "--lr", "0.5", "--set", "warmup=100",
        "--opt", "betas=(0.8, 0.99)", "--opt", "foreach=False", "--resume"])
    cfg = load_config(args.config, overrides(args))
    assert cfg.optim.lr == 0.5  # the named flag beats --set
    assert cfg.schedule.warmup == 100.0
    assert cfg.optim.hp["betas"] == (0.8, 0.99) and cfg.optim.hp["foreach"] is False
    assert cfg.run.resume is True and cfg.data.seq_len == 64


@pytest.mark.parametrize("key, nearest", [("lrr", "lr"), ("optim.lrr", "optim.lr"), ("seqlen", "seq_len"),
                                          ("warmpu", "warmup")])
def test_unknown_key_suggests_the_nearest(key, nearest):
    with pytest.raises(ValueError, match=rf"unknown config key '{key}'.*did you mean '{nearest}'"):
        load_config(None, {key: 1})


def test_unknown_toml_key_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optim]\nlrr = 1e-3\n")
    with pytest.raises(ValueError, match=r"bad.toml.*'optim.lrr'.*did you mean 'optim.lr'"):
        load_config(path)


def test_a_field_under_the_wrong_section_says_where_it_belongs(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[schedule]\nseed = 1\n")
    with pytest.raises(ValueError, match=r"'seed' belongs to \[run\]"):
        load_config(path)


def test_invalid_toml_is_reported(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[optim\nlr = \n")
    with pytest.raises(ValueError, match=r"broken.toml: invalid TOML"):
        load_config(path)


@pytest.mark.parametrize("overrides, message", [
    ({"lr": -1}, r"optim.lr must be > 0"),
    ({"lr": "fast"}, r"optim.lr: cannot read 'fast'"),
    ({"seq_len": 0}, r"data.seq_len must be > 0"),
    ({"seq_len": 1.5}, r"data.seq_len must be an integer"),
    ({"kind": "cosin"}, r"schedule.kind='cosin' is not one of .*did you mean 'cosine'"),
    ({"seq_len": 100, "batch_tokens": 1050}, r"data.batch_tokens=1050 must be a multiple of data.seq_len=100"),
    ({"seq_len": 10, "batch_tokens": 100, "micro_batch": 3}, r"data.micro_batch=3 must divide"),
    ({"tokens": 10**6, "steps": 10}, r"budget.tokens or budget.steps, not both"),
    ({"warmup": 1.5}, r"schedule.warmup must be a fraction"),
    ({"final_lr_frac": 2}, r"schedule.final_lr_frac must be in \[0, 1\]"),
    ({"grad_clip": -1}, r"optim.grad_clip must be >= 0"),
    ({"preset": "tiney"}, r"model.preset='tiney'.*did you mean 'tiny'"),
    ({"dtype": "fp16"}, r"run.dtype='fp16' is not one of"),
    ({"compile": "maybe"}, r"run.compile: cannot read 'maybe'"),
    ({"name": "adamm"}, r"optim.name: unknown optimizer 'adamm'"),
    ({"hp.wieght_decay": 0.1}, r"optim.hp.wieght_decay.*did you mean 'weight_decay'"),
    ({"hp.lr": 0.1}, r"optim.hp.lr: set by the trainer \(use optim.lr\)"),
    ({"hp.total_steps": 10}, r"optim.hp.total_steps: set by the trainer"),
    ({"tokens": 100, "batch_tokens": 1024, "seq_len": 32}, r"budget.tokens=100 is less than one batch"),
])  # fmt: skip
def test_bad_values_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_config(None, overrides)


def test_leaf_names_are_unique_and_cover_every_field():
    assert FIELDS["lr"] == "optim.lr" and FIELDS["eval_tokens"] == "log.eval_tokens"
    assert len(set(FIELDS.values())) == len(FIELDS)


def test_to_dict_round_trips():
    cfg = load_config(None, {"lr": 2e-3, "hp.betas": "(0.9, 0.95)", "out": "x"})
    back = load_config(None, [(f"{s}.{k}", v) for s, d in cfg.to_dict().items() for k, v in d.items()])
    assert back == cfg


def test_optimizer_roles_pass_through_the_config_to_create():
    from optarena.model import Transformer, get_preset
    from optarena.train.build import make_optimizer

    model = Transformer(get_preset("tiny", vocab_size=64))
    lrs = {}
    for scale in (None, 1.0, 2.0):
        hp = {} if scale is None else {"roles": {"attention": {"lr_scale": scale}}}
        cfg = load_config(None, {"name": "svrm", "lr": 1e-3, "hp": hp})
        groups = make_optimizer(cfg, model, 100).param_groups
        lrs[scale] = {g["role"]: g["lr"] for g in groups}
    assert lrs[None]["attention"] == pytest.approx(1.1e-3)  # SVRM's s_p default
    assert lrs[1.0]["attention"] == pytest.approx(1e-3) and lrs[2.0]["attention"] == pytest.approx(2e-3)
    assert lrs[2.0]["mlp"] == pytest.approx(1e-3)


@pytest.mark.parametrize("roles, match", [({"attn": {"lr_scale": 1.0}}, "unknown role 'attn'"),
                                          ({"attention": 1.0}, "must map roles to tables")])
def test_bad_optimizer_roles_are_refused_by_name(roles, match):
    with pytest.raises(ValueError, match=match):
        load_config(None, {"name": "svrm", "hp": {"roles": roles}})
