import pytest

from optarena.scaling import FLOPS_PER_PFH, compute_flops, compute_pfh


def test_pfh_matches_the_authors_enoki_formula():
    # mlexpos/adana compare_scaling_rules_new.py, Enoki with 8 heads: n_embd = 512, n_layer = 6,
    # non_emb = 12·n_embd²·n_layer, total = non_emb + 2·n_embd·50304, PFH = 6·non_emb·(20·total)/3600e15.
    non_emb = 12 * 512**2 * 6
    total = non_emb + 2 * 512 * 50304
    assert compute_pfh(non_emb, 20 * total) == pytest.approx(6.0 * non_emb * total * 20.0 / 3600e15, rel=1e-12)


def test_flops_convention_agrees_with_6n_when_flops_per_token_is_6n():
    assert FLOPS_PER_PFH == 3.6e18
    assert compute_flops(6 * 85e6, 2e9) == pytest.approx(compute_pfh(85e6, 2e9), rel=1e-12)
    assert compute_flops(1e9, 3.6e9) == pytest.approx(1.0)


@pytest.mark.parametrize("fn", [compute_pfh, compute_flops])
def test_rejects_non_positive(fn):
    with pytest.raises(ValueError):
        fn(0, 1e9)
