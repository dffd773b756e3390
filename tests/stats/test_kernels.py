"""The resampling loops (polytests.stats._kernels): compiled and NumPy versions agree bit for
bit, the random subsets and signs are what the module says they are, and the public tests
give the same numbers whichever loops run."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from polytests.stats import _kernels as K
from polytests.stats.permutation import permutation_test, sign_flip_test

needs_numba = pytest.mark.skipif(K._numba_spec is None, reason="numba is not installed")


def _data(seed: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    data = np.random.default_rng(seed).gamma(2.0, 0.01, size=(k, n)) - 0.02
    return data, data * data


@needs_numba
@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 700), frac=st.floats(0.01, 1.0), k=st.integers(1, 3), size=st.integers(1, 9),
       seed=st.integers(0, 2**32 - 1))
def test_compiled_subset_sums_equal_numpy_bit_for_bit(n, frac, k, size, seed):
    m = max(1, min(n, round(frac * n)))
    data, squares = _data(seed, k, n)
    words = K.random_words(np.random.default_rng(seed), (size, K.words_per_subset(n, m)))
    compiled = K.subset_sums(data, squares, words, n, m, jit=True)
    reference = K.subset_sums(data, squares, words, n, m, jit=False)
    for a, b in zip(compiled, reference, strict=True):
        assert a.shape == (k, size)
        np.testing.assert_array_equal(a, b)


def test_subset_sums_are_the_sums_over_the_drawn_subset():
    n, m = 50, 7
    data, squares = _data(3, 2, n)
    words = K.random_words(np.random.default_rng(4), (20, K.words_per_subset(n, m)))
    idx = K.subset_indices_numpy(words, n, m)
    assert all(len(set(idx[:, r])) == m for r in range(idx.shape[1]))  # m distinct documents each
    s1, s2 = K.subset_sums(data, squares, words, n, m)
    np.testing.assert_allclose(s1, data[:, idx].sum(axis=1), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(s2, squares[:, idx].sum(axis=1), rtol=1e-13, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 5000), m=st.integers(1, 60), word=st.integers(0, 2**64 - 1))
def test_a_word_gives_its_group_the_mixed_radix_digits_of_floor_w_times_s(n, m, word):
    """Exact: the steps a word serves read floor(w * S / 2**64), S the product of their ranges."""
    m = min(m, n)
    plan = K.subset_word_plan(n, m)
    steps = [int(i) for i in np.flatnonzero(plan == 0)]
    ranges = [n - i for i in steps]  # Python integers: the arithmetic below is exact
    S = math.prod(ranges)
    assert S <= 2**32 or len(steps) == 1
    value = word * S >> 64
    digits = []
    for s in reversed(ranges):
        value, digit = divmod(value, s)
        digits.append(digit)
    expected = [i + d for i, d in zip(steps, reversed(digits), strict=True)]
    # The j's of the first group from the NumPy version: swap targets from the identity.
    words = np.zeros((1, K.words_per_subset(n, m)), dtype=np.uint64)
    words[0, 0] = word
    idx = K.subset_indices_numpy(words, n, m)[:, 0]
    perm = list(range(n))
    for i, j in zip(steps, expected, strict=True):
        perm[i], perm[j] = perm[j], perm[i]
    assert list(idx[: len(steps)]) == perm[: len(steps)]


def test_word_plan_groups_steps_while_their_ranges_multiply_within_2_to_the_32():
    for n, m in ((440, 40), (72, 12), (2**20, 5), (7, 7)):
        plan = K.subset_word_plan(n, m)
        assert plan[0] == 0 and np.all(np.diff(plan) >= 0) and np.all(np.diff(plan) <= 1)
        for g in range(plan[-1] + 1):
            steps = np.flatnonzero(plan == g)
            product = math.prod(n - int(i) for i in steps)
            assert product <= 2**32 or len(steps) == 1
            if g < plan[-1]:  # greedy: the next step would not have fitted
                assert product * (n - int(steps[-1]) - 1) > 2**32
    assert K.words_per_subset(440, 40) == 14


def test_random_subsets_are_uniform():
    """All C(7, 3) subsets equally likely (chi-square), and the order within a subset too."""
    n, m, size = 7, 3, 70_000
    words = K.random_words(np.random.default_rng(11), (size, K.words_per_subset(n, m)))
    idx = K.subset_indices_numpy(words, n, m)
    counts = Counter(tuple(sorted(col)) for col in idx.T)
    assert len(counts) == math.comb(n, m)
    assert stats.chisquare(list(counts.values())).pvalue > 1e-4
    ordered = Counter(tuple(col) for col in idx.T)
    assert len(ordered) == math.perm(n, m)
    assert stats.chisquare(list(ordered.values())).pvalue > 1e-4


@needs_numba
@pytest.mark.parametrize("n,m", [(6, 3), (9, 4), (13, 6), (5, 1), (4, 4)])
def test_every_subset_in_itertools_order_compiled_and_numpy(n, m):
    data, squares = _data(5, 2, n)
    compiled = K.all_subset_sums(data, squares, m, jit=True)
    reference = K.all_subset_sums(data, squares, m, jit=False)
    for a, b in zip(compiled, reference, strict=True):
        np.testing.assert_array_equal(a, b)
    combos = list(itertools.combinations(range(n), m))
    assert compiled[0].shape == (2, len(combos))
    expected = np.array([[data[c, list(combo)].sum() for combo in combos] for c in range(2)])
    np.testing.assert_allclose(compiled[0], expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 36, 64, 65, 130])
def test_signed_sums_compiled_numpy_and_by_hand(n):
    data = np.random.default_rng(n).normal(size=(3, n))
    words = K.random_words(np.random.default_rng(n + 1), (300, -(-n // 64)))
    signs = 1.0 - 2.0 * K.sign_bits_numpy(words, n).astype(float)  # (n, size)
    by_hand = data @ signs
    numpy_version = K.signed_sums(data, words, jit=False)
    np.testing.assert_allclose(numpy_version, by_hand, rtol=1e-12, atol=1e-12)
    if K._numba_spec is not None:
        np.testing.assert_array_equal(K.signed_sums(data, words, jit=True), numpy_version)


def test_sign_bit_i_flips_document_i():
    data = np.array([[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]])
    words = np.array([[0], [1 << 3], [(1 << 0) | (1 << 8)]], dtype=np.uint64)
    np.testing.assert_array_equal(K.signed_sums(data, words)[0], [511.0, 511.0 - 16.0, 511.0 - 2.0 - 512.0])


def test_byte_tables_hold_every_pattern_in_document_order():
    data = np.random.default_rng(2).normal(size=(2, 11))
    tables = K.byte_tables(data)
    assert tables.shape == (2, 2, 256)
    for pattern in (0, 1, 0b10110001, 255):
        signs = np.array([-1.0 if pattern >> b & 1 else 1.0 for b in range(8)])
        np.testing.assert_allclose(tables[:, 0, pattern], data[:, :8] @ signs, rtol=1e-14)
        np.testing.assert_allclose(tables[:, 1, pattern], data[:, 8:] @ signs[:3], rtol=1e-14)


@needs_numba
@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_public_tests_identical_with_and_without_compiled_loops(monkeypatch, alternative):
    rng = np.random.default_rng(9)
    x, y, d = rng.normal(0.3, 1, 23), rng.normal(0, 1, 31), rng.normal(0.2, 1, 40)
    small_x, small_y = rng.normal(size=5), rng.normal(size=6)  # exact
    runs = {}
    for flag in ("1", "0"):
        monkeypatch.setenv("POLYTESTS_JIT", flag)
        assert K.jit_enabled() is (flag == "1")
        runs[flag] = [permutation_test(x, y, alternative=alternative, n_resamples=999, seed=4),
                      permutation_test(small_x, small_y, alternative=alternative, seed=4),
                      sign_flip_test(d, alternative=alternative, n_resamples=999, seed=4),
                      sign_flip_test(d[:9], alternative=alternative, seed=4)]
    for compiled, numpy_version in zip(runs["1"], runs["0"], strict=True):
        assert compiled.exact == numpy_version.exact
        assert compiled.pvalue == numpy_version.pvalue
        np.testing.assert_array_equal(compiled.null_distribution, numpy_version.null_distribution)


def test_without_numba_the_numpy_loops_run(monkeypatch):
    def no_numba():
        raise AssertionError("the compiled loops were asked for without numba")

    monkeypatch.setattr(K, "_numba_spec", None)
    monkeypatch.setattr(K, "_compiled", no_numba)
    assert not K.jit_enabled()
    for test in (permutation_test(np.arange(10.0), np.arange(12.0) + 3, n_resamples=199, seed=1),
                 permutation_test(np.arange(4.0), np.arange(5.0) + 1, seed=1),  # exact
                 sign_flip_test(np.arange(30.0) - 10, n_resamples=199, seed=1)):
        assert 0 < test.pvalue <= 1
