"""Equivalence tests (TOST) built on the permutation tests.

A claim "neuron N does NOT distinguish A from B" cannot be supported by a
large p-value of a difference test; it needs an equivalence test. Two one-sided
tests (TOST, Schuirmann 1987) reject ``|mean(x) - mean(y)| >= margin`` when both

* ``H0_upper: diff >= +margin`` is rejected (test ``x - margin`` vs ``y``,
  alternative ``"less"``), and
* ``H0_lower: diff <= -margin`` is rejected (test ``x + margin`` vs ``y``,
  alternative ``"greater"``).

The TOST p-value is the larger of the two. The one-sample variant does the
same for paired per-document deltas with :func:`sign_flip_test`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from polytests.stats._validation import (
    SeedLike,
    check_finite_float,
    check_int,
    check_samples,
    check_two_samples,
    make_rng,
)
from polytests.stats.permutation import permutation_test, sign_flip_test

__all__ = ["EquivalenceResult", "equivalence_test", "equivalence_test_one_sample"]


@dataclass(frozen=True)
class EquivalenceResult:
    """Result of a TOST equivalence test.

    Attributes
    ----------
    pvalue : float or ndarray
        ``max(pvalue_lower, pvalue_upper)``; small means "equivalent within
        ``margin``".
    pvalue_lower : float or ndarray
        p-value against ``H0: diff <= -margin``.
    pvalue_upper : float or ndarray
        p-value against ``H0: diff >= +margin``.
    difference : float or ndarray
        Observed ``mean(x) - mean(y)`` (or ``mean(d)``).
    margin : float
        Equivalence margin, in the units of the data.
    exact : bool
        Whether both one-sided tests enumerated all arrangements.
    """

    pvalue: float | np.ndarray
    pvalue_lower: float | np.ndarray
    pvalue_upper: float | np.ndarray
    difference: float | np.ndarray
    margin: float
    exact: bool


def _as_output(value: np.ndarray, one_d: bool) -> float | np.ndarray:
    """Return a float for 1-D input, the array otherwise."""
    return float(value) if one_d else value


def _equivalence_test_iv(
    x: object, y: object, margin: object, n_resamples: object, seed: object
) -> tuple[np.ndarray, np.ndarray, float, int, np.random.Generator]:
    """Validate the arguments of :func:`equivalence_test`."""
    x_arr, y_arr = check_two_samples(x, y, min_n=2)
    margin = check_finite_float(margin, "margin", positive=True)
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    return x_arr, y_arr, margin, n_resamples, make_rng(seed)


def equivalence_test(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    margin: float,
    n_resamples: int = 9999,
    seed: SeedLike = None,
) -> EquivalenceResult:
    """TOST of ``|mean(x) - mean(y)| < margin`` with two permutation tests.

    Each one-sided test is :func:`permutation_test` (Welch t) on the shifted
    data; both use generators drawn in turn from ``seed``. ``x``/``y`` may be
    2-D ``(n, k)`` as in :func:`permutation_test`.
    """
    x_arr, y_arr, margin, n_resamples, rng = _equivalence_test_iv(
        x, y, margin, n_resamples, seed
    )
    upper = permutation_test(
        x_arr - margin, y_arr, alternative="less", n_resamples=n_resamples, seed=rng
    )
    lower = permutation_test(
        x_arr + margin, y_arr, alternative="greater", n_resamples=n_resamples, seed=rng
    )
    one_d = x_arr.ndim == 1
    difference = np.mean(x_arr, axis=0) - np.mean(y_arr, axis=0)
    p_lower, p_upper = np.asarray(lower.pvalue), np.asarray(upper.pvalue)
    return EquivalenceResult(
        pvalue=_as_output(np.maximum(p_lower, p_upper), one_d),
        pvalue_lower=_as_output(p_lower, one_d),
        pvalue_upper=_as_output(p_upper, one_d),
        difference=_as_output(difference, one_d),
        margin=margin,
        exact=lower.exact and upper.exact,
    )


def equivalence_test_one_sample(
    d: npt.ArrayLike,
    *,
    margin: float,
    n_resamples: int = 9999,
    seed: SeedLike = None,
) -> EquivalenceResult:
    """TOST of ``|mean(d)| < margin`` for paired per-document deltas ``d``.

    Uses :func:`sign_flip_test` on ``d - margin`` (alternative ``"less"``)
    and ``d + margin`` (alternative ``"greater"``); valid when ``d`` is
    symmetric about its mean under the null.
    """
    d_arr = check_samples(d, "d", min_n=2)
    margin = check_finite_float(margin, "margin", positive=True)
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    rng = make_rng(seed)
    upper = sign_flip_test(d_arr - margin, alternative="less", n_resamples=n_resamples, seed=rng)
    lower = sign_flip_test(
        d_arr + margin, alternative="greater", n_resamples=n_resamples, seed=rng
    )
    one_d = d_arr.ndim == 1
    p_lower, p_upper = np.asarray(lower.pvalue), np.asarray(upper.pvalue)
    return EquivalenceResult(
        pvalue=_as_output(np.maximum(p_lower, p_upper), one_d),
        pvalue_lower=_as_output(p_lower, one_d),
        pvalue_upper=_as_output(p_upper, one_d),
        difference=_as_output(np.mean(d_arr, axis=0), one_d),
        margin=margin,
        exact=lower.exact and upper.exact,
    )
