"""Multiplicity: adjusting a family of p-values and combining conjunctions.

* :func:`adjust_pvalues` -- Holm (FWER), Benjamini-Hochberg (FDR),
  Bonferroni or none, through :func:`statsmodels.stats.multitest.multipletests`.
* :func:`intersection_union` -- p-value of "A and B and ..." (max of the parts).
* :func:`resolution_ok` -- can ``B`` resamples resolve a corrected threshold?
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from statsmodels.stats.multitest import multipletests

from polytests.stats._validation import check_choice, check_int, check_probability

__all__ = ["ADJUST_METHODS", "adjust_pvalues", "intersection_union", "resolution_ok"]

# Public name -> statsmodels name (None: no adjustment).
_STATSMODELS_METHOD = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni", "none": None}
ADJUST_METHODS = tuple(_STATSMODELS_METHOD)
# Slack for the float comparison in resolution_ok (e.g. 1/200 vs 0.05/10).
_RESOLUTION_RTOL = 1e-12


def _check_pvalues(pvalues: object, *, min_size: int) -> np.ndarray:
    """Return ``pvalues`` as a 1-D float array with values in [0, 1]."""
    try:
        p = np.asarray(pvalues, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`pvalues` must be a 1-D array of numbers in [0, 1]: {exc}") from exc
    if p.ndim != 1:
        raise ValueError(f"`pvalues` must be 1-D; got shape {p.shape}.")
    if p.size < min_size:
        raise ValueError(f"`pvalues` must hold at least {min_size} value(s); got {p.size}.")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("`pvalues` must contain only numbers in [0, 1] (no NaN).")
    return p


def adjust_pvalues(pvalues: npt.ArrayLike, *, method: str = "holm") -> np.ndarray:
    """Multiplicity-adjusted p-values, in the input order.

    ``method``: ``"holm"`` (Holm step-down, controls the family-wise error
    rate), ``"bh"`` (Benjamini-Hochberg, controls the false discovery rate),
    ``"bonferroni"`` or ``"none"`` (a copy of the input). Adjusted p-values
    are compared with the unadjusted ``alpha``.
    """
    method = check_choice(method, "method", ADJUST_METHODS)
    p = _check_pvalues(pvalues, min_size=0)
    sm_method = _STATSMODELS_METHOD[method]
    if sm_method is None or p.size == 0:
        return p.copy()
    _, adjusted, _, _ = multipletests(p, alpha=0.05, method=sm_method)
    return np.asarray(adjusted, dtype=np.float64)


def intersection_union(pvalues: npt.ArrayLike) -> float:
    """Intersection-union p-value for "every part holds": ``max(pvalues)``.

    Rejecting the union of the parts' nulls at level alpha needs every part
    rejected at alpha, so no multiplicity correction is needed (Berger 1982).
    """
    return float(np.max(_check_pvalues(pvalues, min_size=1)))


def resolution_ok(n_resamples: int, alpha: float, m: int) -> bool:
    """Whether ``1 / (B + 1) <= alpha / (10 m)``.

    With ``B = n_resamples`` Monte Carlo resamples the smallest p-value is
    ``1 / (B + 1)``. Holm's strictest threshold for a family of ``m`` claims is
    ``alpha / m``; asking for ten times finer resolution keeps the Monte Carlo
    granularity from deciding a claim.
    """
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    alpha = check_probability(alpha, "alpha")
    m = check_int(m, "m", minimum=1)
    return 1.0 / (n_resamples + 1) <= alpha / (10 * m) * (1.0 + _RESOLUTION_RTOL)
