"""Tests against a smallest effect of interest: checked against scipy and on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from polytests.stats import bounds
from polytests.stats.bounds import bound_test, bound_test_one_sample, documents_needed, mean_bound_test
from polytests.stats.relative import relative_effect_test


def test_two_groups_test_the_shifted_relative_effect():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0.6, 1.0, 15), rng.normal(0.0, 2.0, 40)
    r = bound_test(x, y, 0.25, n_resamples=1999, seed=3, tail_guard=False)  # (15 documents: guarded otherwise)
    direct = relative_effect_test(x, y, 0.25, n_resamples=1999, seed=3)
    assert (r.pvalue_above, r.pvalue_below) == (direct.pvalue_above, direct.pvalue_below)
    assert r.theta == pytest.approx(np.mean((x[:, None] - 0.25 > y[None, :])))
    assert r.estimate == pytest.approx(np.median(np.subtract.outer(x, y)))
    assert r.mean_difference == pytest.approx(x.mean() - y.mean())
    assert r.ci.low < r.estimate < r.ci.high


def test_the_two_sides_answer_opposite_questions():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1, 50)
    far_above = bound_test(y[:25] + 3.0, y[25:], 1.0, n_resamples=999, seed=0)
    far_below = bound_test(y[:25] - 3.0, y[25:], 1.0, n_resamples=999, seed=0)
    assert far_above.pvalue_above <= 0.002 and far_above.pvalue_below > 0.99
    assert far_below.pvalue_below <= 0.002 and far_below.pvalue_above > 0.99


def test_one_sample_form_is_the_exact_sign_test_of_the_median():
    rng = np.random.default_rng(2)
    d = rng.normal(0.3, 1.0, 30)
    r = bound_test_one_sample(d, 0.1)
    above = int((d > 0.1).sum())
    assert r.pvalue_above == pytest.approx(stats.binomtest(above, 30, 0.5, alternative="greater").pvalue)
    assert r.pvalue_below == pytest.approx(stats.binomtest(30 - above, 30, 0.5, alternative="greater").pvalue)
    assert r.n_y == 0 and r.estimate == pytest.approx(np.median(d)) and r.mean_difference == pytest.approx(d.mean())
    assert r.ci.low <= np.median(d) <= r.ci.high


def test_a_delta_on_the_bound_counts_for_neither_side():
    r = bound_test_one_sample(np.array([0.1] * 10 + [0.5, 0.6]), 0.1)
    assert r.pvalue_above == pytest.approx(stats.binom.sf(1, 12, 0.5))
    assert r.pvalue_below == 1.0


def test_documents_needed_follows_the_normal_approximation_on_theta():
    rng = np.random.default_rng(4)
    x, y = rng.normal(0.5, 1.0, 10), rng.normal(0.0, 1.0, 10)
    r = bound_test(x, y, 0.0, n_resamples=199, seed=0)
    z = stats.norm.ppf(0.95) + stats.norm.ppf(0.8)
    assert documents_needed(r, 0.05) == math.ceil((z * r.theta_se / abs(r.theta - 0.5)) ** 2 * 20)
    tied = bound_test(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0.0, n_resamples=9)
    assert tied.theta == 0.5 and documents_needed(tied, 0.05) == math.inf


def test_constant_groups_decide_by_the_sign_of_the_difference():
    r = bound_test(np.full(5, 2.0), np.full(7, 1.0), 0.5, n_resamples=99, seed=0)
    assert r.theta == 1.0 and r.pvalue_below == 1.0
    # the observed split alone is 1/100, but a separated sample's p never goes below 2**-5
    assert r.pvalue_above == pytest.approx(1 / 32)


def test_inputs_are_validated_with_the_argument_named():
    with pytest.raises(ValueError, match="bound"):
        bound_test([1.0, 2.0], [0.0, 1.0], float("nan"))
    with pytest.raises(ValueError, match="n_resamples"):
        bound_test([1.0, 2.0], [0.0, 1.0], 0.0, n_resamples=0)


def test_the_mean_test_kept_for_comparison_is_welch_and_permutation():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0.6, 1.0, 15), rng.normal(0.0, 2.0, 40)
    r = mean_bound_test(x, y, 0.25, n_resamples=1999, seed=3)
    welch = stats.ttest_ind(x - 0.25, y, equal_var=False, alternative="greater").pvalue
    assert r.pvalue_above >= welch - 1e-12 and r.estimate == pytest.approx(x.mean() - y.mean())


def test_paired_sign_pvalues_are_binomial_tails_over_disjoint_pairs():
    from scipy import stats as sps

    rng = np.random.default_rng(5)
    x, y = rng.normal(1, 1, 12), rng.normal(0, 1, 40)
    p_above, p_below = bounds.paired_sign_pvalues(x, y, 0.2, np.random.default_rng(9))
    # the same pairing, drawn by hand
    r = np.random.default_rng(9)
    ys = y[r.permutation(40)[:12]]
    xs = x[r.permutation(12)]
    d = xs - 0.2 - ys
    assert p_above == pytest.approx(sps.binomtest(int((d > 0).sum()), 12, 0.5, alternative="greater").pvalue)
    assert p_below == pytest.approx(sps.binomtest(int((d < 0).sum()), 12, 0.5, alternative="greater").pvalue)


def test_a_small_group_reaches_the_deep_tail_only_with_the_paired_test():
    rng = np.random.default_rng(6)
    x, y = rng.normal(1.2, 1, 12), rng.normal(0, 1, 60)
    free = bounds.bound_test(x, y, 0.0, n_resamples=999, seed=3, tail_guard=False)
    guarded = bounds.bound_test(x, y, 0.0, n_resamples=999, seed=3)
    assert free.pvalue_above < 0.025
    pair_above, _ = bounds.paired_sign_pvalues(x, y, 0.0, np.random.default_rng([3, bounds._PAIR_STREAM]))
    assert guarded.pvalue_above == max(free.pvalue_above, pair_above)
    assert guarded.pvalue_above > free.pvalue_above  # 12 pairs cannot reach the permutation test's p here
    assert guarded.min_pvalue >= 0.5 ** 12
    # 30 documents a group and more: the studentized test alone
    x30 = rng.normal(1.2, 1, 30)
    assert bounds.bound_test(x30, y, 0.0, n_resamples=999, seed=3).pvalue_above == \
        bounds.bound_test(x30, y, 0.0, n_resamples=999, seed=3, tail_guard=False).pvalue_above


# --- each field of each result against an independent computation (#28) ---


def _theta_at(x, y, shift):
    d = np.subtract.outer(x, y).ravel() - shift
    return np.mean(d > 0) + 0.5 * np.mean(d == 0)


@pytest.mark.parametrize("n_x, n_y, seed", [(12, 15, 0), (40, 35, 1)])
def test_two_group_fields_and_the_inverted_interval(n_x, n_y, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0.8, 1, n_x), rng.exponential(1, n_y)
    r = bound_test(x, y, 0.3, n_resamples=999, seed=4, tail_guard=False)
    direct = relative_effect_test(x, y, 0.3, n_resamples=999, seed=4)
    assert (r.bound, r.n_x, r.n_y, r.exact, r.resamples) == (0.3, n_x, n_y, False, 999)
    assert (r.theta_se, r.statistic, r.min_pvalue) == (direct.se, direct.statistic, direct.min_pvalue)
    assert np.array_equal(r.null_distribution, direct.null_distribution)
    assert (r.above_range, r.below_range) == (direct.above_range, direct.below_range)
    assert r.span("above") == direct.above_range and r.span("below") == direct.below_range
    # the interval holds the shifts whose relative effect is within 1.96 se of 1/2
    assert r.ci.method == "inverted Brunner-Munzel"
    z, n_pairs = stats.norm.ppf(0.975), n_x * n_y
    assert _theta_at(x, y, r.ci.low) == pytest.approx(0.5 + z * r.theta_se, abs=1.01 / n_pairs)
    assert _theta_at(x, y, r.ci.high) == pytest.approx(0.5 - z * r.theta_se, abs=1.01 / n_pairs)


def test_the_interval_level_and_its_clipping():
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1, 10), rng.normal(0, 1, 9)
    diffs = np.subtract.outer(x, y).ravel()
    narrow = bounds._shift_interval(x, y, 0.1, confidence=0.8)
    z = stats.norm.ppf(0.9)
    assert _theta_at(x, y, narrow.low) == pytest.approx(0.5 + z * 0.1, abs=1.01 / 90)
    assert _theta_at(x, y, narrow.high) == pytest.approx(0.5 - z * 0.1, abs=1.01 / 90)
    wide = bounds._shift_interval(x, y, 0.4)  # 1/2 -+ 1.96 * 0.4 reaches past both ends: every difference
    assert (wide.low, wide.high) == (diffs.min(), diffs.max())


def test_an_exact_design_reports_no_monte_carlo_range():
    rng = np.random.default_rng(3)
    x, y = rng.normal(1, 1, 5), rng.normal(0, 1, 6)
    r = bound_test(x, y, 0.0, n_resamples=999, seed=0, tail_guard=False)
    assert r.exact and r.resamples == 0 and r.above_range is None and r.below_range is None
    assert r.span("above") == (r.pvalue_above, r.pvalue_above)
    assert r.span("below") == (r.pvalue_below, r.pvalue_below)
    assert r.min_pvalue == 0.5**5


def test_the_guard_applies_below_30_documents_and_raises_the_ranges():
    rng = np.random.default_rng(7)
    y = rng.normal(0, 1, 80)
    for n, guarded in ((29, True), (30, False)):
        x = rng.normal(0.9, 1, n)
        free = bound_test(x, y, 0.0, n_resamples=499, seed=5, tail_guard=False)
        r = bound_test(x, y, 0.0, n_resamples=499, seed=5)
        if not guarded:
            assert (r.pvalue_above, r.pvalue_below, r.min_pvalue) == (free.pvalue_above, free.pvalue_below,
                                                                    free.min_pvalue)
            continue
        fa, fb = bounds.paired_sign_pvalues(x, y, 0.0, np.random.default_rng([5, bounds._PAIR_STREAM]))
        assert (r.pvalue_above, r.pvalue_below) == (max(free.pvalue_above, fa), max(free.pvalue_below, fb))
        assert r.min_pvalue == max(free.min_pvalue, 0.5**29)
        assert r.above_range == (max(free.above_range[0], fa), max(free.above_range[1], fa))
        assert r.below_range == (max(free.below_range[0], fb), max(free.below_range[1], fb))
        assert r.pvalue_above > free.pvalue_above  # the pairs bind here


def test_the_pairing_seed_numpy_ints_and_generators():
    rng = np.random.default_rng(8)
    x, y = rng.normal(1.5, 1, 12), rng.normal(0, 1, 40)
    a = bound_test(x, y, 0.0, n_resamples=299, seed=6)
    b = bound_test(x, y, 0.0, n_resamples=299, seed=np.int64(6))
    assert (a.pvalue_above, a.pvalue_below) == (b.pvalue_above, b.pvalue_below)
    # a Generator: the pairing continues the permutations' stream
    g = np.random.default_rng(9)
    r = bound_test(x, y, 0.0, n_resamples=299, seed=g)
    h = np.random.default_rng(9)
    direct = relative_effect_test(x, y, 0.0, n_resamples=299, seed=h)
    fa, fb = bounds.paired_sign_pvalues(x, y, 0.0, h)
    assert (r.pvalue_above, r.pvalue_below) == (max(direct.pvalue_above, fa), max(direct.pvalue_below, fb))
    with pytest.raises(ValueError, match="`seed`"):
        bound_test(x, y, 0.0, seed=True)
    # where the pairs bind and depend on the pairing, a Generator seed still gives one answer
    x, y = rng.normal(0.5, 1, 29), rng.normal(0, 1, 80)
    answers = {bound_test(x, y, 0.0, n_resamples=199, seed=np.random.default_rng(4)).pvalue_above for _ in range(3)}
    h = np.random.default_rng(4)
    direct = relative_effect_test(x, y, 0.0, n_resamples=199, seed=h)
    fa, _ = bounds.paired_sign_pvalues(x, y, 0.0, h)
    assert answers == {max(direct.pvalue_above, fa)} and fa > direct.pvalue_above


def test_bound_test_validation_names_each_argument():
    with pytest.raises(ValueError, match="`x` must hold at least 2"):
        bound_test([1.0], [0.0, 1.0], 0.0)
    with pytest.raises(ValueError, match="1-D"):
        bound_test([[1.0, 2.0], [2.0, 3.0]], [[0.0, 1.0], [1.0, 2.0]], 0.0)
    with pytest.raises(ValueError, match="`bound`"):
        bound_test([1.0, 2.0], [0.0, 1.0], float("inf"))
    with pytest.raises(ValueError, match="`n_resamples`"):
        bound_test([1.0, 2.0], [0.0, 1.0], 0.0, n_resamples=0)
    assert bound_test([1.0, 2.0], [0.0, 1.0], 0.0, n_resamples=1, seed=0).n_x == 2


def test_default_resamples_and_seed_are_passed_on():
    rng = np.random.default_rng(10)
    x, y = rng.normal(0.5, 1, 30), rng.normal(0, 1, 30)
    r = bound_test(x, y, 0.0, seed=1)
    assert r.resamples == 9999 and r.null_distribution.shape == (9999,)
    assert r.pvalue_above == relative_effect_test(x, y, 0.0, seed=1).pvalue_above


def test_one_sample_fields():
    d = np.array([-1.0, 0.2, 0.2, 0.5, 0.7, 0.9, 1.1, 1.4, 2.0, 3.0])
    r = bound_test_one_sample(d, 0.2)
    sign = bounds.median_sign_test(d, 0.2)
    # 7 above the bound, 1 below, 2 on it (half each way)
    assert r.theta == pytest.approx(0.8) and r.theta_se == pytest.approx(0.5 / math.sqrt(10))
    assert (r.bound, r.n_x, r.n_y, r.exact, r.min_pvalue) == (0.2, 10, 0, True, 0.5**10)
    assert r.ci == bounds.ConfidenceInterval(sign.ci[0], sign.ci[1], "order statistics")
    # n = 10 at 95%: P(Bin(10, 1/2) <= 1) = 11/1024 <= 0.025 < P(<= 2): the 2nd and 9th order statistics
    assert (r.ci.low, r.ci.high) == (0.2, 2.0)
    assert r.pvalue_above == pytest.approx(stats.binomtest(7, 10, alternative="greater").pvalue)
    assert r.pvalue_below == pytest.approx(stats.binomtest(1, 10, alternative="greater").pvalue)
    assert (r.resamples, r.above_range, r.below_range) == (0, None, None)
    with pytest.raises(ValueError, match="`d` must hold at least 2"):
        bound_test_one_sample([1.0], 0.0)
    with pytest.raises(ValueError, match="`bound`"):
        bound_test_one_sample([1.0, 2.0], float("nan"))
    with pytest.raises(ValueError, match="1-D"):
        bound_test_one_sample([[1.0, 2.0]], 0.0)
    assert bound_test_one_sample([1.0, 2.0], 0.0).n_x == 2


@pytest.mark.filterwarnings("ignore:Precision loss")  # scipy, on the constant group
def test_welch_part_equals_scipy_both_ways():
    rng = np.random.default_rng(11)
    x, y = rng.normal(0.3, 1, 9), rng.normal(0, 2, 14)
    above, below, se = bounds._welch_one_sided(x, y)
    assert above == pytest.approx(stats.ttest_ind(x, y, equal_var=False, alternative="greater").pvalue, rel=1e-10)
    assert below == pytest.approx(stats.ttest_ind(x, y, equal_var=False, alternative="less").pvalue, rel=1e-10)
    assert se == pytest.approx(math.sqrt(x.var(ddof=1) / 9 + y.var(ddof=1) / 14))
    # one constant group: Welch's degrees of freedom are the other group's n - 1
    for a, b in ((np.full(6, 0.5), y), (x, np.full(7, -0.25))):  # (exactly constant: no rounding in the mean)
        above, below, _ = bounds._welch_one_sided(a, b)
        assert above == pytest.approx(stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue)
        assert below == pytest.approx(stats.ttest_ind(a, b, equal_var=False, alternative="less").pvalue)


def test_welch_part_with_both_groups_constant_decides_by_the_sign():
    assert bounds._welch_one_sided(np.full(3, 2.0), np.full(4, 1.0)) == (0.0, 1.0, 0.0)
    assert bounds._welch_one_sided(np.full(3, 0.0), np.full(4, 1.0)) == (1.0, 0.0, 0.0)
    assert bounds._welch_one_sided(np.full(3, 1.0), np.full(4, 1.0)) == (1.0, 1.0, 0.0)


def _welch_t(a, b, axis=-1):
    va, vb = np.var(a, axis=axis, ddof=1) / a.shape[axis], np.var(b, axis=axis, ddof=1) / b.shape[axis]
    return (np.mean(a, axis=axis) - np.mean(b, axis=axis)) / np.sqrt(va + vb)


@pytest.mark.parametrize("shift", [0.9, -0.9])  # each side once where the permutation part decides
def test_mean_test_is_the_larger_of_permutation_and_welch(shift):
    rng = np.random.default_rng(12)
    x, y = rng.exponential(1, 5) + shift, rng.exponential(1, 6)
    r = mean_bound_test(x, y, 0.2, n_resamples=999, seed=0)
    assert r.exact and r.resamples == 0 and r.min_pvalue == pytest.approx(1 / math.comb(11, 5))
    for alternative, p in (("greater", r.pvalue_above), ("less", r.pvalue_below)):
        perm = stats.permutation_test((x - 0.2, y), _welch_t, permutation_type="independent", vectorized=True,
                                      n_resamples=10**6, alternative=alternative).pvalue
        welch = stats.ttest_ind(x - 0.2, y, equal_var=False, alternative=alternative).pvalue
        assert p == pytest.approx(max(perm, welch))
    diff = x.mean() - y.mean()
    assert (r.estimate, r.mean_difference, r.bound, r.n_x, r.n_y) == (pytest.approx(diff), pytest.approx(diff),
                                                                       0.2, 5, 6)
    assert r.ci == bounds.ConfidenceInterval(r.estimate, r.estimate, "none") and math.isnan(r.theta)
    assert r.statistic == pytest.approx(_welch_t(x - 0.2, y))
    assert r.theta_se == pytest.approx(math.sqrt(x.var(ddof=1) / 5 + y.var(ddof=1) / 6))
    assert r.null_distribution.shape == (math.comb(11, 5),)


def test_mean_test_by_monte_carlo():
    rng = np.random.default_rng(13)
    x, y = rng.normal(0.5, 1, 30), rng.normal(0, 1, 30)
    r = mean_bound_test(x, y, 0.0, n_resamples=499, seed=2)
    assert not r.exact and r.resamples == 499 and r.min_pvalue == pytest.approx(1 / 500)
    assert r.null_distribution.shape == (499,)
    e = int(np.sum(r.null_distribution <= r.statistic + 1e-9 * abs(r.statistic)))
    welch = stats.ttest_ind(x, y, equal_var=False, alternative="less").pvalue
    assert r.pvalue_below == pytest.approx(max((1 + e) / 500, welch))
    again = mean_bound_test(x, y, 0.0, n_resamples=499, seed=2)
    assert np.array_equal(again.null_distribution, r.null_distribution)  # the seed is the whole story
    assert mean_bound_test(x, y, 0.0, seed=3).resamples == 9999
    with pytest.raises(ValueError, match="`bound`"):
        mean_bound_test(x, y, float("nan"))
    with pytest.raises(ValueError, match="`x` must hold at least 2"):
        mean_bound_test([1.0], y, 0.0)
    with pytest.raises(ValueError, match="1-D"):
        mean_bound_test(np.ones((3, 2)), np.ones((3, 2)), 0.0)


def _result(theta, se, n_x=12, n_y=8, estimate=0.0, bound=0.0):
    return bounds.BoundTest(estimate=estimate, bound=bound, pvalue_above=0.5, pvalue_below=0.5,
                            ci=bounds.ConfidenceInterval(0, 0, "none"), exact=True, min_pvalue=0.0, n_x=n_x,
                            n_y=n_y, theta=theta, theta_se=se, mean_difference=0.0)


def test_documents_needed_known_answers():
    # theta 0.7, se 0.1, 20 documents, alpha 0.05, power 0.8: (2.4865 * 0.1 / 0.2)**2 * 20 = 30.9 -> 31
    assert documents_needed(_result(0.7, 0.1), 0.05) == 31
    assert documents_needed(_result(0.3, 0.1), 0.05) == 31  # the distance, either side
    # alpha 0.01, power 0.9: ((2.3263 + 1.2816) * 0.1 / 0.2)**2 * 20 = 65.1 -> 66
    assert documents_needed(_result(0.7, 0.1), 0.01, power=0.9) == 66
    assert documents_needed(_result(0.7, 0.0), 0.05) == 20  # no spread: the documents at hand
    # far from 1/2: (2.4865 * 0.05 / 0.45)**2 * 20 = 1.5 -> 2, fewer than the documents at hand
    assert documents_needed(_result(0.95, 0.05), 0.05) == 2
    assert documents_needed(_result(0.5, 0.1), 0.05) == math.inf
    # the mean-difference test (theta NaN): its own estimate and standard error, in activation units
    # (2.4865 * 0.5 / 1.0)**2 * 20 = 30.9 -> 31
    assert documents_needed(_result(math.nan, 0.5, estimate=1.2, bound=0.2), 0.05) == 31
    assert documents_needed(_result(math.nan, 0.5, estimate=0.2, bound=0.2), 0.05) == math.inf
    with pytest.raises(ValueError, match="`alpha`"):
        documents_needed(_result(0.7, 0.1), 1.5)
    with pytest.raises(ValueError, match="`power`"):
        documents_needed(_result(0.7, 0.1), 0.05, power=0.0)


def test_paired_sign_pvalues_when_x_is_the_larger_group_or_neither():
    x, y = np.arange(10.0) + 100, np.arange(4.0)
    # every pair has x - bound > y: the most extreme count, 4 of 4
    assert bounds.paired_sign_pvalues(x, y, 1.0, np.random.default_rng(0)) == (0.5**4, 1.0)
    assert bounds.paired_sign_pvalues(y, x, 1.0, np.random.default_rng(0)) == (1.0, 0.5**4)
    # equal groups: every document used once; the pairs are a permutation of x against y in order
    x, y = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([2.5, 2.5, 2.5, 2.5, 2.5])
    above, below = bounds.paired_sign_pvalues(x, y, 0.0, np.random.default_rng(1))
    # 3 above 2.5 and 2 below, whatever the order: P(Bin(5, 1/2) >= 3) and P(>= 2)
    assert (above, below) == (pytest.approx(0.5), pytest.approx(26 / 32))
    # a pair on the bound counts for neither side: 2 above, 2 below, 1 tie
    above, below = bounds.paired_sign_pvalues(np.array([1.0, 2.0, 2.5, 4.0, 5.0]), y, 0.0, np.random.default_rng(1))
    assert (above, below) == (pytest.approx(26 / 32), pytest.approx(26 / 32))
    # x larger, drawn at random: the 3 drawn of 7 are each 0 or 10 against y = 5
    xs = np.array([0.0, 10.0, 10.0, 10.0, 10.0, 0.0, 0.0])
    tails = {k: stats.binom.sf(k - 1, 3, 0.5) for k in range(4)}  # P(Bin(3, 1/2) >= k)
    seen = set()
    for s in range(40):
        p = bounds.paired_sign_pvalues(xs, np.full(3, 5.0), 0.0, np.random.default_rng(s))
        k = next(k for k in range(4) if p == pytest.approx((tails[k], tails[3 - k])))  # k above, 3 - k below
        seen.add(k)
    assert len(seen) >= 3  # which three are drawn varies with the stream
