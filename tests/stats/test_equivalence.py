"""Tests of polytests.stats.equivalence (TOST)."""

from __future__ import annotations

import numpy as np
import pytest

from polytests.stats import (
    EquivalenceResult,
    equivalence_test,
    equivalence_test_one_sample,
    permutation_test,
    sign_flip_test,
)


def _groups(shift: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(shift, 1.0, 30), rng.normal(0.0, 1.0, 60)


def test_equal_groups_with_wide_margin_are_equivalent():
    x, y = _groups(0.0)
    res = equivalence_test(x, y, margin=1.5, n_resamples=999, seed=1)
    assert isinstance(res, EquivalenceResult)
    assert res.pvalue <= 0.01
    assert res.pvalue == max(res.pvalue_lower, res.pvalue_upper)
    assert res.difference == pytest.approx(np.mean(x) - np.mean(y))
    assert res.margin == 1.5 and res.exact is False


def test_shifted_groups_are_not_equivalent():
    x, y = _groups(3.0)
    res = equivalence_test(x, y, margin=0.5, n_resamples=999, seed=1)
    assert res.pvalue > 0.5
    assert res.pvalue_upper > 0.5  # the difference clearly exceeds +margin
    assert res.pvalue_lower <= 0.01  # ... and clearly exceeds -margin


def test_tight_margin_is_not_equivalent_with_few_documents():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, 6), rng.normal(0, 1, 6)
    assert equivalence_test(x, y, margin=0.05, n_resamples=999, seed=0).pvalue > 0.05


def test_one_sided_parts_are_shifted_permutation_tests():
    x, y = _groups(0.2, seed=4)
    res = equivalence_test(x, y, margin=0.8, n_resamples=499, seed=7)
    rng = np.random.default_rng(7)
    upper = permutation_test(x - 0.8, y, alternative="less", n_resamples=499, seed=rng)
    lower = permutation_test(x + 0.8, y, alternative="greater", n_resamples=499, seed=rng)
    assert res.pvalue_upper == upper.pvalue
    assert res.pvalue_lower == lower.pvalue


def test_equivalence_is_deterministic_and_vectorised():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(25, 3))
    a = equivalence_test(x, y, margin=1.0, n_resamples=499, seed=2)
    b = equivalence_test(x, y, margin=1.0, n_resamples=499, seed=2)
    assert np.array_equal(a.pvalue, b.pvalue)
    assert a.pvalue.shape == (3,)
    col = equivalence_test(x[:, 1], y[:, 1], margin=1.0, n_resamples=499, seed=2)
    assert col.pvalue == a.pvalue[1]


def test_one_sample_equivalence():
    rng = np.random.default_rng(6)
    near_zero = rng.normal(0.0, 0.2, 40)
    far = rng.normal(2.0, 0.2, 40)
    close = equivalence_test_one_sample(near_zero, margin=0.5, n_resamples=999, seed=0)
    assert close.pvalue <= 0.01
    assert close.difference == pytest.approx(np.mean(near_zero))
    assert equivalence_test_one_sample(far, margin=0.5, n_resamples=999, seed=0).pvalue > 0.5
    rng2 = np.random.default_rng(0)
    upper = sign_flip_test(near_zero - 0.5, alternative="less", n_resamples=999, seed=rng2)
    assert close.pvalue_upper == upper.pvalue


def test_one_sample_exact_for_few_documents():
    res = equivalence_test_one_sample([0.1, -0.05, 0.02, 0.0, -0.1, 0.08], margin=1.0)
    assert res.exact is True
    assert res.pvalue == pytest.approx(1 / 64)  # all-positive flips are the only extreme ones


@pytest.mark.parametrize("margin", [0.0, -1.0, float("nan"), float("inf"), "1"])
def test_margin_must_be_positive_and_finite(margin):
    with pytest.raises(ValueError, match="`margin`"):
        equivalence_test([1.0, 2.0, 3.0], [1.0, 2.0], margin=margin)
    with pytest.raises(ValueError, match="`margin`"):
        equivalence_test_one_sample([1.0, 2.0, 3.0], margin=margin)


def test_one_sample_parts_are_both_sign_flip_tests_on_one_stream():
    # Both one-sided parts, and the stream they share (the lower part reads where the upper left
    # it); the margin keeps both p-values off their floor, so the random draws show.
    d = np.random.default_rng(8).normal(0.1, 0.3, 25)
    res = equivalence_test_one_sample(d, margin=0.03, n_resamples=499, seed=3)
    rng = np.random.default_rng(3)
    upper = sign_flip_test(d - 0.03, alternative="less", n_resamples=499, seed=rng)
    lower = sign_flip_test(d + 0.03, alternative="greater", n_resamples=499, seed=rng)
    assert 2 / 500 < lower.pvalue < 0.5 and upper.pvalue > 0.5
    assert (res.pvalue_upper, res.pvalue_lower) == (upper.pvalue, lower.pvalue)
    assert res.pvalue == max(upper.pvalue, lower.pvalue) and res.margin == 0.03 and res.exact is False
    again = equivalence_test_one_sample(d, margin=0.03, n_resamples=499, seed=3)
    assert (again.pvalue_lower, again.pvalue_upper) == (res.pvalue_lower, res.pvalue_upper)


@pytest.mark.parametrize("one_sample", [False, True])
def test_one_column_gives_plain_floats_and_columns_give_each_columns_result(one_sample):
    rng = np.random.default_rng(9)
    x, y = rng.normal(0.1, 1.0, (18, 3)), rng.normal(0.0, 1.0, (22, 3))
    run = ((lambda a, seed: equivalence_test_one_sample(a, margin=0.7, n_resamples=299, seed=seed)) if one_sample
           else (lambda a, seed: equivalence_test(a, y if a.ndim == 2 else y[:, col], margin=0.7, n_resamples=299,
                                                  seed=seed)))
    for col in range(3):
        single = run(x[:, col], 11)
        for name in ("pvalue", "pvalue_lower", "pvalue_upper", "difference"):
            assert type(getattr(single, name)) is float, name
    both = run(x, 11)
    assert both.pvalue.shape == both.difference.shape == (3,)
    expected = x.mean(0) if one_sample else x.mean(0) - y.mean(0)
    np.testing.assert_allclose(both.difference, expected, rtol=1e-12)


@pytest.mark.parametrize("call", [
    lambda: equivalence_test([1.0, 2.0, 3.0], [1.0, 2.0], margin=1.0, n_resamples=0),
    lambda: equivalence_test_one_sample([1.0, 2.0, 3.0], margin=1.0, n_resamples=0),
])
def test_a_bad_resample_count_is_named(call):
    with pytest.raises(ValueError, match="`n_resamples`"):
        call()


def test_the_smallest_accepted_inputs():
    # one resample and two documents are allowed (the p-value floor says what they can show)
    assert equivalence_test([1.0, 2.0, 3.0], [1.5, 2.5], margin=5.0, n_resamples=1, seed=0).pvalue <= 1
    assert equivalence_test_one_sample([0.1, -0.1], margin=5.0, n_resamples=1, seed=0).pvalue <= 1
    assert equivalence_test_one_sample([0.1, -0.1], margin=5.0).exact
    with pytest.raises(ValueError, match="`d`"):
        equivalence_test_one_sample([0.1], margin=1.0)
