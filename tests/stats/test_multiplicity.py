"""Tests of polytests.stats.multiplicity."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats import multitest

from polytests.stats import adjust_pvalues, intersection_union, resolution_ok

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_matches_hand_computation():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04;
    # running max -> 0.02, 0.03, 0.06, 0.06; back to input order:
    np.testing.assert_allclose(adjust_pvalues(P), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust_pvalues(P, method="holm"), [0.03, 0.06, 0.06, 0.02])


def test_bh_matches_hand_computation():
    # sorted p * 4 / rank = 0.02, 0.02, 0.04, 0.04; running min from the top
    np.testing.assert_allclose(adjust_pvalues(P, method="bh"), [0.02, 0.04, 0.04, 0.02])


def test_bonferroni_and_none():
    np.testing.assert_allclose(adjust_pvalues(P, method="bonferroni"), [0.04, 0.16, 0.12, 0.02])
    np.testing.assert_allclose(adjust_pvalues([0.3, 0.9], method="bonferroni"), [0.6, 1.0])
    p = np.array(P)
    unadjusted = adjust_pvalues(p, method="none")
    np.testing.assert_array_equal(unadjusted, p)
    assert unadjusted is not p


def test_statsmodels_is_called_with_explicit_method(monkeypatch):
    calls = []

    original = multitest.multipletests

    def spy(pvals, *args, **kwargs):
        calls.append((args, kwargs))
        return original(pvals, *args, **kwargs)

    monkeypatch.setattr(multitest, "multipletests", spy)  # read from statsmodels at each call
    for method, expected in [("bh", "fdr_bh"), ("bonferroni", "bonferroni")]:
        adjust_pvalues(P, method=method)
        args, kwargs = calls[-1]
        assert args == () and kwargs["method"] == expected


def test_holm_is_computed_here_and_equals_statsmodels_bit_for_bit():
    # Holm is computed in polytests (statsmodels' Holm runs gc.collect() on every call: about
    # 0.1 s each inside a large process); it must equal statsmodels exactly, ties included.
    rng = np.random.default_rng(0)
    for i in range(60):
        p = rng.random(int(rng.integers(1, 30))) ** 3
        if i % 3 == 0:
            p = np.round(p, 2)
        assert np.array_equal(adjust_pvalues(p, method="holm"), multitest.multipletests(p, method="holm")[1])


def test_unknown_method_lists_allowed_values():
    with pytest.raises(ValueError) as info:
        adjust_pvalues(P, method="fdr_bh")
    message = str(info.value)
    assert "`method`" in message
    for allowed in ("'holm'", "'bh'", "'bonferroni'", "'none'"):
        assert allowed in message


@pytest.mark.parametrize("bad", [[0.1, 1.2], [-0.1, 0.5], [0.1, np.nan], [[0.1, 0.2]]])
def test_invalid_pvalues(bad):
    with pytest.raises(ValueError, match="`pvalues`"):
        adjust_pvalues(bad)


def test_empty_family():
    assert adjust_pvalues([]).shape == (0,)


def test_intersection_union_is_the_max():
    assert intersection_union([0.01, 0.04, 0.003]) == 0.04
    assert intersection_union(np.array([0.2])) == 0.2
    with pytest.raises(ValueError, match="`pvalues` must hold at least 1"):
        intersection_union([])


def test_resolution_check():
    assert resolution_ok(9999, 0.05, 50)  # 1e-4 <= 0.05 / 500, boundary included
    assert not resolution_ok(9999, 0.05, 51)
    assert resolution_ok(199, 0.05, 1)  # 1/200 == 0.005
    assert not resolution_ok(198, 0.05, 1)
    with pytest.raises(ValueError, match="`alpha`"):
        resolution_ok(999, 1.5, 1)
    with pytest.raises(ValueError, match="`m`"):
        resolution_ok(999, 0.05, 0)
    with pytest.raises(ValueError, match="`n_resamples`"):
        resolution_ok(0, 0.05, 1)
