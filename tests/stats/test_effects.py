"""Tests of polytests.stats.effects."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from polytests.stats import (
    ConfidenceInterval,
    EffectSizes,
    effect_sizes,
    hedges_g,
    mean_difference_ci,
    probability_of_superiority,
    share_in_direction,
)


def _mean_diff(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


# --------------------------------------------------------------------------
# bootstrap CI
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["BCa", "percentile", "basic"])
def test_ci_matches_scipy_bootstrap_with_same_generator(method):
    rng = np.random.default_rng(0)
    x, y = rng.normal(1.0, 1.0, 12), rng.normal(0.0, 1.5, 60)
    ours = mean_difference_ci(x, y, n_resamples=999, seed=5, method=method)
    ref = stats.bootstrap(
        (x, y), _mean_diff, n_resamples=999, vectorized=True, method=method,
        rng=np.random.default_rng(5),
    ).confidence_interval
    assert ours == ConfidenceInterval(float(ref.low), float(ref.high), method)
    assert ours.low < np.mean(x) - np.mean(y) < ours.high


def test_ci_is_deterministic_and_level_matters():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=15), rng.normal(size=40)
    a = mean_difference_ci(x, y, n_resamples=999, seed=3)
    b = mean_difference_ci(x, y, n_resamples=999, seed=3)
    assert a == b
    narrow = mean_difference_ci(x, y, n_resamples=999, seed=3, confidence_level=0.5)
    assert a.low < narrow.low < narrow.high < a.high


def test_constant_groups_give_degenerate_interval():
    ci = mean_difference_ci([0.3, 0.3, 0.3], [0.1, 0.1, 0.1, 0.1], seed=0)
    assert ci.method == "degenerate"
    assert ci.low == ci.high == pytest.approx(0.2)


def test_bca_nan_falls_back_to_percentile():
    # Non-constant but so tiny that the jackknife acceleration underflows to
    # 0/0: scipy's BCa returns NaN here.
    x, y = [0.0, 0.0, 0.0, 1e-200], [0.0, 0.0, 0.0, 0.0]
    with pytest.warns(Warning):
        raw = stats.bootstrap((x, y), _mean_diff, n_resamples=999, vectorized=True,
                              rng=np.random.default_rng(0)).confidence_interval
    assert math.isnan(raw.low)
    ci = mean_difference_ci(x, y, n_resamples=999, seed=0)
    assert ci.method == "percentile"
    assert np.isfinite([ci.low, ci.high]).all()
    assert 0.0 <= ci.low <= ci.high <= 1e-200


def test_ci_validation():
    with pytest.raises(ValueError, match="`method` must be one of"):
        mean_difference_ci([1.0, 2.0], [3.0, 4.0], method="bca")
    with pytest.raises(ValueError, match="`confidence_level`"):
        mean_difference_ci([1.0, 2.0], [3.0, 4.0], confidence_level=95)
    with pytest.raises(ValueError, match="`x` contains NaN"):
        mean_difference_ci([1.0, np.nan], [3.0, 4.0])
    with pytest.raises(ValueError, match="`y` must be 1-D"):
        mean_difference_ci([1.0, 2.0], [[3.0], [4.0]])


# --------------------------------------------------------------------------
# Hedges' g
# --------------------------------------------------------------------------


def test_hedges_g_hand_computed():
    # means 2 and 5, both SDs 1 -> d = -3; df = 4 -> J = Gamma(2) /
    # (sqrt(2) Gamma(1.5)) = sqrt(2 / pi)
    assert hedges_g([1, 2, 3], [4, 5, 6]) == pytest.approx(-3 * math.sqrt(2 / math.pi))
    # means 5 and 2, variances 20/3 and 2 -> pooled = (3*20/3 + 1*2) / 4 = 5.5
    assert hedges_g([2, 4, 6, 8], [1, 3]) == pytest.approx(
        math.sqrt(2 / math.pi) * 3 / math.sqrt(5.5)
    )


def test_hedges_g_correction_close_to_approximation_for_large_samples():
    rng = np.random.default_rng(2)
    x, y = rng.normal(0.5, 1, 40), rng.normal(0, 1, 60)
    df = 98
    pooled = math.sqrt((39 * np.var(x, ddof=1) + 59 * np.var(y, ddof=1)) / df)
    d = (np.mean(x) - np.mean(y)) / pooled
    assert hedges_g(x, y) == pytest.approx(d * (1 - 3 / (4 * df - 1)), rel=1e-4)


def test_hedges_g_zero_pooled_sd():
    assert hedges_g([1.0, 1.0], [1.0, 1.0, 1.0]) == 0.0
    assert hedges_g([2.0, 2.0], [1.0, 1.0, 1.0]) == math.inf
    assert hedges_g([0.0, 0.0], [1.0, 1.0, 1.0]) == -math.inf


def test_hedges_g_needs_two_documents():
    with pytest.raises(ValueError, match="`x` must hold at least 2"):
        hedges_g([1.0], [1.0, 2.0])


# --------------------------------------------------------------------------
# probability of superiority and share in direction
# --------------------------------------------------------------------------


def test_probability_of_superiority_hand_computed():
    # 1 beats 0; 2 ties 2, 2 and beats 0; 3 beats all -> (1 + 2 + 3) / 9
    assert probability_of_superiority([1, 2, 3], [2, 2, 0]) == pytest.approx(6 / 9)
    assert probability_of_superiority([5, 6], [1, 2, 3]) == 1.0
    assert probability_of_superiority([1, 1], [1, 1, 1]) == 0.5


@settings(max_examples=100, deadline=None, database=None)
@given(
    x=st.lists(st.integers(-5, 5), min_size=1, max_size=15),
    y=st.lists(st.integers(-5, 5), min_size=1, max_size=15),
)
def test_probability_of_superiority_equals_brute_force(x, y):
    a, b = np.asarray(x)[:, None], np.asarray(y)[None, :]
    brute = (np.count_nonzero(a > b) + 0.5 * np.count_nonzero(a == b)) / (a.size * b.size)
    assert probability_of_superiority(x, y) == pytest.approx(brute, abs=1e-12)
    assert probability_of_superiority(x, y) + probability_of_superiority(y, x) == pytest.approx(1)


def test_share_in_direction():
    deltas = [1.0, -1.0, 0.0, 2.0]
    assert share_in_direction(deltas) == 0.5
    assert share_in_direction(deltas, "less") == 0.25
    with pytest.raises(ValueError, match="`direction` must be one of"):
        share_in_direction(deltas, "up")
    with pytest.raises(ValueError, match="`deltas` must hold at least 1"):
        share_in_direction([])


# --------------------------------------------------------------------------
# bundle
# --------------------------------------------------------------------------


def test_effect_sizes_bundle_is_consistent():
    x, y = [1.0, 2.0, 3.0, 5.0], [0.0, 2.0, 1.0]
    res = effect_sizes(x, y, n_resamples=999, seed=4)
    assert isinstance(res, EffectSizes)
    assert (res.mean_x, res.mean_y, res.n_x, res.n_y) == (2.75, 1.0, 4, 3)
    assert res.difference == pytest.approx(1.75)
    assert res.hedges_g == hedges_g(x, y)
    assert res.probability_of_superiority == pytest.approx(10 / 12)
    assert res.ci == mean_difference_ci(x, y, n_resamples=999, seed=4)


def test_hedges_g_per_column_equals_one_column_at_a_time():
    rng = np.random.default_rng(4)
    x, y = rng.normal(1, 1, (9, 3)), rng.normal(0, 2, (14, 3))
    y[:, 2] = 5.0
    x[:, 2] = 5.0  # constant and equal: g = 0
    columns = hedges_g(x, y)
    assert columns.shape == (3,)
    for j in range(3):
        assert columns[j] == hedges_g(x[:, j], y[:, j])
    assert columns[2] == 0.0


# --------------------------------------------------------------------------
# defaults, boundaries and the bootstrap of one mean, against scipy (#28)
# --------------------------------------------------------------------------


def test_ci_defaults_are_bca_95_and_9999_resamples():
    rng = np.random.default_rng(10)
    x, y = rng.exponential(1.0, 8), rng.exponential(2.0, 5)
    ref = stats.bootstrap((x, y), _mean_diff, n_resamples=9999, vectorized=True, confidence_level=0.95,
                          method="BCa", rng=np.random.default_rng(7)).confidence_interval
    assert mean_difference_ci(x, y, seed=7) == ConfidenceInterval(float(ref.low), float(ref.high), "BCa")
    # the bundle uses the same defaults and passes its level and seed on
    bundle = effect_sizes(x, y, seed=7)
    assert bundle.ci == ConfidenceInterval(float(ref.low), float(ref.high), "BCa")
    ref80 = stats.bootstrap((x, y), _mean_diff, n_resamples=500, vectorized=True, confidence_level=0.8,
                            method="BCa", rng=np.random.default_rng(8)).confidence_interval
    assert effect_sizes(x, y, confidence_level=0.8, n_resamples=500, seed=8).ci == ConfidenceInterval(
        float(ref80.low), float(ref80.high), "BCa")


def test_ci_with_two_documents_each_and_one_constant_group():
    ci = mean_difference_ci([1.0, 3.0], [0.0, 0.0], n_resamples=999, seed=0, method="percentile")
    ref = stats.bootstrap(([1.0, 3.0], [0.0, 0.0]), _mean_diff, n_resamples=999, vectorized=True,
                          method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert ci == ConfidenceInterval(float(ref.low), float(ref.high), "percentile")
    assert (ci.low, ci.high) == (1.0, 3.0)
    # only one group constant is not degenerate: the interval is the other group's spread
    assert mean_difference_ci([2.0, 2.0], [0.0, 1.0], n_resamples=999, seed=0).method != "degenerate"


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_bca_fallback_is_scipys_percentile_interval_at_the_requested_level(level):
    x, y = [0.0, 0.0, 0.0, 1e-200], [0.0, 0.0, 0.0, 0.0]
    ci = mean_difference_ci(x, y, n_resamples=999, seed=0, confidence_level=level)
    ref = stats.bootstrap((x, y), _mean_diff, n_resamples=999, vectorized=True, confidence_level=level,
                          method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert ci == ConfidenceInterval(float(ref.low), float(ref.high), "percentile")


def test_ci_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="`x` must hold at least 2"):
        mean_difference_ci([1.0], [3.0, 4.0])
    with pytest.raises(ValueError, match="`n_resamples`"):
        mean_difference_ci([1.0, 2.0], [3.0, 4.0], n_resamples=0)
    with pytest.raises(ValueError, match="`x` must hold at least 2"):
        effect_sizes([1.0], [3.0, 4.0])
    assert mean_difference_ci([1.0, 2.0], [3.0, 5.0], n_resamples=1, seed=0, method="basic").method == "basic"


def test_mean_ci_equals_scipy_percentile_bootstrap():
    from polytests.stats.effects import mean_ci

    x = np.random.default_rng(11).exponential(1.0, 9)
    for level, b in ((0.95, 999), (0.7, 300)):
        ref = stats.bootstrap((x,), np.mean, n_resamples=b, confidence_level=level, method="percentile",
                              rng=np.random.default_rng(2)).confidence_interval
        got = mean_ci(x, confidence_level=level, n_resamples=b, seed=2)
        assert got == ConfidenceInterval(float(ref.low), float(ref.high), "percentile")
    default = stats.bootstrap((x,), np.mean, n_resamples=999, confidence_level=0.95, method="percentile",
                              rng=np.random.default_rng(3)).confidence_interval
    assert mean_ci(x, seed=3) == ConfidenceInterval(float(default.low), float(default.high), "percentile")


def test_mean_ci_degenerate_and_bad_arguments():
    from polytests.stats.effects import mean_ci

    assert mean_ci([0.25, 0.25, 0.25]) == ConfidenceInterval(0.25, 0.25, "degenerate")
    assert mean_ci([0.5]) == ConfidenceInterval(0.5, 0.5, "degenerate")  # one document suffices
    with pytest.raises(ValueError, match="`x` must hold at least 1"):
        mean_ci([])
    with pytest.raises(ValueError, match="`n_resamples`"):
        mean_ci([1.0, 2.0], n_resamples=0)
    with pytest.raises(ValueError, match="`confidence_level`"):
        mean_ci([1.0, 2.0], confidence_level=1.5)
    with pytest.raises(ValueError, match="`x` must be 1-D"):
        mean_ci([[1.0, 2.0]])


def test_hedges_g_with_two_documents_and_signed_infinities_per_column():
    # n = 2 + 2: df = 2, J = Gamma(1) / (sqrt(1) Gamma(0.5)) = 1 / sqrt(pi); pooled SD 1
    assert hedges_g([0.0, math.sqrt(2)], [-math.sqrt(2), 0.0]) == pytest.approx(math.sqrt(2) / math.sqrt(math.pi))
    x = np.array([[2.0, 0.0, 1.0], [2.0, 0.0, 1.0]])
    y = np.ones((3, 3))
    assert hedges_g(x, y).tolist() == [math.inf, -math.inf, 0.0]
    assert isinstance(hedges_g([1.0, 2.0], [0.0, 1.0]), float)


def test_probability_of_superiority_one_document_each_and_mann_whitney():
    assert probability_of_superiority([1.0], [0.0]) == 1.0
    assert probability_of_superiority([1.0], [1.0]) == 0.5
    rng = np.random.default_rng(12)
    x, y = np.round(rng.normal(0, 1, 13), 1), np.round(rng.normal(0.3, 1, 17), 1)
    u = stats.mannwhitneyu(x, y).statistic
    assert probability_of_superiority(x, y) == pytest.approx(u / (13 * 17), rel=1e-12)
    with pytest.raises(ValueError, match="`x` must be 1-D"):
        probability_of_superiority([[1.0]], [1.0])


def test_share_in_direction_one_document():
    assert share_in_direction([3.0]) == 1.0
    assert share_in_direction([3.0], "less") == 0.0
    assert share_in_direction([-3.0], direction="less") == 1.0
    with pytest.raises(ValueError, match="`deltas` must be 1-D"):
        share_in_direction([[1.0, -1.0]])


def test_hedges_g_with_zero_pooled_sd_warns_nothing():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 and d/0 are answered, not warned about
        assert hedges_g([1.0, 1.0], [1.0, 1.0]) == 0.0
        assert hedges_g([2.0, 2.0], [1.0, 1.0]) == math.inf
        assert hedges_g(np.array([[2.0, 1.0], [2.0, 1.0]]), np.ones((2, 2))).tolist() == [math.inf, 0.0]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy's standard error of one resample
def test_mean_ci_with_one_resample():
    from polytests.stats.effects import mean_ci

    ref = stats.bootstrap(([1.0, 2.0, 4.0],), np.mean, n_resamples=1, method="percentile",
                          rng=np.random.default_rng(0)).confidence_interval
    assert mean_ci([1.0, 2.0, 4.0], n_resamples=1, seed=0) == ConfidenceInterval(ref.low, ref.high, "percentile")
