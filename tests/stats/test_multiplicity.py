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


def test_integer_p_values_come_back_as_floats_and_an_empty_family_is_empty():
    for method in ("holm", "bh", "bonferroni", "none"):
        out = adjust_pvalues([0, 1, 1], method=method)
        assert out.dtype == np.float64, method
        assert adjust_pvalues([], method=method).size == 0
    assert adjust_pvalues([0.3], method="bh")[0] == 0.3


@pytest.mark.parametrize("bad", [[0.2, float("nan")], [0.2, 1.5], [-0.1], [[0.1, 0.2]], ["a"]])
def test_bad_p_values_are_named(bad):
    with pytest.raises(ValueError, match="`pvalues`"):
        adjust_pvalues(bad, method="holm")


def test_monte_carlo_range_is_the_clopper_pearson_interval():
    from scipy import stats

    from polytests.stats.multiplicity import monte_carlo_range

    for e, b, risk in [(0, 999, 1e-3), (3, 999, 1e-3), (50, 199, 0.01), (199, 199, 1e-3), (7, 20, 0.5)]:
        ci = stats.binomtest(e, b).proportion_ci(confidence_level=1 - risk, method="exact")
        low, high = monte_carlo_range(e, b, risk=risk, plus_one=False)
        assert low == pytest.approx(ci.low, abs=1e-12) and high == pytest.approx(ci.high, abs=1e-12), (e, b)
        low1, high1 = monte_carlo_range(e, b, risk=risk)
        assert low1 == low and high1 == pytest.approx(max(ci.high, (1 + e) / (b + 1)))
    # a wide risk makes the interval narrower than the +1 estimate: the range still holds the p reported
    assert monte_carlo_range(0, 9, risk=0.99) == (0.0, pytest.approx(0.1))
    for args, name in [((-1, 10), "exceedances"), ((1, 0), "resamples")]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            monte_carlo_range(*args)
    with pytest.raises(ValueError, match="cannot exceed"):
        monte_carlo_range(11, 10)


def test_resolution_ok_at_its_edge_and_named_errors():
    assert resolution_ok(1999, 0.05, 10) and not resolution_ok(1998, 0.05, 10)  # 1/2000 = 0.05/(10*10)
    assert resolution_ok(199, 0.05, 1) and not resolution_ok(198, 0.05, 1)
    for kwargs, name in [({"n_resamples": 0, "alpha": 0.05, "m": 1}, "n_resamples"),
                         ({"n_resamples": 10, "alpha": 1.5, "m": 1}, "alpha"),
                         ({"n_resamples": 10, "alpha": 0.05, "m": 0}, "m")]:
        with pytest.raises(ValueError, match=f"`{name}`"):
            resolution_ok(**kwargs)


def test_the_plus_one_estimate_and_the_smallest_resample_counts():
    from polytests.stats.multiplicity import bonferroni_span, max_span, monte_carlo_range

    # a narrow interval (risk near 1) below the reported (1 + e) / (B + 1): the range still holds it
    low, high = monte_carlo_range(1, 9, risk=0.999)  # the interval's upper end is near Beta(2, 8)'s median, 0.18
    assert high == pytest.approx(0.2) and low < 0.2 and monte_carlo_range(1, 9, risk=0.999, plus_one=False)[1] < 0.19
    assert monte_carlo_range(1, 1)[1] == 1.0 and monte_carlo_range(0, 1)[0] == 0.0
    assert resolution_ok(1, 0.5, 1) is False  # one resample is allowed, and far too coarse
    # Monte Carlo ranges of combined p-values: the largest (intersection-union), k x the smallest
    spans = [(0.01, 0.03), (0.002, 0.2), (0.05, 0.06)]
    assert max_span(spans) == (0.05, 0.2)
    assert bonferroni_span(spans) == (pytest.approx(0.006), pytest.approx(0.09))
    assert bonferroni_span([(0.5, 0.9), (0.6, 0.7)]) == (1.0, 1.0)
