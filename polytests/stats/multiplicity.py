"""Multiplicity: adjusting a family of p-values and combining conjunctions.

* :func:`adjust_pvalues` -- Holm (FWER), Benjamini-Hochberg (FDR),
  Bonferroni or none, through :func:`statsmodels.stats.multitest.multipletests`.
* :func:`intersection_union` -- p-value of "A and B and ..." (max of the parts).
* :func:`resolution_ok` -- can ``B`` resamples resolve a corrected threshold?
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from polytests.stats._validation import check_choice, check_int, check_probability

__all__ = ["ADJUST_METHODS", "RESOLUTION_RISK", "adjust_pvalues", "intersection_union", "monte_carlo_range",
           "resolution_ok", "max_span", "bonferroni_span"]

# Public name -> statsmodels name (None: no adjustment).
_STATSMODELS_METHOD = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni", "none": None}
ADJUST_METHODS = tuple(_STATSMODELS_METHOD)
# The chance, per Monte Carlo p-value, that its limit lies outside monte_carlo_range.
RESOLUTION_RISK = 1e-3
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


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: the k-th smallest times (m - k + 1), made non-decreasing
    in that order and capped at 1. Equal to statsmodels' ``multipletests(method="holm")`` (the tests
    hold them equal), computed here because statsmodels runs ``gc.collect()`` on every Holm call,
    which took about 0.1 s a call inside a large process (the runner adjusts each family several
    times: both sides and the Monte Carlo ranges)."""
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
    out = np.empty_like(p)
    out[order] = np.minimum(stepped, 1.0)
    return out


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
    if method == "holm":
        return _holm(p)
    from statsmodels.stats.multitest import multipletests  # imported here: pandas comes with it (0.25 s)

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


def monte_carlo_range(exceedances: int, resamples: int, *, plus_one: bool = True,
                      risk: float = RESOLUTION_RISK) -> tuple[float, float]:
    """Where a Monte Carlo p-value's limit (infinitely many resamples) lies.

    ``exceedances`` of ``resamples`` resampled statistics were at least as extreme as the
    observed one; the limit is the probability of that event, and its Clopper-Pearson
    interval at ``1 - risk`` is returned. With ``plus_one`` the upper end is also at least
    the +1-corrected estimate ``(1 + e) / (B + 1)``, so the range always contains the p-value
    that was reported.
    """
    exceedances = check_int(exceedances, "exceedances", minimum=0)
    resamples = check_int(resamples, "resamples", minimum=1)
    if exceedances > resamples:
        raise ValueError(f"`exceedances` ({exceedances}) cannot exceed `resamples` ({resamples}).")
    from scipy import stats

    e, b = exceedances, resamples
    low = 0.0 if e == 0 else float(stats.beta.ppf(risk / 2, e, b - e + 1))
    high = 1.0 if e == b else float(stats.beta.ppf(1 - risk / 2, e + 1, b - e))
    if plus_one:
        high = max(high, (1 + e) / (b + 1))
    return low, min(high, 1.0)


def max_span(spans) -> tuple[float, float]:
    """The Monte Carlo range of the largest of several p-values (intersection-union)."""
    spans = list(spans)
    return max(lo for lo, _ in spans), max(hi for _, hi in spans)


def bonferroni_span(spans) -> tuple[float, float]:
    """The Monte Carlo range of ``min(1, k * min(p))`` over k p-values (union: Bonferroni)."""
    spans = list(spans)
    k = len(spans)
    return min(1.0, k * min(lo for lo, _ in spans)), min(1.0, k * min(hi for _, hi in spans))
