"""Effect sizes for two groups of per-document values.

* :func:`mean_difference_ci` -- bootstrap CI of ``mean(x) - mean(y)``
  (BCa by default, with a percentile fallback when BCa is undefined).
* :func:`hedges_g` -- bias-corrected standardized mean difference.
* :func:`probability_of_superiority` -- ``P(X > Y) + 0.5 P(X = Y)``.
* :func:`share_in_direction` -- share of per-document deltas with a sign.
* :func:`effect_sizes` -- all of the above bundled in :class:`EffectSizes`.

All functions take 1-D arrays with one value per document.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from polytests.stats._validation import (
    SeedLike,
    check_choice,
    check_int,
    check_probability,
    check_samples,
    check_two_samples,
    make_rng,
)

__all__ = [
    "mean_ci",
    "CI_METHODS",
    "ConfidenceInterval",
    "EffectSizes",
    "effect_sizes",
    "hedges_g",
    "mean_difference_ci",
    "probability_of_superiority",
    "share_in_direction",
]

CI_METHODS = ("BCa", "percentile", "basic")


@dataclass(frozen=True)
class ConfidenceInterval:
    """A confidence interval and the method that produced it.

    ``method`` is the requested bootstrap method, ``"percentile"`` when BCa
    was undefined and the percentile interval was used instead, or
    ``"degenerate"`` when both groups are constant (``low == high``).
    """

    low: float
    high: float
    method: str


@dataclass(frozen=True)
class EffectSizes:
    """Effect sizes of ``x`` versus ``y`` (see :func:`effect_sizes`)."""

    mean_x: float
    mean_y: float
    difference: float
    ci: ConfidenceInterval
    hedges_g: float
    probability_of_superiority: float
    n_x: int
    n_y: int


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Vectorised ``mean(x) - mean(y)`` for :func:`scipy.stats.bootstrap`."""
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _mean_difference_ci_iv(
    x: object,
    y: object,
    confidence_level: object,
    n_resamples: object,
    seed: object,
    method: object,
) -> tuple[np.ndarray, np.ndarray, float, int, np.random.Generator, str]:
    """Validate the arguments of :func:`mean_difference_ci`."""
    x_arr, y_arr = check_two_samples(x, y, min_n=2, allow_2d=False)
    confidence_level = check_probability(confidence_level, "confidence_level")
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    method = check_choice(method, "method", CI_METHODS)
    return x_arr, y_arr, confidence_level, n_resamples, make_rng(seed), method


def mean_difference_ci(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 9999,
    seed: SeedLike = None,
    method: str = "BCa",
) -> ConfidenceInterval:
    """Bootstrap CI of ``mean(x) - mean(y)``, resampling documents per group.

    Uses :func:`scipy.stats.bootstrap` with two independent samples. If both
    groups are constant the interval is ``(diff, diff)`` with
    ``method="degenerate"``. If the requested interval comes out NaN (BCa is
    undefined e.g. when the bootstrap distribution is degenerate), the
    percentile interval of the same bootstrap distribution is returned with
    ``method="percentile"``.
    """
    x_arr, y_arr, level, n_resamples, rng, method = _mean_difference_ci_iv(
        x, y, confidence_level, n_resamples, seed, method
    )
    diff = float(np.mean(x_arr) - np.mean(y_arr))
    if np.ptp(x_arr) == 0.0 and np.ptp(y_arr) == 0.0:
        return ConfidenceInterval(diff, diff, "degenerate")
    with warnings.catch_warnings():
        # BCa warns (DegenerateDataWarning / RuntimeWarning) exactly when it
        # returns NaN; that case is handled below.
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            (x_arr, y_arr),
            _mean_difference,
            n_resamples=n_resamples,
            vectorized=True,
            paired=False,
            confidence_level=level,
            method=method,
            rng=rng,
        )
        low, high = res.confidence_interval
        if method != "percentile" and not (np.isfinite(low) and np.isfinite(high)):
            res = stats.bootstrap(
                (x_arr, y_arr),
                _mean_difference,
                n_resamples=0,
                vectorized=True,
                paired=False,
                confidence_level=level,
                method="percentile",
                bootstrap_result=res,
                rng=rng,
            )
            low, high = res.confidence_interval
            method = "percentile"
    return ConfidenceInterval(float(low), float(high), method)


def mean_ci(x: npt.ArrayLike, *, confidence_level: float = 0.95, n_resamples: int = 999,
            seed: SeedLike = None) -> ConfidenceInterval:
    """Percentile bootstrap CI of ``mean(x)`` over documents (``(mean, mean)``, "degenerate", when
    every value is equal)."""
    x_arr = check_samples(x, "x", min_n=1, allow_2d=False)
    mean = float(np.mean(x_arr))
    if np.ptp(x_arr) == 0.0:
        return ConfidenceInterval(mean, mean, "degenerate")
    res = stats.bootstrap((x_arr,), np.mean, n_resamples=check_int(n_resamples, "n_resamples", minimum=1),
                          confidence_level=check_probability(confidence_level, "confidence_level"),
                          method="percentile", rng=make_rng(seed))
    return ConfidenceInterval(float(res.confidence_interval.low), float(res.confidence_interval.high), "percentile")


def hedges_g(x: npt.ArrayLike, y: npt.ArrayLike) -> float | np.ndarray:
    """Hedges' g: ``J(df) * (mean(x) - mean(y)) / s_pooled``.

    ``s_pooled`` is the pooled SD with ``df = n_x + n_y - 2`` and ``J`` is
    the exact small-sample correction
    ``Gamma(df/2) / (sqrt(df/2) * Gamma((df-1)/2))`` (about
    ``1 - 3 / (4 df - 1)``). If ``s_pooled == 0``: 0.0 when the means are
    equal, otherwise +-inf with the sign of the difference. With 2-D input
    (documents x columns) it returns one g per column.
    """
    x_arr, y_arr = check_two_samples(x, y, min_n=2, allow_2d=True)
    n_x, n_y = x_arr.shape[0], y_arr.shape[0]
    df = n_x + n_y - 2
    diff = np.mean(x_arr, axis=0) - np.mean(y_arr, axis=0)
    pooled_var = ((n_x - 1) * np.var(x_arr, ddof=1, axis=0) + (n_y - 1) * np.var(y_arr, ddof=1, axis=0)) / df
    s_pooled = np.sqrt(pooled_var)
    correction = math.exp(
        special.gammaln(df / 2) - special.gammaln((df - 1) / 2) - 0.5 * math.log(df / 2)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.where(s_pooled == 0.0, np.where(diff == 0.0, 0.0, np.copysign(np.inf, diff)),
                     correction * diff / s_pooled)
    return float(g) if x_arr.ndim == 1 else g


def probability_of_superiority(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Common-language effect size ``P(X > Y) + 0.5 * P(X = Y)``.

    Computed exactly from mid-ranks of the pooled sample (the Mann-Whitney
    ``U`` of ``x`` divided by ``n_x * n_y``), in ``O(n log n)``.
    """
    x_arr, y_arr = check_two_samples(x, y, min_n=1, allow_2d=False)
    n_x, n_y = x_arr.size, y_arr.size
    ranks = stats.rankdata(np.concatenate([x_arr, y_arr]), method="average")
    u_x = ranks[:n_x].sum() - n_x * (n_x + 1) / 2.0
    return float(u_x / (n_x * n_y))


def share_in_direction(deltas: npt.ArrayLike, direction: str = "greater") -> float:
    """Share of per-document ``deltas`` that are ``> 0`` ("greater") or ``< 0`` ("less").

    Zeros count against both directions.
    """
    d = check_samples(deltas, "deltas", min_n=1, allow_2d=False)
    direction = check_choice(direction, "direction", ("greater", "less"))
    hits = d > 0 if direction == "greater" else d < 0
    return float(np.count_nonzero(hits) / d.size)


def effect_sizes(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 9999,
    seed: SeedLike = None,
) -> EffectSizes:
    """Compute every effect size of ``x`` versus ``y`` in one call."""
    x_arr, y_arr = check_two_samples(x, y, min_n=2, allow_2d=False)
    mean_x, mean_y = float(np.mean(x_arr)), float(np.mean(y_arr))
    return EffectSizes(
        mean_x=mean_x,
        mean_y=mean_y,
        difference=mean_x - mean_y,
        ci=mean_difference_ci(
            x_arr, y_arr, confidence_level=confidence_level, n_resamples=n_resamples, seed=seed
        ),
        hedges_g=hedges_g(x_arr, y_arr),
        probability_of_superiority=probability_of_superiority(x_arr, y_arr),
        n_x=int(x_arr.size),
        n_y=int(y_arr.size),
    )
