"""Permutation tests on per-document values.

Two tests share one set of conventions:

* :func:`permutation_test` -- two independent groups of documents, statistic
  Welch's t, null distribution from relabelling documents between the groups.
* :func:`sign_flip_test` -- one group of per-document paired deltas,
  statistic the one-sample t, null distribution from flipping signs.

Conventions (see ``docs/statistics.md``):

* Monte Carlo p-values carry the +1 correction of Phipson & Smyth (2010):
  ``p = (1 + #{null >= observed}) / (B + 1)``; they are never 0.
* When the number of distinct arrangements is at most ``exact_threshold``
  (default ``n_resamples + 1``) every arrangement is enumerated, the observed
  one included, and ``p = #{null >= observed} / N_arrangements``.
* ``null >= observed`` is evaluated as ``null >= observed - gamma`` with
  ``gamma = 1e-9 * max(|observed|, 1)`` (``_TIE_RTOL``; 0 for an infinite
  observed value), so arrangements equal up to rounding count as ties. scipy's
  :func:`~scipy.stats.permutation_test` uses ``100 * eps * |observed|``, which
  vanishes for a statistic near 0 although the rounding error does not.
* ``"two-sided"`` compares ``|t|`` with ``|t_observed|``.
* 2-D input ``(n, k)`` tests the ``k`` columns with the SAME relabellings;
  column ``j`` is bit-identical to the 1-D test of column ``j`` with the same
  seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from polytests.stats._kernels import (
    all_subset_sums,
    byte_tables,
    random_words,
    signed_sums,
    subset_sums,
    sums_over,
    words_per_subset,
)
from polytests.stats._validation import (
    SeedLike,
    check_choice,
    check_int,
    check_optional_int,
    check_samples,
    check_two_samples,
    make_rng,
)

__all__ = [
    "ALTERNATIVES",
    "PermutationResult",
    "min_attainable_pvalue",
    "permutation_test",
    "pvalue_floor",
    "pvalues_from_null",
    "sign_flip_test",
]

ALTERNATIVES = ("greater", "less", "two-sided")

# Relative tolerance for ties, as in scipy.stats.permutation_test.
# Arrangements that are the same partition of the values, summed in another order, give
# t statistics that differ in the last bits; they must count as ties. The window is relative
# to max(|t|, 1) because rounding error scales with the data, not with a near-zero t.
_TIE_RTOL = 1e-9
# Upper bound on floats gathered per chunk of resamples (chunk * n * k).
_CHUNK_FLOATS = 4_000_000
# Sign-flip enumeration encodes arrangements as int64 bit patterns.
_MAX_EXACT_SIGN_FLIP_N = 62


@dataclass(frozen=True)
class PermutationResult:
    """Result of :func:`permutation_test` or :func:`sign_flip_test`.

    Attributes
    ----------
    statistic : float or ndarray of shape (k,)
        Observed t statistic (signed, also for ``"two-sided"``).
    pvalue : float or ndarray of shape (k,)
        p-value; in (0, 1].
    null_distribution : ndarray of shape (B,) or (B, k)
        t statistic of every resample (Monte Carlo) or every arrangement
        (exact; the observed arrangement is row 0).
    n_resamples : int
        ``B``: the number of rows of ``null_distribution``.
    exact : bool
        Whether all arrangements were enumerated.
    alternative : str
        ``"greater"``, ``"less"`` or ``"two-sided"``.
    """

    statistic: float | np.ndarray
    pvalue: float | np.ndarray
    null_distribution: np.ndarray
    n_resamples: int
    exact: bool
    alternative: str


def pvalue_floor(n_resamples: int) -> float:
    """Smallest Monte Carlo p-value with the +1 correction: ``1 / (B + 1)``."""
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    return 1.0 / (n_resamples + 1)


def min_attainable_pvalue(
    n_x: int, n_y: int, n_resamples: int, *, exact_threshold: int | None = None
) -> float:
    """Smallest p-value :func:`permutation_test` can return for this design.

    ``1 / C(n_x + n_y, n_x)`` when the test would enumerate all arrangements
    (``C <= exact_threshold``, default ``n_resamples + 1``), otherwise the
    Monte Carlo floor ``1 / (n_resamples + 1)``. This is the bound for a
    one-sided alternative; ties (and, for ``"two-sided"`` with
    ``n_x == n_y``, mirror-image arrangements) can only make it larger.
    """
    n_x = check_int(n_x, "n_x", minimum=2)
    n_y = check_int(n_y, "n_y", minimum=2)
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    threshold = check_optional_int(exact_threshold, "exact_threshold", minimum=0)
    threshold = n_resamples + 1 if threshold is None else threshold
    n_arrangements = math.comb(n_x + n_y, n_x)
    if n_arrangements <= threshold:
        return 1.0 / n_arrangements
    return 1.0 / (n_resamples + 1)


# --------------------------------------------------------------------------
# statistics (reduce over the last axis)
# --------------------------------------------------------------------------


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with ``den == 0`` mapped to +inf, -inf or 0 by sign(num)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(num / den, dtype=float)
    degenerate = ~(den > 0)
    if degenerate.any():
        num_d = np.broadcast_to(num, out.shape)[degenerate]
        out[degenerate] = np.where(num_d > 0, np.inf, np.where(num_d < 0, -np.inf, 0.0))
    return out


def pvalues_from_null(null: np.ndarray, observed: np.ndarray, alternative: str, exact: bool) -> np.ndarray:
    """p-values from a ``(k, B)`` null and ``(k,)`` observed statistics (the tie rule of this module;
    Monte Carlo with the +1 correction, or the exact share when ``exact``)."""
    if alternative == "two-sided":
        null, observed = np.abs(null), np.abs(observed)
    gamma = np.where(np.isfinite(observed), np.maximum(np.abs(observed), 1.0) * _TIE_RTOL, 0.0)
    if alternative == "less":
        hits = null <= (observed + gamma)[:, None]
    else:
        hits = null >= (observed - gamma)[:, None]
    count = np.count_nonzero(hits, axis=1)
    n_null = null.shape[1]
    if exact:  # count <= n_null, so neither share exceeds 1
        return count / n_null
    return (count + 1.0) / (n_null + 1.0)


def _package(
    observed: np.ndarray,
    null: np.ndarray,
    pvalues: np.ndarray,
    exact: bool,
    alternative: str,
    one_d: bool,
) -> PermutationResult:
    """Shape internal ``(k, ...)`` arrays into the public result."""
    if one_d:
        return PermutationResult(
            statistic=float(observed[0]),
            pvalue=float(pvalues[0]),
            null_distribution=null[0].copy(),
            n_resamples=int(null.shape[1]),
            exact=exact,
            alternative=alternative,
        )
    return PermutationResult(
        statistic=observed,
        pvalue=pvalues,
        null_distribution=np.ascontiguousarray(null.T),
        n_resamples=int(null.shape[1]),
        exact=exact,
        alternative=alternative,
    )


def _chunk_size(batch: int | None, n: int, k: int) -> int:
    """Resamples per chunk: ``batch`` or about ``_CHUNK_FLOATS / (n * k)``."""
    if batch is not None:
        return batch
    return max(1, _CHUNK_FLOATS // (n * k))


# --------------------------------------------------------------------------
# two-sample permutation test
# --------------------------------------------------------------------------


def _permutation_test_iv(
    x: object,
    y: object,
    alternative: object,
    n_resamples: object,
    seed: object,
    exact_threshold: object,
    batch: object,
) -> tuple[np.ndarray, np.ndarray, str, int, np.random.Generator, int, int | None, bool]:
    """Validate the arguments of :func:`permutation_test`."""
    x_arr, y_arr = check_two_samples(x, y, min_n=2)
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    threshold = check_optional_int(exact_threshold, "exact_threshold", minimum=0)
    threshold = n_resamples + 1 if threshold is None else threshold
    batch = check_optional_int(batch, "batch", minimum=1)
    rng = make_rng(seed)
    one_d = x_arr.ndim == 1
    if one_d:
        x_arr, y_arr = x_arr[:, None], y_arr[:, None]
    return x_arr, y_arr, alternative, n_resamples, rng, threshold, batch, one_d


def _random_subset_words(n: int, m: int, n_resamples: int, chunk: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield chunks of random words, ``words_per_subset(n, m)`` per resample (each serves a group
    of steps of the partial Fisher-Yates shuffle that picks the resample's m-subset; see
    :mod:`polytests.stats._kernels`). Drawn in resample order: the subsets do not depend on ``chunk``."""
    for start in range(0, n_resamples, chunk):
        yield random_words(rng, (min(chunk, n_resamples - start), words_per_subset(n, m)))


def _welch_t_from_sums(s1_a, s2_a, n_a, s1_b, s2_b, n_b) -> np.ndarray:
    """Welch's t from each group's sum and sum of squares (variances clipped at 0)."""
    mean_a, mean_b = s1_a / n_a, s1_b / n_b
    var_a = np.maximum(s2_a - s1_a * mean_a, 0.0) / (n_a - 1)
    var_b = np.maximum(s2_b - s1_b * mean_b, 0.0) / (n_b - 1)
    return _safe_ratio(mean_a - mean_b, np.sqrt(var_a / n_a + var_b / n_b))


def permutation_test(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    alternative: str = "greater",
    n_resamples: int = 9999,
    seed: SeedLike = None,
    exact_threshold: int | None = None,
    batch: int | None = None,
) -> PermutationResult:
    """Two-sample permutation test of per-document values with Welch's t.

    Parameters
    ----------
    x, y : array_like, shape (n_x,) / (n_y,) or (n_x, k) / (n_y, k)
        One value per document (rows); optional columns (e.g. neurons) are
        tested with the same document relabellings. Must be finite.
    alternative : {"greater", "less", "two-sided"}
        ``"greater"``: mean(x) > mean(y). ``"two-sided"`` compares ``|t|``.
    n_resamples : int
        Monte Carlo resamples ``B`` (ignored when the test is exact).
    seed : int, numpy.random.Generator or None
        Same data and same int seed give bit-identical results.
    exact_threshold : int, optional
        Enumerate all ``C(n_x + n_y, n_x)`` arrangements when that number is
        at most this (default ``n_resamples + 1``).
    batch : int, optional
        Resamples per vectorised chunk (default keeps ``chunk*n*k <= 4e6``).

    Returns
    -------
    PermutationResult
    """
    x_arr, y_arr, alternative, n_resamples, rng, threshold, batch, one_d = _permutation_test_iv(
        x, y, alternative, n_resamples, seed, exact_threshold, batch
    )
    n_x, n_y, k = x_arr.shape[0], y_arr.shape[0], x_arr.shape[1]
    n = n_x + n_y
    # Centre every column on its first value: t is shift invariant, and a
    # constant column becomes exactly zero, so its ties are exact.
    pooled = np.concatenate([x_arr, y_arr], axis=0)
    data = np.ascontiguousarray((pooled - pooled[0]).T)  # (k, n)

    exact = math.comb(n, n_x) <= threshold
    chunk = _chunk_size(batch, n, k)
    # Every arrangement's t comes from one group's sums of values and squares (the other
    # group's follow from the totals); the observed t by the same formula, so ties are
    # judged alike.
    squares = data * data
    total1, total2 = data.sum(axis=1), squares.sum(axis=1)
    # Exact: every x-group, in lexicographic order (the first is the observed one).
    # Monte Carlo: only the smaller group is drawn (a random subset), O(min(n_x, n_y)) each.
    group_is_x = exact or n_x <= n_y
    m = n_x if group_is_x else n_y

    def from_group(s1, s2):
        o1, o2 = total1[:, None] - s1, total2[:, None] - s2
        if group_is_x:
            return _welch_t_from_sums(s1, s2, n_x, o1, o2, n_y)
        return _welch_t_from_sums(o1, o2, n_x, s1, s2, n_y)

    first = np.arange(n_x) if group_is_x else np.arange(n_x, n)
    if exact:
        sums = [sums_over(data, squares, first[:, None]), all_subset_sums(data, squares, n_x)]
    else:
        sums = [sums_over(data, squares, first[:, None])] + [
            subset_sums(data, squares, words, n, m) for words in _random_subset_words(n, m, n_resamples, chunk, rng)]
    # One elementwise pass over [observed | null]: each column's t is what it would be alone.
    t = from_group(np.concatenate([a for a, _ in sums], axis=1), np.concatenate([b for _, b in sums], axis=1))
    observed, null = t[:, 0], t[:, 1:]
    pvalues = pvalues_from_null(null, observed, alternative, exact)
    return _package(observed, null, pvalues, exact, alternative, one_d)


# --------------------------------------------------------------------------
# one-sample sign-flip test
# --------------------------------------------------------------------------


def _sign_flip_test_iv(
    d: object,
    alternative: object,
    n_resamples: object,
    seed: object,
    exact_threshold: object,
    batch: object,
) -> tuple[np.ndarray, str, int, np.random.Generator, int, int | None, bool]:
    """Validate the arguments of :func:`sign_flip_test`."""
    d_arr = check_samples(d, "d", min_n=2)
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    threshold = check_optional_int(exact_threshold, "exact_threshold", minimum=0)
    threshold = n_resamples + 1 if threshold is None else threshold
    batch = check_optional_int(batch, "batch", minimum=1)
    rng = make_rng(seed)
    one_d = d_arr.ndim == 1
    if one_d:
        d_arr = d_arr[:, None]
    return d_arr, alternative, n_resamples, rng, threshold, batch, one_d


def _random_sign_words(n: int, n_resamples: int, chunk: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield chunks of random words, ``ceil(n / 64)`` per resample, one bit per document's sign
    (independent of ``chunk``)."""
    for start in range(0, n_resamples, chunk):
        yield random_words(rng, (min(chunk, n_resamples - start), -(-n // 64)))


def _one_sample_t_from_sums(s1: np.ndarray, sum_sq: np.ndarray, n: int) -> np.ndarray:
    mean = s1 / n
    var = np.maximum(sum_sq[:, None] - s1 * mean, 0.0) / (n - 1)
    return _safe_ratio(mean, np.sqrt(var / n))


def sign_flip_test(
    d: npt.ArrayLike,
    *,
    alternative: str = "greater",
    n_resamples: int = 9999,
    seed: SeedLike = None,
    exact_threshold: int | None = None,
    batch: int | None = None,
) -> PermutationResult:
    """Sign-flip permutation test that per-document deltas have mean 0.

    The statistic is the one-sample t, ``mean(d) / (sd(d) / sqrt(n))``; the
    null flips the sign of each document's delta independently, which is
    exact when ``d`` is symmetric about 0 under the null. Enumerates all
    ``2**n`` flips when ``2**n <= exact_threshold`` (default
    ``n_resamples + 1``). Same conventions as :func:`permutation_test`.

    Parameters
    ----------
    d : array_like, shape (n,) or (n, k)
        Paired per-document deltas (rows); columns share the same flips.
    alternative : {"greater", "less", "two-sided"}
        ``"greater"``: mean(d) > 0.
    n_resamples, seed, exact_threshold, batch
        As in :func:`permutation_test`.
    """
    d_arr, alternative, n_resamples, rng, threshold, batch, one_d = _sign_flip_test_iv(
        d, alternative, n_resamples, seed, exact_threshold, batch
    )
    n, k = d_arr.shape
    data = np.ascontiguousarray(d_arr.T)  # (k, n)
    exact = n <= _MAX_EXACT_SIGN_FLIP_N and (1 << n) <= threshold
    chunk = _chunk_size(batch, n, k)
    # The sum of squares does not change under sign flips, so each arrangement needs only its
    # signed sum; the observed t comes from the same formula (no flips), so ties are judged alike.
    sum_sq = (data * data).sum(axis=1)
    tables = byte_tables(data)
    no_flips = np.zeros((1, -(-n // 64)), dtype=np.uint64)
    if exact:  # arrangement c flips the documents whose bits are set in c; c = 0 is the observed one
        chunks = [no_flips, np.arange(1 << n, dtype=np.uint64)[:, None]]
    else:
        chunks = [no_flips, *_random_sign_words(n, n_resamples, chunk, rng)]
    # One elementwise pass over [observed | null]: each column's t is what it would be alone.
    t = _one_sample_t_from_sums(np.concatenate([signed_sums(data, w, tables) for w in chunks], axis=1), sum_sq, n)
    observed, null = t[:, 0], t[:, 1:]
    pvalues = pvalues_from_null(null, observed, alternative, exact)
    return _package(observed, null, pvalues, exact, alternative, one_d)
