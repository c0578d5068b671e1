"""create(): registry lookup, parameter roles and groups, overrides, errors."""

import math
import re

import pytest
import torch
from torch import nn

from optarena import optim
from optarena.optim.partition import Rule


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.attn_norm = RMSNorm(d)
        self.attn = nn.ModuleDict({k: nn.Linear(d, d, bias=False) for k in ("q_proj", "k_proj", "v_proj", "o_proj")})
        self.mlp_norm = RMSNorm(d)
        self.mlp = nn.ModuleDict({k: nn.Linear(d, d, bias=False) for k in ("gate_proj", "up_proj", "down_proj")})


class TinyLM(nn.Module):
    def __init__(self, d=8, vocab=16, tied=False):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList([Block(d), Block(d)])
        self.norm = RMSNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        if tied:
            self.lm_head.weight = self.embed.weight


def roles_of(opt):
    return {g["role"]: g for g in opt.param_groups}


def test_names_sorted_and_complete():
    names = optim.names()
    assert names == sorted(names)
    for expected in ("adamw", "adam", "rmsprop", "lion", "cautious-adamw", "cautious-lion", "grams", "muon",
                     "ademamix", "ademamix-logtime", "adamw-logtime-wd", "adana", "dana-mk4", "dana-star",
                     "dana-star-mk4", "dms", "stable-momentum", "svrm"):
        assert expected in names


def test_roles_and_default_no_decay():
    model = TinyLM()
    opt = optim.create("adamw", model, lr=1e-3, weight_decay=0.1)
    groups = roles_of(opt)
    assert set(groups) == {"embedding", "head", "norm", "attention", "mlp"}
    assert groups["embedding"]["weight_decay"] == 0.0 and groups["norm"]["weight_decay"] == 0.0
    assert groups["attention"]["weight_decay"] == 0.1 and groups["head"]["weight_decay"] == 0.1
    assert len(groups["attention"]["params"]) == 8 and len(groups["mlp"]["params"]) == 6
    assert len(groups["norm"]["params"]) == 5
    claimed = [id(p) for g in opt.param_groups for p in g["params"]]
    assert sorted(claimed) == sorted(id(p) for p in model.parameters())


def test_tied_embedding_claimed_once():
    model = TinyLM(tied=True)
    opt = optim.create("adamw", model, lr=1e-3)
    groups = roles_of(opt)
    assert "head" not in groups
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_role_overrides_and_lr_scale():
    model = TinyLM()
    opt = optim.create("grams", model, lr=1e-3, roles={"attention": {"lr_scale": 2.0, "betas": (0.8, 0.9)},
                                                       "embedding": {"weight_decay": 0.5}})
    groups = roles_of(opt)
    assert groups["attention"]["lr"] == pytest.approx(2e-3) and groups["attention"]["betas"] == (0.8, 0.9)
    assert groups["mlp"]["lr"] == pytest.approx(1e-3)
    assert groups["embedding"]["weight_decay"] == 0.5


def test_lr_scale_without_explicit_lr_uses_class_default():
    opt = optim.create("grams", TinyLM(), roles={"mlp": {"lr_scale": 3.0}})
    assert roles_of(opt)["mlp"]["lr"] == pytest.approx(3e-3)


def test_logtime_methods_zero_omega_on_no_decay_roles():
    opt = optim.create("adamw-logtime-wd", TinyLM(), lr=1e-3, total_steps=100, omega=4.0)
    groups = roles_of(opt)
    assert groups["norm"]["omega"] == 0.0 and groups["attention"]["omega"] == 4.0


def test_errors_name_the_valid_choices():
    with pytest.raises(ValueError, match="unknown optimizer 'adamx'.*adamw"):
        optim.create("adamx", TinyLM())
    with pytest.raises(ValueError, match="unknown hyperparameter.*betaz.*accepted: lr, betas"):
        optim.create("grams", TinyLM(), betaz=(0.9, 0.9))
    with pytest.raises(ValueError, match="unknown role.*attn.*attention"):
        optim.create("grams", TinyLM(), roles={"attn": {}})
    with pytest.raises(ValueError, match="role 'mlp': unknown setting.*momentum"):
        optim.create("grams", TinyLM(), roles={"mlp": {"momentum": 0.9}})
    with pytest.raises(ValueError, match="need a model"):
        optim.create("grams", TinyLM().parameters(), roles={"mlp": {}})


# torch checks little: each of these once gave NaN parameters, a negative LR or a raw IndexError/TypeError.
ADAM_ERRORS = [
    (dict(lr=math.inf), "invalid lr=inf; expected a number in [0, inf)"),
    (dict(lr="abc"), "invalid lr='abc'; expected a number in [0, inf)"),
    (dict(lr=-1e-3), "invalid lr=-0.001; expected a number in [0, inf)"),
    (dict(eps=0.0), "invalid eps=0.0; expected a number in (0, inf)"),
    (dict(betas=(0.9,)), "invalid betas=(0.9,); expected a tuple of 2 numbers in [0, 1)"),
    (dict(betas=(0.9, 0.99, 0.999)), "invalid betas=(0.9, 0.99, 0.999); expected a tuple of 2 numbers in [0, 1)"),
    (dict(betas=(0.9, 1.0)), "invalid betas[1]=1.0; expected a number in [0, 1)"),
    (dict(weight_decay=-0.1), "invalid weight_decay=-0.1; expected a number in [0, inf)"),
]
RMSPROP_ERRORS = [
    (dict(lr=math.inf), "invalid lr=inf; expected a number in [0, inf)"),
    (dict(eps=0.0), "invalid eps=0.0; expected a number in (0, inf)"),
    (dict(alpha=1.5), "invalid alpha=1.5; expected a number in [0, 1)"),
    (dict(momentum=-0.1), "invalid momentum=-0.1; expected a number in [0, 1)"),
    (dict(weight_decay="0.1"), "invalid weight_decay='0.1'; expected a number in [0, inf)"),
]
BASELINE_ERRORS = ([("adam", "Adam", *e) for e in ADAM_ERRORS] + [("adamw", "AdamW", *e) for e in ADAM_ERRORS]
                   + [("rmsprop", "RMSprop", *e) for e in RMSPROP_ERRORS])


@pytest.mark.parametrize("name, cls, kw, message", BASELINE_ERRORS)
def test_torch_baselines_are_validated_like_our_own(name, cls, kw, message):
    for target in (TinyLM(), TinyLM().parameters()):
        with pytest.raises(ValueError) as e:
            optim.create(name, target, **kw)
        assert str(e.value) == f"{cls}: {message}"
    with pytest.raises(ValueError) as e:  # a role's own value, and a group passed by hand
        optim.create(name, TinyLM(), roles={"mlp": kw})
    assert str(e.value) == f"{cls} (param group 3, role 'mlp'): {message}"
    with pytest.raises(ValueError) as e:
        optim.create(name, [{"params": [torch.zeros(2)]}, {"params": [torch.zeros(3)], **kw}])
    assert str(e.value) == f"{cls} (param group 1): {message}"


def test_torch_baselines_accept_valid_settings():
    optim.create("adamw", TinyLM(), lr=torch.tensor(1e-3), betas=(0.8, 0.9), eps=1e-10, weight_decay=0.0)
    optim.create("rmsprop", TinyLM(), lr=1e-3, alpha=0.9, momentum=0.9, centered=True)


@pytest.mark.parametrize("name", ["adamw", "lion", "dms"])
@pytest.mark.parametrize("lr_scale, shown", [(-1.0, "-1.0"), ("2", "'2'"), (math.inf, "inf")])
def test_role_lr_scale_must_be_a_nonnegative_number(name, lr_scale, shown):
    with pytest.raises(ValueError) as e:
        optim.create(name, TinyLM(), roles={"attention": {"lr_scale": lr_scale}})
    assert str(e.value) == f"role 'attention': invalid lr_scale={shown}; expected a number in [0, inf)"


def test_a_bad_lr_is_reported_before_a_role_scales_it():
    # DMS scales the attention LR by 1.5 (a role default): 'abc' * 1.5 was a raw TypeError
    with pytest.raises(ValueError, match=r"^DMS.*: invalid lr='abc'; expected a number in \[0, inf\)$"):
        optim.create("dms", TinyLM(), lr="abc")


@pytest.mark.parametrize("name", [None, 3, ["adamw"]])
def test_optimizer_name_must_be_a_string(name):
    with pytest.raises(ValueError, match=rf"^unknown optimizer {re.escape(repr(name))}; valid names: adam, "):
        optim.create(name, TinyLM())


def test_dotted_path_external_optimizer():
    opt = optim.create("torch.optim.NAdam", TinyLM(), lr=1e-3, weight_decay=0.01)
    assert isinstance(opt, torch.optim.NAdam)
    assert roles_of(opt)["norm"]["weight_decay"] == 0.0
    with pytest.raises(ValueError, match="cannot import"):
        optim.create("no_such_pkg.Opt", TinyLM())
    with pytest.raises(ValueError, match="not a torch.optim.Optimizer"):
        optim.create("torch.nn.Linear", TinyLM())


def test_partition_must_claim_every_parameter():
    rules = (Rule("attention", lambda n, m, p: ".attn." in n),)
    with pytest.raises(ValueError, match="no rule claims.*embed.weight"):
        optim.create("adamw", TinyLM(), rules=rules)


def test_frozen_parameters_are_left_out():
    model = TinyLM()
    model.embed.weight.requires_grad_(False)
    opt = optim.create("adamw", model)
    assert "embedding" not in roles_of(opt)
