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
