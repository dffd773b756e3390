"""Tests of polytests.stats.permutation (Welch-t permutation and sign-flip tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from polytests.stats import (
    PermutationResult,
    min_attainable_pvalue,
    permutation_test,
    pvalue_floor,
    sign_flip_test,
)

B = 9999


def welch_t(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Reference Welch t written independently of the package."""
    nx, ny = x.shape[axis], y.shape[axis]
    se = np.sqrt(np.var(x, axis=axis, ddof=1) / nx + np.var(y, axis=axis, ddof=1) / ny)
    with np.errstate(divide="ignore", invalid="ignore"):  # +-inf for separated constant groups
        return (np.mean(x, axis=axis) - np.mean(y, axis=axis)) / se


def abs_welch_t(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.abs(welch_t(x, y, axis=axis))


def one_sample_t(d: np.ndarray, axis: int = -1) -> np.ndarray:
    n = d.shape[axis]
    return np.mean(d, axis=axis) / np.sqrt(np.var(d, axis=axis, ddof=1) / n)


def scipy_pvalue(x, y, alternative: str, n_resamples: int, seed: int) -> float:
    """scipy's p-value; two-sided in polytests means |t|, i.e. 'greater' on |t|."""
    if alternative == "two-sided":
        stat, alt = abs_welch_t, "greater"
    else:
        stat, alt = welch_t, alternative
    res = stats.permutation_test(
        (x, y),
        stat,
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_resamples,
        alternative=alt,
        rng=seed,
    )
    return float(res.pvalue)


# --------------------------------------------------------------------------
# agreement with scipy
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_x", "n_y", "shift", "alternative", "seed"),
    [
        (12, 60, 0.6, "greater", 1),
        (12, 60, 0.0, "greater", 2),
        (15, 20, -0.5, "less", 3),
        (10, 30, 0.7, "two-sided", 4),
        (8, 40, 0.3, "two-sided", 5),
    ],
)
def test_monte_carlo_pvalue_agrees_with_scipy(n_x, n_y, shift, alternative, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n_x)
    y = rng.normal(0.0, 2.0, n_y)  # unequal variances: Welch matters
    ours = permutation_test(x, y, alternative=alternative, n_resamples=B, seed=seed)
    theirs = scipy_pvalue(x, y, alternative, B, seed + 1000)
    assert not ours.exact
    assert ours.statistic == pytest.approx(float(welch_t(x, y)), rel=1e-12)
    p = 0.5 * (ours.pvalue + theirs)
    tolerance = 4 * math.sqrt(p * (1 - p) / B) + 1e-3
    assert abs(ours.pvalue - theirs) < tolerance


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([0.3, 1.9, 2.2, 0.8], [0.1, -0.4, 1.0, 0.2, -1.3]),
        ([1.0, 2.0, 2.0], [2.0, 1.0, 1.0, 2.0]),  # ties
        ([5.0, 6.0, 7.0], [1.0, 2.0, 3.0]),
        ([0.5, 0.1, -0.2, 0.9, 1.5, 0.7], [0.2, 0.0, 0.3, -0.1, 0.4, 0.1]),
    ],
)
@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_exact_pvalue_equals_scipy_exact(x, y, alternative):
    x, y = np.asarray(x), np.asarray(y)
    n_arrangements = math.comb(x.size + y.size, x.size)
    ours = permutation_test(x, y, alternative=alternative, n_resamples=B, seed=0)
    # scipy enumerates when n_resamples >= number of arrangements and then
    # counts null >= observed over all arrangements (observed included).
    theirs = scipy_pvalue(x, y, alternative, n_arrangements, 0)
    assert ours.exact
    assert ours.n_resamples == n_arrangements
    assert ours.pvalue == theirs
    ref_null = stats.permutation_test(
        (x, y), welch_t, vectorized=True, n_resamples=n_arrangements, alternative="greater"
    ).null_distribution
    np.testing.assert_allclose(
        np.sort(ours.null_distribution), np.sort(ref_null), rtol=1e-12, atol=1e-12
    )


def test_exact_enumeration_three_vs_three():
    x, y = [2.1, 3.5, 2.9], [1.0, 1.7, 0.4]
    res = permutation_test(x, y, seed=0)
    assert res.exact
    assert res.null_distribution.shape == (20,)
    assert res.null_distribution[0] == res.statistic  # observed arrangement first
    assert (res.pvalue * 20) == pytest.approx(round(res.pvalue * 20), abs=1e-12)
    assert res.pvalue == pytest.approx(1 / 20)  # the observed split is the most extreme


def test_exact_threshold_forces_monte_carlo_and_enumeration():
    x, y = [2.1, 3.5, 2.9], [1.0, 1.7, 0.4]
    mc = permutation_test(x, y, n_resamples=99, seed=0, exact_threshold=19)
    assert not mc.exact and mc.n_resamples == 99
    big = np.random.default_rng(0).normal(size=(2, 9))
    exact = permutation_test(big[0], big[1], n_resamples=99, exact_threshold=50000)
    assert exact.exact and exact.n_resamples == math.comb(18, 9)


@pytest.mark.parametrize("n_x, n_y, seed", [(5, 6, 8), (7, 4, 9)])  # the smaller group drawn: y, then x
def test_monte_carlo_resamples_are_valid_relabellings(n_x, n_y, seed):
    # every Monte Carlo null value must be the statistic of some split of the
    # pooled documents into groups of the original sizes
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n_x), rng.normal(size=n_y)
    exact = permutation_test(x, y, exact_threshold=10**6)
    mc = permutation_test(x, y, n_resamples=300, seed=1, exact_threshold=0)
    assert exact.exact and not mc.exact
    gaps = np.abs(mc.null_distribution[:, None] - exact.null_distribution[None, :]).min(axis=1)
    assert gaps.max() < 1e-12
    # and the draws cover the arrangements about evenly (C(11, 4) = 330 and C(11, 5) = 462 of them)
    assert len(np.unique(np.round(mc.null_distribution, 9))) > 150


def test_exact_default_threshold_is_n_resamples_plus_one():
    x, y = np.arange(3.0), np.arange(3.0) + 0.5  # C(6, 3) = 20
    assert permutation_test(x, y, n_resamples=19).exact
    assert not permutation_test(x, y, n_resamples=18, seed=0).exact


def test_sign_flip_exact_equals_scipy_exact():
    d = np.array([0.4, -0.1, 0.9, 1.3, 0.2, -0.6, 0.8, 0.5])
    for alternative in ("greater", "less"):
        ours = sign_flip_test(d, alternative=alternative, n_resamples=B)
        theirs = stats.permutation_test(
            (d,), one_sample_t, permutation_type="samples", vectorized=True,
            n_resamples=B, alternative=alternative,
        )
        assert ours.exact and ours.n_resamples == 2**8
        assert ours.null_distribution[0] == ours.statistic  # observed arrangement first
        assert ours.pvalue == theirs.pvalue
        np.testing.assert_allclose(
            np.sort(ours.null_distribution),
            np.sort(theirs.null_distribution),
            rtol=1e-12,
            atol=1e-12,
        )


def test_sign_flip_monte_carlo_agrees_with_scipy():
    d = np.random.default_rng(7).normal(0.3, 1.0, 30)
    ours = sign_flip_test(d, n_resamples=B, seed=1)
    theirs = stats.permutation_test(
        (d,), one_sample_t, permutation_type="samples", vectorized=True,
        n_resamples=B, alternative="greater", rng=2,
    )
    assert not ours.exact
    p = 0.5 * (ours.pvalue + theirs.pvalue)
    assert abs(ours.pvalue - theirs.pvalue) < 4 * math.sqrt(p * (1 - p) / B) + 1e-3


# --------------------------------------------------------------------------
# determinism and vectorisation
# --------------------------------------------------------------------------


def test_same_seed_gives_identical_results():
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=12), rng.normal(size=60)
    a = permutation_test(x, y, n_resamples=999, seed=123)
    b = permutation_test(x, y, n_resamples=999, seed=123)
    c = permutation_test(x, y, n_resamples=999, seed=124)
    assert np.array_equal(a.null_distribution, b.null_distribution)
    assert a.pvalue == b.pvalue and a.statistic == b.statistic
    assert not np.array_equal(a.null_distribution, c.null_distribution)
    g1 = permutation_test(x, y, n_resamples=999, seed=np.random.default_rng(5))
    g2 = permutation_test(x, y, n_resamples=999, seed=np.random.default_rng(5))
    assert np.array_equal(g1.null_distribution, g2.null_distribution)


def test_batch_size_does_not_change_results():
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(30, 3))
    ref = permutation_test(x, y, n_resamples=500, seed=9)
    for batch in (1, 7, 499, 10_000):
        res = permutation_test(x, y, n_resamples=500, seed=9, batch=batch)
        assert np.array_equal(res.null_distribution, ref.null_distribution)
        assert np.array_equal(res.pvalue, ref.pvalue)
    d = rng.normal(size=25)
    assert np.array_equal(
        sign_flip_test(d, n_resamples=300, seed=3, batch=11).null_distribution,
        sign_flip_test(d, n_resamples=300, seed=3).null_distribution,
    )


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_columns_equal_one_dimensional_tests(alternative):
    rng = np.random.default_rng(13)
    x = rng.normal(size=(12, 6)) + np.linspace(0, 1, 6)
    y = rng.normal(size=(60, 6))
    res = permutation_test(x, y, alternative=alternative, n_resamples=999, seed=21)
    assert res.statistic.shape == (6,) and res.pvalue.shape == (6,)
    assert res.null_distribution.shape == (999, 6)
    for j in range(6):
        col = permutation_test(x[:, j], y[:, j], alternative=alternative, n_resamples=999, seed=21)
        assert isinstance(col.pvalue, float) and isinstance(col.statistic, float)
        assert col.statistic == res.statistic[j]
        assert col.pvalue == res.pvalue[j]
        assert np.array_equal(col.null_distribution, res.null_distribution[:, j])


def test_sign_flip_columns_equal_one_dimensional_tests():
    d = np.random.default_rng(14).normal(0.2, 1.0, size=(20, 4))
    res = sign_flip_test(d, n_resamples=999, seed=2)
    for j in range(4):
        col = sign_flip_test(d[:, j], n_resamples=999, seed=2)
        assert col.pvalue == res.pvalue[j]
        assert np.array_equal(col.null_distribution, res.null_distribution[:, j])


# --------------------------------------------------------------------------
# p-value conventions and degenerate data
# --------------------------------------------------------------------------


def test_monte_carlo_pvalue_is_never_zero():
    x = np.linspace(100, 101, 40)
    y = np.linspace(0, 1, 40)
    res = permutation_test(x, y, n_resamples=999, seed=0)
    assert not res.exact
    assert res.pvalue == pvalue_floor(999) == 1 / 1000
    flips = sign_flip_test(np.linspace(5, 6, 40), n_resamples=999, seed=0)
    assert flips.pvalue == 1 / 1000


def test_monte_carlo_pvalue_formula():
    rng = np.random.default_rng(15)
    x, y = rng.normal(0.2, 1, 12), rng.normal(size=60)
    res = permutation_test(x, y, n_resamples=999, seed=4)
    count = np.count_nonzero(res.null_distribution >= res.statistic)
    assert res.pvalue == (1 + count) / 1000


def test_constant_data_ties_give_pvalue_one():
    res = permutation_test([0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1])
    assert res.statistic == 0.0
    assert res.pvalue == 1.0
    assert np.all(res.null_distribution == 0.0)


def test_separated_constant_groups_are_infinitely_extreme():
    res = permutation_test([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    assert res.statistic == math.inf
    assert res.pvalue == pytest.approx(1 / 20)
    less = permutation_test([2.0, 2.0, 2.0], [1.0, 1.0, 1.0], alternative="less")
    assert less.pvalue == 1.0
    two = permutation_test([2.0, 2.0, 2.0], [1.0, 1.0, 1.0], alternative="two-sided")
    assert two.pvalue == pytest.approx(2 / 20)


def test_rounding_ties_are_counted():
    # shifting by a constant changes the floats but not the statistic;
    # the tolerance keeps the observed arrangement and its equals tied.
    x = np.array([0.1, 0.2, 0.3]) + 1e6
    y = np.array([0.3, 0.2, 0.1]) + 1e6
    res = permutation_test(x, y, alternative="two-sided")
    assert res.pvalue == 1.0


def test_pvalue_floor_and_min_attainable():
    assert pvalue_floor(9999) == 1e-4
    assert min_attainable_pvalue(3, 3, 9999) == 1 / 20
    assert min_attainable_pvalue(12, 60, 9999) == 1 / 10000
    assert min_attainable_pvalue(3, 3, 10, exact_threshold=5) == 1 / 11
    with pytest.raises(ValueError, match="`n_resamples`"):
        pvalue_floor(0)
    with pytest.raises(ValueError, match="`n_x`"):
        min_attainable_pvalue(1, 3, 99)


def test_result_is_frozen():
    res = permutation_test([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    assert isinstance(res, PermutationResult)
    with pytest.raises(AttributeError):
        res.pvalue = 0.0  # type: ignore[misc]


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"x": [1.0, np.nan, 2.0]}, "`x` contains NaN"),
        ({"y": [1.0, 2.0, np.nan]}, "`y` contains NaN"),
        ({"x": [1.0, np.inf, 2.0]}, "`x` contains inf"),
        ({"x": [1.0]}, "`x` must hold at least 2"),
        ({"y": [1.0]}, "`y` must hold at least 2"),
        ({"x": [[[1.0]]]}, "`x` must be 1-D"),
        ({"x": ["a", "b"]}, "`x` must contain real numbers"),
        ({"x": np.ones((3, 2))}, "both be 1-D or both be 2-D"),
        ({"x": np.ones((3, 2)), "y": np.ones((3, 3))}, "same number of columns"),
        ({"alternative": "bigger"}, "`alternative` must be one of"),
        ({"n_resamples": 0}, "`n_resamples`"),
        ({"n_resamples": True}, "`n_resamples`"),
        ({"n_resamples": 10.5}, "`n_resamples`"),
        ({"seed": -1}, "`seed`"),
        ({"seed": "abc"}, "`seed`"),
        ({"batch": 0}, "`batch`"),
        ({"exact_threshold": -1}, "`exact_threshold`"),
    ],
)
def test_validation_errors_name_the_argument(kwargs, pattern):
    args = {"x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.5]}
    args.update(kwargs)
    x, y = args.pop("x"), args.pop("y")
    with pytest.raises(ValueError, match=pattern):
        permutation_test(x, y, **args)


def test_alternative_error_lists_allowed_values():
    with pytest.raises(ValueError) as info:
        permutation_test([1.0, 2.0], [3.0, 4.0], alternative="both")
    for allowed in ("'greater'", "'less'", "'two-sided'"):
        assert allowed in str(info.value)


def test_sign_flip_validation():
    with pytest.raises(ValueError, match="`d` contains NaN"):
        sign_flip_test([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="`d` must hold at least 2"):
        sign_flip_test([1.0])


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------

values = st.floats(min_value=-100, max_value=100, allow_nan=False, allow_infinity=False)
small_samples = st.lists(values, min_size=2, max_size=5)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(x=small_samples, y=small_samples)
# Found by hypothesis: repeated values make distinct arrangements the same partition, whose t
# statistics differ only by rounding; they must count as ties in both directions.
@example(x=[0.0, 0.0, -8.668245002662985], y=[62.0, 1.9908043819729926, 0.0, -8.668245002662985, -72.0])
def test_exact_pvalue_properties(x, y):
    n_arrangements = math.comb(len(x) + len(y), len(x))
    greater = permutation_test(x, y, alternative="greater")
    less = permutation_test(x, y, alternative="less")
    two = permutation_test(x, y, alternative="two-sided")
    for res in (greater, less, two):
        assert res.exact
        assert 0.0 < res.pvalue <= 1.0
        assert res.pvalue * n_arrangements == pytest.approx(round(res.pvalue * n_arrangements))
    # every arrangement is >= or <= the observed one (the observed counts twice)
    assert greater.pvalue + less.pvalue >= 1.0 + 1.0 / n_arrangements - 1e-12
    # swapping the groups mirrors the alternative
    assert permutation_test(y, x, alternative="less").pvalue == greater.pvalue


@settings(max_examples=30, deadline=None, database=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    shift=st.floats(min_value=-2, max_value=2),
)
def test_monte_carlo_pvalue_properties(seed, shift):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(shift, 1.0, 10), rng.normal(0.0, 1.0, 25)
    greater = permutation_test(x, y, alternative="greater", n_resamples=199, seed=seed)
    less = permutation_test(x, y, alternative="less", n_resamples=199, seed=seed)
    for res in (greater, less):
        assert 1 / 200 <= res.pvalue <= 1.0
        assert res.pvalue * 200 == pytest.approx(round(res.pvalue * 200))
    assert greater.pvalue + less.pvalue > 1.0


# --------------------------------------------------------------------------
# the larger group first, the exact/Monte Carlo boundary, every document flipped
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("n_x", "n_y", "alternative", "seed"),
                         [(40, 9, "greater", 31), (25, 12, "less", 32), (30, 11, "two-sided", 33)])
def test_monte_carlo_with_the_larger_x_group_agrees_with_scipy(n_x, n_y, alternative, seed):
    # Monte Carlo draws the smaller group; here that is y, so x is its complement
    rng = np.random.default_rng(seed)
    x = rng.normal(0.5 if alternative != "less" else -0.5, 2.0, n_x)
    y = rng.normal(0.0, 1.0, n_y)
    ours = permutation_test(x, y, alternative=alternative, n_resamples=B, seed=seed)
    theirs = scipy_pvalue(x, y, alternative, B, seed + 1000)
    assert not ours.exact
    assert ours.statistic == pytest.approx(float(welch_t(x, y)), rel=1e-12)
    p = 0.5 * (ours.pvalue + theirs)
    assert abs(ours.pvalue - theirs) < 4 * math.sqrt(p * (1 - p) / B) + 1e-3


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_results_report_their_design(alternative):
    rng = np.random.default_rng(16)
    one = permutation_test(rng.normal(size=5), rng.normal(size=6), alternative=alternative, n_resamples=99, seed=0)
    two = permutation_test(rng.normal(size=(5, 2)), rng.normal(size=(6, 2)), alternative=alternative,
                           n_resamples=99, seed=0)
    flips = sign_flip_test(rng.normal(size=(12, 2)), alternative=alternative, n_resamples=99, seed=0)
    flip = sign_flip_test(rng.normal(size=12), alternative=alternative, n_resamples=99, seed=0)
    for res in (one, two, flips, flip):
        assert res.alternative == alternative
        assert res.exact is False and res.n_resamples == 99
    exact = permutation_test(rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), alternative=alternative)
    assert exact.exact is True and exact.n_resamples == 20 and exact.alternative == alternative


def test_default_number_of_resamples_is_9999():
    rng = np.random.default_rng(17)
    assert permutation_test(rng.normal(size=12), rng.normal(size=12), seed=0).n_resamples == 9999
    assert sign_flip_test(rng.normal(size=20), seed=0).n_resamples == 9999
    assert pvalue_floor(9999) == min_attainable_pvalue(12, 12, 9999) == 1e-4


@pytest.mark.parametrize(("n_resamples", "exact_threshold", "exact"),
                         [(255, None, True), (254, None, False), (10, 256, True), (10**4, 255, False),
                          (99, 0, False)])
def test_sign_flip_exact_threshold_boundary(n_resamples, exact_threshold, exact):
    d = np.array([0.4, -0.1, 0.9, 1.3, 0.2, -0.6, 0.8, 0.5])  # 2**8 = 256 arrangements
    res = sign_flip_test(d, n_resamples=n_resamples, exact_threshold=exact_threshold, seed=0)
    assert res.exact is exact
    assert res.n_resamples == (256 if exact else n_resamples)


@pytest.mark.parametrize("jit", ["1", "0"])  # the compiled and the numpy kernels
@pytest.mark.parametrize("n", [65, 70])
def test_sign_flip_flips_every_document_in_half_the_resamples(n, jit, monkeypatch):
    # column j is the unit vector e_j: its t is +1 when document j keeps its sign, -1 when flipped
    monkeypatch.setenv("POLYTESTS_JIT", jit)
    d = np.eye(n)
    res = sign_flip_test(d, n_resamples=2000, seed=5)
    assert np.allclose(res.statistic, 1.0)
    assert np.allclose(np.abs(res.null_distribution), 1.0)
    kept = (res.null_distribution > 0).mean(axis=0)
    assert np.all(np.abs(kept - 0.5) < 4 * math.sqrt(0.25 / 2000))


@pytest.mark.parametrize("scale", [1e-4, 1.0, 1e3])
def test_sign_flip_statistic_is_the_one_sample_t_at_any_scale(scale):
    d = np.random.default_rng(18).normal(0.3, 1.0, 12) * scale
    res = sign_flip_test(d, n_resamples=99, seed=0)
    assert res.statistic == pytest.approx(stats.ttest_1samp(d, 0.0).statistic, rel=1e-9)
    exact = sign_flip_test(d[:8], alternative="two-sided", n_resamples=B)
    theirs = stats.permutation_test((d[:8],), lambda s, axis: np.abs(one_sample_t(s, axis)),
                                    permutation_type="samples", vectorized=True, n_resamples=B,
                                    alternative="greater")
    assert exact.exact and exact.pvalue == theirs.pvalue


def test_degenerate_data_raises_no_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert permutation_test([2.0, 2.0, 2.0], [1.0, 1.0, 1.0]).statistic == math.inf  # x/0
        assert permutation_test([0.1, 0.1, 0.1], [0.1, 0.1, 0.1]).statistic == 0.0  # 0/0
        assert sign_flip_test([0.0, 0.0, 0.0]).statistic == 0.0
        assert sign_flip_test([1.5, 1.5, 1.5]).statistic == math.inf


def test_tie_window_is_1e9_relative_to_max_of_t_and_one():
    from polytests.stats.permutation import pvalues_from_null

    for observed, window in [(0.5, 1e-9), (-0.2, 1e-9), (1000.0, 1e-6)]:
        null = np.array([[observed - 0.5 * window, observed - 1.5 * window, observed + 1.5 * window]])
        p = pvalues_from_null(null, np.array([observed]), "greater", exact=True)
        assert p[0] == pytest.approx(2 / 3)  # within the window: a tie; beyond it: not
        null = np.array([[observed + 0.5 * window, observed + 1.5 * window, observed - 1.5 * window]])
        assert pvalues_from_null(null, np.array([observed]), "less", exact=True)[0] == pytest.approx(2 / 3)
        assert pvalues_from_null(null, np.array([observed]), "less", exact=False)[0] == pytest.approx(3 / 4)


@pytest.mark.parametrize(("n_resamples", "exact_threshold"),
                         [(19, None), (20, None), (18, None), (10, 20), (10, 19), (9999, 0), (1, None)])
def test_min_attainable_pvalue_is_what_separated_groups_get(n_resamples, exact_threshold):
    # x entirely above y: no relabelling beats the observed one, so the p-value is the smallest possible
    x, y = [5.0, 6.0, 7.0], [1.0, 2.0, 3.0]  # C(6, 3) = 20 arrangements
    res = permutation_test(x, y, n_resamples=n_resamples, exact_threshold=exact_threshold, seed=0)
    floor = min_attainable_pvalue(3, 3, n_resamples, exact_threshold=exact_threshold)
    assert floor == (1 / 20 if res.exact else 1 / (n_resamples + 1))
    if res.exact:
        assert res.pvalue == floor
    assert res.pvalue >= floor


def test_smallest_designs_and_one_resample_are_allowed():
    assert pvalue_floor(1) == 0.5
    assert min_attainable_pvalue(2, 2, 9999) == 1 / 6
    assert min_attainable_pvalue(2, 3, 1) == 1 / 2
    assert permutation_test([1.0, 2.0], [3.0, 4.0]).n_resamples == 6
    assert permutation_test(np.arange(10.0), np.arange(10.0), n_resamples=1, seed=0).n_resamples == 1
    assert sign_flip_test(np.arange(1.0, 11.0), n_resamples=1, seed=0).n_resamples == 1
    assert sign_flip_test(np.arange(1.0, 11.0), n_resamples=9, batch=1, seed=0).n_resamples == 9


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: min_attainable_pvalue(3, 1, 99), "`n_y`"),
        (lambda: min_attainable_pvalue(3, 3, 0), "`n_resamples`"),
        (lambda: min_attainable_pvalue(3, 3, 99, exact_threshold=-1), "`exact_threshold`"),
        (lambda: sign_flip_test([1.0, 2.0, 3.0], alternative="bigger"), "`alternative`"),
        (lambda: sign_flip_test([1.0, 2.0, 3.0], n_resamples=0), "`n_resamples`"),
        (lambda: sign_flip_test([1.0, 2.0, 3.0], exact_threshold=-1), "`exact_threshold`"),
        (lambda: sign_flip_test([1.0, 2.0, 3.0], batch=0), "`batch`"),
    ],
)
def test_more_validation_errors_name_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
