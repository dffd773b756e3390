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


# --- tests that pin each part of the verdict against an independent computation (#28) ---


def _parts(x, y):
    z = np.concatenate([x, y])
    mask = np.zeros((1, len(z)), dtype=bool)
    mask[0, : len(x)] = True
    return tuple(float(v[0]) for v in bm_parts(mask, ties_of(z), len(x), len(y)))


@pytest.mark.parametrize("n_x, n_y, seed", [(9, 14, 3), (15, 6, 8)])
def test_t_approximation_equals_scipy_brunner_munzel_both_tails(n_x, n_y, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0.3, 1, n_x), rng.normal(0, 2, n_y)
    above, below = _satterthwaite_pvalues(*_parts(x, y), n_x, n_y)
    assert above == pytest.approx(stats.brunnermunzel(x, y, alternative="greater").pvalue, rel=1e-10)
    assert below == pytest.approx(stats.brunnermunzel(x, y, alternative="less").pvalue, rel=1e-10)


@pytest.mark.parametrize("swap", [False, True])  # each tail once where the permutation part decides
def test_exact_test_reports_every_field_against_scipy(swap):
    rng = np.random.default_rng(12)
    x, y = rng.normal(0.4, 1, 6), rng.normal(0, 1.5, 7)
    bound = 0.1
    if swap:
        x, y, bound = y, x, -bound

    def statistic(a, b):
        return _observed(a, b)[2]

    r = relative_effect_test(x, y, bound, n_resamples=9999, seed=0)
    theta, se, t = _observed(x - bound, y)
    n_x, n_y = len(x), len(y)
    assert (r.n_x, r.n_y, r.exact) == (n_x, n_y, True)
    assert r.theta == pytest.approx(np.mean((x[:, None] - bound > y) + 0.5 * (x[:, None] - bound == y)))
    assert (r.se, r.statistic) == (pytest.approx(se), pytest.approx(t))
    assert r.null_distribution.shape == (math.comb(13, 6),)
    floor = separation_floor(n_x, n_y)
    assert r.min_pvalue == floor  # 1 / C(13, 6) is always smaller than the separation floor
    for alternative, p, span in (("greater", r.pvalue_above, r.above_range), ("less", r.pvalue_below, r.below_range)):
        ref = stats.permutation_test((x - bound, y), statistic, vectorized=False, n_resamples=10**6,
                                     alternative=alternative, permutation_type="independent").pvalue
        approx = stats.brunnermunzel(x - bound, y, alternative=alternative).pvalue
        assert p == pytest.approx(max(ref, approx, floor))
        assert span == (p, p)  # exact: no Monte Carlo range


def test_an_exact_p_is_never_below_one_over_the_arrangements():
    # 2 + 3 documents: C(5, 2) = 10 arrangements, separation floor 1/4; complete separation below
    r = relative_effect_test([0.0, 0.1], [1.0, 2.0, 3.0], 0.0, n_resamples=999, seed=0)
    assert r.exact and r.theta == 0.0
    assert r.min_pvalue == 0.25 and r.pvalue_below >= 0.25
    assert r.pvalue_above == pytest.approx(1.0)


@pytest.mark.parametrize("n_x, n_y", [(7, 11), (11, 7)])  # both draw the smaller group
def test_random_relabellings_agree_with_the_exact_null(n_x, n_y):
    rng = np.random.default_rng(n_x)
    x, y = np.round(rng.exponential(1.6, n_x), 1), np.round(rng.exponential(1, n_y), 1)
    exact = relative_effect_test(x, y, 0.0, n_resamples=math.comb(n_x + n_y, n_x), seed=0)
    mc = relative_effect_test(x, y, 0.0, n_resamples=3000, seed=1)
    assert exact.exact and not mc.exact
    assert mc.null_distribution.shape == (3000,)
    assert mc.min_pvalue == pytest.approx(max(1 / 3001, separation_floor(n_x, n_y)))
    assert (mc.theta, mc.statistic) == (exact.theta, exact.statistic)
    # the random null is a sample of the exact one: its quantiles and p-values agree within noise
    assert np.quantile(mc.null_distribution, [0.1, 0.5, 0.9]) == pytest.approx(
        np.quantile(exact.null_distribution, [0.1, 0.5, 0.9]), abs=0.25)
    for p_mc, p_exact, span in ((mc.pvalue_above, exact.pvalue_above, mc.above_range),
                                (mc.pvalue_below, exact.pvalue_below, mc.below_range)):
        assert p_mc == pytest.approx(p_exact, abs=0.03)
        assert span[0] <= p_mc <= span[1] and span[0] <= p_exact <= span[1]
        assert 0 < span[1] - span[0] < 0.06


def _mc_range(e, b, approx):
    # Clopper-Pearson at 99.9% around e / B, its top at least the +1 estimate, never below the t part
    ci = stats.binomtest(e, b).proportion_ci(0.999, method="exact")
    return max(ci.low, approx), max(ci.high, (1 + e) / (b + 1), approx)


@pytest.mark.parametrize("shift", [0.2, 3.0])  # 3.0: no relabelling reaches the observed split
def test_monte_carlo_p_counts_the_null_with_plus_one(shift):
    rng = np.random.default_rng(21)
    x, y = rng.normal(shift, 1, 30), rng.normal(0, 1, 30)
    r = relative_effect_test(x, y, 0.0, n_resamples=500, seed=2)
    null = r.null_distribution
    assert null.shape == (500,) and not r.exact and r.min_pvalue == pytest.approx(1 / 501)
    e_above = int(np.sum(null >= r.statistic - 1e-9 * abs(r.statistic)))
    e_below = int(np.sum(null <= r.statistic + 1e-9 * abs(r.statistic)))
    approx_above = max(stats.brunnermunzel(x, y, alternative="greater").pvalue, 1 / 501)
    approx_below = max(stats.brunnermunzel(x, y, alternative="less").pvalue, 1 / 501)
    assert r.pvalue_above == pytest.approx(max((1 + e_above) / 501, approx_above))
    assert r.pvalue_below == pytest.approx(max((1 + e_below) / 501, approx_below))
    assert r.above_range == pytest.approx(_mc_range(e_above, 500, approx_above), rel=1e-6)
    assert r.below_range == pytest.approx(_mc_range(e_below, 500, approx_below), rel=1e-6)
    if shift == 3.0:
        assert e_above == 0 and r.pvalue_above == pytest.approx(1 / 501)


def test_a_large_sample_runs_in_several_chunks_with_the_right_count():
    rng = np.random.default_rng(22)
    x, y = rng.normal(0, 1, 400), rng.normal(0, 1, 300)  # 2e6 // 700 = 2857 relabellings per chunk
    r = relative_effect_test(x, y, 0.0, n_resamples=6000, seed=3)
    assert r.null_distribution.shape == (6000,)
    # under the null of one distribution the studentized statistic is about standard normal
    assert np.mean(r.null_distribution) == pytest.approx(0, abs=0.1)
    assert np.std(r.null_distribution) == pytest.approx(1, abs=0.1)


def test_bound_shifts_x_before_ranking():
    x, y = np.arange(10.0), np.arange(10.0)
    r = relative_effect_test(x, y, 5.0, n_resamples=99, seed=0)
    assert r.theta == pytest.approx(np.mean((x[:, None] - 5 > y) + 0.5 * (x[:, None] - 5 == y)))
    assert r.pvalue_below < 0.05 < r.pvalue_above


def test_relative_effect_test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        relative_effect_test([1.0], [1.0, 2.0], 0.0)
    with pytest.raises(ValueError):
        relative_effect_test([1.0, 2.0], [1.0, 2.0], float("nan"))
    with pytest.raises(ValueError):
        relative_effect_test([1.0, 2.0], [1.0, 2.0], 0.0, n_resamples=0)


def _brute_force_median_ci(d, confidence):
    # the widest-k order-statistic interval [d_(k), d_(n+1-k)] with P(Bin(n, 1/2) <= k - 1) <= (1 - c) / 2
    n, tail, k = len(d), (1 - confidence) / 2, 0
    while k + 1 <= n // 2 and sum(math.comb(n, i) for i in range(k + 1)) / 2**n <= tail:
        k += 1
    ordered = sorted(d)
    return (ordered[0], ordered[-1]) if k == 0 else (ordered[k - 1], ordered[n - k])


@pytest.mark.parametrize("n", [1, 5, 6, 8, 9, 17, 25, 40])
@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_median_interval_is_the_order_statistic_interval(n, confidence):
    d = np.random.default_rng(n).standard_t(3, n)
    r = median_sign_test(d, 0.0, confidence=confidence)
    assert r.ci == pytest.approx(_brute_force_median_ci(d, confidence))


def test_median_interval_known_table_value():
    # n = 25 at 95%: the classic table gives the 8th and 18th order statistics
    d = np.arange(1.0, 26.0)
    assert median_sign_test(d, 0.0).ci == (8.0, 18.0)


def test_sign_test_both_tails_shares_and_ties_with_the_bound():
    d = np.array([-2.0, -1.0, 0.5, 0.5, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    r = median_sign_test(d, 0.5)
    # 6 above, 2 below, 3 equal to the bound (which count for neither side)
    assert (r.share_above, r.share_below, r.n) == (6 / 11, 2 / 11, 11)
    assert r.pvalue_above == pytest.approx(stats.binomtest(6, 11, alternative="greater").pvalue)
    assert r.pvalue_below == pytest.approx(stats.binomtest(2, 11, alternative="greater").pvalue)
    assert r.median == 1.0 and r.min_pvalue == 0.5**11
    none_above = median_sign_test(d, 10.0)
    assert none_above.pvalue_above == 1.0 and none_above.share_above == 0.0
    assert none_above.pvalue_below == pytest.approx(0.5**11)


def test_sign_test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        median_sign_test([], 0.0)
    with pytest.raises(ValueError):
        median_sign_test([1.0, 2.0], float("inf"))


def test_hodges_lehmann_ci_approximates_scipy_percentile_bootstrap():
    rng = np.random.default_rng(23)
    x, y = rng.exponential(2, 60), rng.exponential(1, 50)  # 2e6 // 3000 = 666 resamples per chunk

    def hl(a, b, axis=-1):
        return np.median(a[..., :, None] - b[..., None, :], axis=(-2, -1))

    for confidence in (0.95, 0.5):
        ours = hodges_lehmann_ci(x, y, n_resamples=2000, confidence=confidence, seed=0)
        ref = stats.bootstrap((x, y), hl, n_resamples=2000, confidence_level=confidence, method="percentile",
                              vectorized=True, rng=np.random.default_rng(1)).confidence_interval
        width = ref.high - ref.low
        assert ours[0] == pytest.approx(ref.low, abs=0.15 * width)
        assert ours[1] == pytest.approx(ref.high, abs=0.15 * width)
    assert hodges_lehmann_ci(x, y, n_resamples=300, seed=4) == hodges_lehmann_ci(x, y, n_resamples=300, seed=4)


def test_hodges_lehmann_one_document_each():
    assert hodges_lehmann([3.0], [1.0]) == 2.0
    assert hodges_lehmann_ci([3.0], [1.0], n_resamples=5, seed=0) == (2.0, 2.0)


def test_vectorised_shift_p_equals_scipy_brunner_munzel_per_column():
    from polytests.stats.relative import MIN_DOCUMENTS, shift_pvalues_above

    rng = np.random.default_rng(5)
    x = rng.lognormal(0, 1, (14, 5)) * (rng.random((14, 5)) < 0.6)
    y = rng.lognormal(-0.5, 1.5, (12, 5)) * (rng.random((12, 5)) < 0.4)
    bound = np.array([0.0, 0.1, 0.2, 0.3, 0.5])
    got = shift_pvalues_above(x, y, bound)
    for k in range(5):
        want = stats.brunnermunzel(x[:, k] - bound[k], y[:, k], alternative="greater").pvalue
        assert got[k] == pytest.approx(max(want, separation_floor(14, 12)), rel=1e-9)
        # the same as the claims' t part (mid-rank placements there come from another kernel)
        assert got[k] == pytest.approx(max(_satterthwaite_pvalues(*_parts(x[:, k] - bound[k], y[:, k]), 14, 12)[0],
                                           separation_floor(14, 12)), rel=1e-9)
    assert MIN_DOCUMENTS == 10
    assert np.all(shift_pvalues_above(x[:9], y, bound) == 1.0)
    assert np.all(shift_pvalues_above(x, y[:9], bound) == 1.0)
    assert np.all(shift_pvalues_above(x[:10], y[:10], bound) < 1.0)


def test_vectorised_shift_p_floors_degenerate_groups_like_the_claims_test():
    from polytests.stats.relative import shift_pvalues_above

    rng = np.random.default_rng(6)
    # column 0: every x above every y (separated: the floor 2**-10); column 1: x all zero, y mixed;
    # column 2: the mirror image (y all zero, x mixed)
    mixed_x = np.where(rng.random(12) < 0.5, 0.0, rng.random(12) - 0.1)
    mixed_y = np.where(rng.random(10) < 0.5, 0.0, rng.random(10) - 0.5)
    x = np.column_stack([10 + rng.random(12), np.zeros(12), mixed_x])
    y = np.column_stack([rng.random(10), mixed_y, np.zeros(10)])
    got = shift_pvalues_above(x, y, np.zeros(3))
    assert got[0] == separation_floor(12, 10) == 2.0**-10
    for k in (1, 2):
        want = _satterthwaite_pvalues(*_parts(x[:, k], y[:, k]), 12, 10)[0]
        assert got[k] == pytest.approx(max(want, separation_floor(12, 10)), rel=1e-9)
        # the floor on one group's placement variance bites here: scipy's unfloored p differs
        assert got[k] != pytest.approx(stats.brunnermunzel(x[:, k], y[:, k], alternative="greater").pvalue,
                                       rel=1e-6)


def test_enumeration_starts_exactly_when_the_arrangements_fit_the_resamples():
    rng = np.random.default_rng(24)
    x, y = rng.normal(0, 1, 5), rng.normal(0, 1, 6)  # C(11, 5) = 462 arrangements
    assert relative_effect_test(x, y, 0.0, n_resamples=461, seed=0).exact
    below = relative_effect_test(x, y, 0.0, n_resamples=460, seed=0)
    assert not below.exact and below.null_distribution.shape == (460,)
    assert relative_effect_test(x, y, 0.0, n_resamples=1, seed=0).null_distribution.shape == (1,)


def test_default_resamples_are_9999():
    rng = np.random.default_rng(25)
    r = relative_effect_test(rng.normal(0, 1, 30), rng.normal(0, 1, 30), 0.0, seed=0)
    assert r.null_distribution.shape == (9999,) and r.min_pvalue == pytest.approx(1 / 10000)


def test_arguments_are_validated_with_the_argument_named():
    with pytest.raises(ValueError, match="`bound`"):
        relative_effect_test([1.0, 2.0], [1.0, 2.0], float("nan"))
    with pytest.raises(ValueError, match="`n_resamples`"):
        relative_effect_test([1.0, 2.0], [1.0, 2.0], 0.0, n_resamples=0)
    with pytest.raises(ValueError, match="1-D"):
        relative_effect_test([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]], 0.0)
    with pytest.raises(ValueError, match="1-D"):
        hodges_lehmann([[1.0, 2.0]], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="1-D"):
        hodges_lehmann_ci([[1.0, 2.0]], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="`n_resamples`"):
        hodges_lehmann_ci([1.0], [2.0], n_resamples=0)
    with pytest.raises(ValueError, match="`bound`"):
        median_sign_test([1.0, 2.0], float("nan"))
    with pytest.raises(ValueError, match="1-D"):
        median_sign_test([[1.0, 2.0]], 0.0)
    with pytest.raises(ValueError, match="`d` must hold at least 1"):
        median_sign_test([], 0.0)
    x, y = np.arange(5.0), np.arange(4.0) * 1.5
    assert hodges_lehmann_ci(x, y, seed=3) == hodges_lehmann_ci(x, y, n_resamples=999, confidence=0.95, seed=3)
    assert hodges_lehmann_ci([3.0, 4.0], [1.0], n_resamples=1, seed=0)[0] in (2.0, 2.5, 3.0)


def test_vectorised_shift_p_computes_in_float64_whatever_the_input_dtype():
    # float32 activations minus a small bound: in float32, 1 + 2**-23 - 2**-24 rounds to 1.0 (a tie with
    # the baseline's 1.0); in float64 it stays above it
    from polytests.stats.relative import shift_pvalues_above

    rng = np.random.default_rng(26)
    x = rng.normal(0, 1, (12, 1)).astype(np.float32)
    y = rng.normal(0, 1, (11, 1)).astype(np.float32)
    x[:6, 0] = np.float32(1 + 2**-23)
    y[:6, 0] = np.float32(1.0)
    bound = np.array([2**-24], dtype=np.float32)
    want = stats.brunnermunzel(x[:, 0].astype(np.float64) - 2**-24, y[:, 0].astype(np.float64),
                               alternative="greater").pvalue
    assert shift_pvalues_above(x, y, bound)[0] == pytest.approx(max(want, separation_floor(12, 11)), rel=1e-9)
