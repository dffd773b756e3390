"""Tests against a smallest effect of interest: checked against scipy and on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from polytests.stats import permutation_test
from polytests.stats.bounds import bound_test, bound_test_one_sample, documents_needed
from polytests.stats.calibration import acceptance_band


def test_each_side_is_at_least_welch_and_at_least_the_permutation_test():
    rng = np.random.default_rng(0)
    x, y = rng.normal(0.6, 1.0, 15), rng.normal(0.0, 2.0, 40)
    r = bound_test(x, y, 0.25, n_resamples=1999, seed=3, ci_resamples=99)
    welch_above = stats.ttest_ind(x - 0.25, y, equal_var=False, alternative="greater").pvalue
    welch_below = stats.ttest_ind(x - 0.25, y, equal_var=False, alternative="less").pvalue
    perm = permutation_test(x - 0.25, y, alternative="greater", n_resamples=1999,
                            seed=int(np.random.default_rng(3).integers(2**63)))
    assert r.pvalue_above == pytest.approx(max(welch_above, perm.pvalue))
    assert r.pvalue_below >= welch_below - 1e-12
    assert r.estimate == pytest.approx(x.mean() - y.mean())
    assert r.ci.low < r.estimate < r.ci.high


def test_the_two_sides_answer_opposite_questions():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1, 50)
    far_above = bound_test(y[:25] + 3.0, y[25:], 1.0, n_resamples=999, seed=0, ci_resamples=99)
    far_below = bound_test(y[:25] - 3.0, y[25:], 1.0, n_resamples=999, seed=0, ci_resamples=99)
    assert far_above.pvalue_above <= 0.002 and far_above.pvalue_below > 0.99
    assert far_below.pvalue_below <= 0.002 and far_below.pvalue_above > 0.99


def test_one_sample_form_matches_the_one_sample_t_and_sign_flips():
    rng = np.random.default_rng(2)
    d = rng.normal(0.3, 1.0, 30)
    r = bound_test_one_sample(d, 0.1, n_resamples=1999, seed=0, ci_resamples=99)
    t_above = stats.ttest_1samp(d, 0.1, alternative="greater").pvalue
    t_below = stats.ttest_1samp(d, 0.1, alternative="less").pvalue
    assert r.pvalue_above >= t_above - 1e-12 and r.pvalue_below >= t_below - 1e-12
    assert r.pvalue_above == pytest.approx(t_above, abs=0.03)  # the sign-flip p is close here
    assert r.n_y == 0 and r.estimate == pytest.approx(d.mean())


def test_documents_needed_follows_the_normal_approximation():
    rng = np.random.default_rng(4)
    x, y = rng.normal(0.2, 1.0, 10), rng.normal(0.0, 1.0, 10)
    r = bound_test(x, y, 0.0, n_resamples=199, seed=0, ci_resamples=9)
    z = stats.norm.ppf(0.95) + stats.norm.ppf(0.8)
    expected = math.ceil((z * r.se / abs(r.estimate)) ** 2 * 20)
    assert documents_needed(r, 0.05) == expected
    on_the_bound = bound_test(x, y, r.estimate, n_resamples=199, seed=0, ci_resamples=9)
    assert documents_needed(on_the_bound, 0.05) == math.inf


def test_constant_groups_decide_by_the_sign_of_the_difference():
    r = bound_test(np.full(5, 2.0), np.full(7, 1.0), 0.5, n_resamples=99, seed=0, ci_resamples=9)
    assert r.ci.method == "degenerate" and r.pvalue_below == 1.0


def test_level_holds_where_the_permutation_test_alone_is_liberal():
    # The audit's case: 12 documents of SD 3 against 60 of SD 1, equal means. The studentized
    # permutation test alone rejected about 8% at alpha 0.05; the larger of it and Welch holds 5%.
    rng = np.random.default_rng(7)
    n, alpha = 800, 0.05
    perm_alone = combined = 0
    for i in range(n):
        x, y = rng.normal(0, 3, 12), rng.normal(0, 1, 60)
        perm_alone += permutation_test(x, y, alternative="greater", n_resamples=199, seed=i).pvalue <= alpha
        combined += bound_test(x, y, 0.0, n_resamples=199, seed=i, ci_resamples=9).pvalue_above <= alpha
    high = acceptance_band(n, alpha)[1]
    assert combined / n <= high
    assert perm_alone / n > combined / n  # the combination is what fixed it


def test_level_at_the_bound_on_skewed_sparse_data():
    # Sparse non-negative values (like SoLU document means), true effect exactly the bound:
    # neither side may reject more than alpha.
    rng = np.random.default_rng(8)
    n, alpha, bound = 600, 0.05, 0.05
    above = below = 0
    for i in range(n):
        x = np.maximum(rng.normal(-1, 1, 15), 0) + bound
        y = np.maximum(rng.normal(-1, 1, 40), 0)
        r = bound_test(x, y, bound, n_resamples=199, seed=i, ci_resamples=9)
        above += r.pvalue_above <= alpha
        below += r.pvalue_below <= alpha
    high = acceptance_band(n, alpha)[1]
    assert above / n <= high and below / n <= high


def test_inputs_are_validated_with_the_argument_named():
    with pytest.raises(ValueError, match="bound"):
        bound_test([1.0, 2.0], [0.0, 1.0], float("nan"))
    with pytest.raises(ValueError, match="n_resamples"):
        bound_test([1.0, 2.0], [0.0, 1.0], 0.0, n_resamples=0)


@pytest.mark.parametrize("n_x, n_y, n_resamples", [(4, 5, 999), (12, 60, 999), (30, 40, 4999)])
def test_the_lower_tail_read_from_one_null_equals_a_second_draw(n_x, n_y, n_resamples):
    from polytests.stats.bounds import _other_tail
    from polytests.stats.permutation import permutation_test, sign_flip_test

    rng = np.random.default_rng(n_x)
    x, y = rng.normal(0.3, 1, n_x), rng.normal(0, 2, n_y)
    above = permutation_test(x, y, alternative="greater", n_resamples=n_resamples, seed=7)
    below = permutation_test(x, y, alternative="less", n_resamples=n_resamples, seed=7)
    assert _other_tail(above).pvalue == below.pvalue and _other_tail(above).alternative == "less"
    up = sign_flip_test(x, alternative="greater", n_resamples=n_resamples, seed=7)
    down = sign_flip_test(x, alternative="less", n_resamples=n_resamples, seed=7)
    assert _other_tail(up).pvalue == down.pvalue
