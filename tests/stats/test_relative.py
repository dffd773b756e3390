"""The relative-effect test and the sign test, against scipy and direct computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from polytests.stats._rank_kernels import bm_parts, bm_statistics, relabelled_bm_t, ties_of
from polytests.stats.relative import (
    _satterthwaite_pvalues,
    hodges_lehmann,
    hodges_lehmann_ci,
    median_sign_test,
    relative_effect_test,
    separation_floor,
)


def _observed(x, y):
    z = np.concatenate([x, y])
    mask = np.zeros((1, len(z)), dtype=bool)
    mask[0, : len(x)] = True
    theta, se, t = bm_statistics(mask, ties_of(z), len(x), len(y))
    return float(theta[0]), float(se[0]), float(t[0])


@pytest.mark.parametrize("seed", range(4))
def test_statistic_equals_scipy_brunner_munzel_with_ties(seed):
    rng = np.random.default_rng(seed)
    x, y = np.round(rng.exponential(1, 9), 1), np.round(rng.exponential(1.3, 14), 1)
    theta, _, t = _observed(x, y)
    assert theta == pytest.approx(np.mean((x[:, None] > y) + 0.5 * (x[:, None] == y)))
    # scipy's statistic is oriented the other way (y stochastically larger: positive)
    assert t == pytest.approx(-stats.brunnermunzel(x, y).statistic)


def test_t_part_equals_scipy_brunner_munzel_pvalue():
    rng = np.random.default_rng(5)
    x, y = rng.exponential(2, 40), rng.exponential(1, 50)  # C(90, 40) far above the resamples
    r = relative_effect_test(x, y, 0.0, n_resamples=99, seed=0)
    # with few resamples the permutation p is coarse; the reported p is never below scipy's
    assert r.pvalue_above >= stats.brunnermunzel(x, y, alternative="greater").pvalue - 1e-12
    assert r.pvalue_below >= stats.brunnermunzel(x, y, alternative="less").pvalue - 1e-12


def test_exact_permutation_pvalue_equals_scipy_permutation_test():
    rng = np.random.default_rng(6)
    x, y = rng.normal(0, 1, 6), rng.normal(0.5, 2, 7)

    def statistic(a, b):
        return _observed(a, b)[2]

    ref = stats.permutation_test((x - 0.1, y), statistic, vectorized=False, n_resamples=10**6,
                                 alternative="greater", permutation_type="independent")
    ours = relative_effect_test(x, y, 0.1, n_resamples=9999, seed=1)
    assert ours.exact and ours.min_pvalue == pytest.approx(max(1 / math.comb(13, 6), separation_floor(6, 7)))
    # the reported p is the larger of the permutation p, the t approximation and the separation floor
    z = np.concatenate([x - 0.1, y])
    mask = np.zeros((1, 13), dtype=bool)
    mask[0, :6] = True
    theta, var_x, var_y = (float(v[0]) for v in bm_parts(mask, ties_of(z), 6, 7))
    approx = _satterthwaite_pvalues(theta, var_x, var_y, 6, 7)[0]
    assert ours.pvalue_above == pytest.approx(max(ref.pvalue, approx, separation_floor(6, 7)))


@pytest.mark.parametrize("n_x, n_y", [(12, 60), (40, 8), (30, 30)])
def test_compiled_and_numpy_statistics_are_bit_identical(n_x, n_y):
    rng = np.random.default_rng(n_x)
    z = np.round(rng.exponential(1, n_x + n_y), 1)
    ties = ties_of(z)
    members = np.array([rng.choice(n_x + n_y, min(n_x, n_y), replace=False) for _ in range(50)])
    draw_x = n_x <= n_y
    jit = relabelled_bm_t(members, draw_x, n_x + n_y, ties, n_x, n_y, jit=True)
    ref = relabelled_bm_t(members, draw_x, n_x + n_y, ties, n_x, n_y, jit=False)
    assert np.array_equal(jit, ref)


def test_same_seed_same_result_and_both_tails_from_one_null():
    rng = np.random.default_rng(7)
    x, y = rng.exponential(1, 12), rng.exponential(1, 60)
    a = relative_effect_test(x, y, 0.2, n_resamples=999, seed=11)
    b = relative_effect_test(x, y, 0.2, n_resamples=999, seed=11)
    assert (a.pvalue_above, a.pvalue_below) == (b.pvalue_above, b.pvalue_below)
    null = a.null_distribution
    assert a.pvalue_above >= (1 + np.sum(null >= a.statistic - 1e-9)) / 1000 - 1e-12


def test_sign_test_and_median_interval_against_scipy():
    rng = np.random.default_rng(8)
    d = rng.standard_t(2, 25)
    r = median_sign_test(d, 0.2)
    k = int((d > 0.2).sum())
    assert r.pvalue_above == pytest.approx(stats.binomtest(k, 25, alternative="greater").pvalue)
    ordered = np.sort(d)
    # order-statistic interval: coverage of [d_(k), d_(n+1-k)] is at least 95%
    j = ordered.searchsorted(r.ci[0])
    assert 1 - 2 * stats.binom.cdf(j - 1, 25, 0.5) >= 0.95


def test_hodges_lehmann_is_the_median_of_pairwise_differences():
    x, y = np.array([1.0, 3.0, 7.0]), np.array([0.0, 2.0])
    assert hodges_lehmann(x, y) == np.median([1, -1, 3, 1, 7, 5])
    low, high = hodges_lehmann_ci(x, y, n_resamples=199, seed=0)
    assert low <= hodges_lehmann(x, y) <= high


@pytest.mark.parametrize("n_x, n_y", [(3, 4), (8, 8), (12, 60), (4, 2)])
def test_separation_floor_bounds_every_two_level_step(n_x, n_y):
    # P(all x above all y) at theta = 1/2 is E[g(U)^n_x], U ~ Beta(n_y, 1), g non-increasing with
    # integral 1/2; over two-level steps (1 on [0, a), c on [a, b), 0 after) it never exceeds the floor.
    from polytests.stats.relative import separation_floor

    best = 0.0
    for a in np.linspace(0, 0.5, 101):
        for b in np.linspace(a + 1e-9, 1, 101):
            c = (0.5 - a) / (b - a)
            if 0 <= c <= 1:
                best = max(best, a**n_y + c**n_x * (b**n_y - a**n_y))
    assert best <= separation_floor(n_x, n_y) * (1 + 1e-9)
    assert best >= separation_floor(n_x, n_y) * (1 - 1e-9)  # and it is reached


def test_a_separated_sample_is_never_below_the_separation_floor():
    r = relative_effect_test(np.full(4, 1.0) + np.arange(4) * 1e-3, np.zeros(4), 0.0, n_resamples=999, seed=0)
    assert r.theta == 1.0 and r.pvalue_above >= 1 / 16 and r.min_pvalue == 1 / 16
