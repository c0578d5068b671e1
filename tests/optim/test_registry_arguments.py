"""What a registry entry tells the generic factory: its weight-decay and LR arguments, and its routing."""

from __future__ import annotations

import pytest
import torch

from optarena import optim
from optarena.optim.factory import accepted_hyperparameters
from optarena.optim.registry import argument_names, get_spec, hidden_matrices
from tests.optim.test_factory import TinyLM  # embedding, attention, mlp, norm and head roles


@pytest.mark.parametrize("name", optim.names())
def test_declared_arguments_are_the_class_s(name):
    """A name the class does not take would be silently skipped: every declared one must exist."""
    spec = get_spec(name)
    accepted = accepted_hyperparameters(spec.resolve())
    assert set(spec.decay_keys) <= set(accepted) and set(spec.lr_keys) <= set(accepted)


def test_a_class_by_path_keeps_its_entry_s_argument_names():
    opt = optim.create("optarena.optim.adana:ADana", TinyLM(), lr=1e-3, total_steps=100)
    groups = {g["role"]: g for g in opt.param_groups}
    assert groups["norm"]["omega"] == 0.0 and groups["attention"]["omega"] == 4.0
    muon = argument_names(get_spec("muon").resolve())
    assert muon.lr_keys == ("lr", "adamw_lr") and muon.routing is None  # routing goes with the name


def test_an_unregistered_class_decays_weight_decay_and_scales_lr():
    names = argument_names(torch.optim.NAdam)
    assert (names.decay_keys, names.lr_keys, names.routing) == (("weight_decay",), ("lr",), None)
    opt = optim.create("torch.optim.NAdam", TinyLM(), lr=1e-3, weight_decay=0.1,
                       roles={"attention": {"lr_scale": 2.0}})
    groups = {g["role"]: g for g in opt.param_groups}
    assert groups["norm"]["weight_decay"] == 0.0 and groups["mlp"]["weight_decay"] == 0.1
    assert groups["attention"]["lr"] == 2e-3


def test_muon_scales_both_learning_rates():
    opt = optim.create("muon", TinyLM(), lr=0.02, adamw_lr=3e-4, roles={"attention": {"lr_scale": 0.5}})
    for g in opt.param_groups:
        scale = 0.5 if g["role"] == "attention" else 1.0
        assert (g["lr"], g["adamw_lr"]) == (0.02 * scale, 3e-4 * scale)


def test_hidden_matrices_splits_a_role_and_keeps_embeddings_whole():
    w, b = torch.nn.Parameter(torch.zeros(3, 3)), torch.nn.Parameter(torch.zeros(3))
    assert hidden_matrices("attention", [("w", w), ("b", b)]) == [({"use_muon": True}, [w]),
                                                                  ({"use_muon": False}, [b])]
    assert hidden_matrices("embedding", [("w", w)]) == [({"use_muon": False}, [w])]
