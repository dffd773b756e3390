"""Tests against a smallest effect of interest: is the effect above the bound, or below it?

A claim like "L2N18 fires on Fortran" states an effect and, with it, the smallest size
that would count (``bound``, in activation units). Two one-sided tests answer the two
questions a verdict needs:

* ``pvalue_above``: H0 "effect <= bound" against H1 "effect > bound"
  (small: the effect is shown to exceed the bound -> "confirmed");
* ``pvalue_below``: H0 "effect >= bound" against H1 "effect < bound"
  (small: the effect is shown to fall short of it, or to go the other way -> "refuted").

Neither small means the data cannot tell: "inconclusive", and :func:`documents_needed`
says about how many documents would decide it at the observed effect.

The effect is the one every shape of activation allows to be tested
(:mod:`polytests.stats.relative`): for two groups the **shift** ``bound`` such that a
claimed document beats a baseline document by more than it as often as not
(``theta(bound) = P(X - bound > Y) + P(=)/2 = 1/2``; estimated by the Hodges-Lehmann
median of pairwise differences), tested with the studentized Brunner-Munzel
permutation test; for paired per-document deltas the **median** delta, tested with the
exact sign test. The difference of means is computed and reported beside them
(``mean_difference``), never decided on: with many zeros and long right tails no test of
a mean difference keeps its level at a dozen documents (docs/statistics.md has the
simulation). :func:`mean_bound_test` is the mean-difference test the verdicts used
before; it is kept so that ``polytests calibrate`` shows its error rates beside the
current test's.
"""

from __future__ import annotations


import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import stats

from polytests.stats._validation import (
    SeedLike,
    check_finite_float,
    check_int,
    check_probability,
    check_samples,
    check_two_samples,
    make_rng,
)
from polytests.stats.effects import ConfidenceInterval
from polytests.stats.permutation import (
    min_attainable_pvalue,
    permutation_test,
    pvalues_from_null,
)
from polytests.stats.relative import hodges_lehmann, median_sign_test, relative_effect_test

__all__ = ["TAIL_GUARD_DOCUMENTS", "BoundTest", "bound_test", "paired_sign_pvalues", "bound_test_one_sample", "documents_needed", "mean_bound_test"]


@dataclass(frozen=True)
class BoundTest:
    """Result of :func:`bound_test`, :func:`bound_test_one_sample` or :func:`mean_bound_test`.

    Attributes
    ----------
    estimate : float
        The tested effect: the Hodges-Lehmann shift (median of ``x_i - y_j``) for two
        groups, the median of ``d`` for one (``mean_bound_test``: the mean difference).
    bound : float
        The smallest effect of interest, in the units of the data.
    pvalue_above, pvalue_below : float
        One-sided p-values for "effect > bound" and "effect < bound".
    ci : ConfidenceInterval
        Interval of ``estimate`` (for reading; the verdict is the tests').
    exact : bool
        Whether the resampling part enumerated every arrangement (or is exact by construction).
    min_pvalue : float
        The smallest p-value this design can produce.
    n_x, n_y : int
        Documents in each group (``n_y`` is 0 for the one-sample form).
    theta, theta_se : float
        The tested relative effect at the bound and its standard error (for
        :func:`documents_needed`): ``P(X - bound > Y) + P(=)/2`` for two groups, the share of
        ``d`` above the bound (ties half) for one; the claim holds above 1/2.
    mean_difference : float
        ``mean(x) - mean(y)`` (or ``mean(d)``), reported beside the tested effect.
    statistic, null_distribution
        The studentized statistic and its permutation null, for reports (empty for the sign test).
    resamples : int
        Monte Carlo resamples behind the p-values (0 when exact or analytic).
    above_range, below_range : tuple or None
        Where each p-value would lie with infinitely many resamples (99.9%); None when it
        has no Monte Carlo error.
    """

    estimate: float
    bound: float
    pvalue_above: float
    pvalue_below: float
    ci: ConfidenceInterval
    exact: bool
    min_pvalue: float
    n_x: int
    n_y: int
    theta: float
    theta_se: float
    mean_difference: float
    statistic: float = float("nan")
    null_distribution: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    resamples: int = 0
    above_range: tuple[float, float] | None = None  # Monte Carlo range of pvalue_above (None: exact)
    below_range: tuple[float, float] | None = None

    def span(self, side: str) -> tuple[float, float]:
        """The Monte Carlo range of ``pvalue_above`` (``side="above"``) or ``pvalue_below``; a point when exact."""
        p, span = (self.pvalue_above, self.above_range) if side == "above" else (self.pvalue_below, self.below_range)
        return span or (p, p)


def _shift_interval(x: np.ndarray, y: np.ndarray, se: float, confidence: float = 0.95) -> ConfidenceInterval:
    """Approximate interval of the Hodges-Lehmann shift: the shifts whose relative effect lies
    within ``z * se`` of 1/2 (the Brunner-Munzel test inverted, its standard error held at the
    estimate's), i.e. quantiles of the pairwise differences at ``1/2 -+ z * se``. ``se`` is never 0:
    each group's placement variance is floored (:func:`polytests.stats._rank_kernels.variance_floor`),
    so even complete separation gives an interval of the differences, not a point."""
    diffs = np.subtract.outer(x, y).ravel()
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    low_q, high_q = np.clip([0.5 - z * se, 0.5 + z * se], 0.0, 1.0)
    low, high = np.quantile(diffs, [low_q, high_q])
    return ConfidenceInterval(float(low), float(high), "inverted Brunner-Munzel")


def bound_test(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    bound: float,
    *,
    n_resamples: int = 9999,
    seed: SeedLike = None,
    tail_guard: bool = True,
) -> BoundTest:
    """Is ``x`` shifted above ``y`` by more than ``bound``, or by less? (see the module docstring).

    The relative effect ``theta(bound)`` against 1/2 with
    :func:`~polytests.stats.relative.relative_effect_test`. When the smaller group has fewer
    than :data:`TAIL_GUARD_DOCUMENTS` documents, each p-value is also at least the exact
    :func:`paired_sign_pvalues` one (``tail_guard=False`` turns that off, for the calibration's
    before/after rows only).
    """
    x_arr, y_arr = check_two_samples(x, y, min_n=2, allow_2d=False)
    bound = check_finite_float(bound, "bound")
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    test = relative_effect_test(x_arr, y_arr, bound, n_resamples=n_resamples, seed=seed)
    p_above, p_below = test.pvalue_above, test.pvalue_below
    above_range = None if test.exact else test.above_range
    below_range = None if test.exact else test.below_range
    min_p = test.min_pvalue
    if tail_guard and min(len(x_arr), len(y_arr)) < TAIL_GUARD_DOCUMENTS:
        # A small group (docs/statistics.md, "The deep tail of a small group"): a p must also pass
        # the exact sign test over disjoint random pairs.
        # An int seed gives the pairing a stream of its own; a Generator is used where the permutations left it
        # (a bool seed never gets here: relative_effect_test refused it).
        pair_rng = (np.random.default_rng([int(seed), _PAIR_STREAM]) if isinstance(seed, (int, np.integer))
                    else make_rng(seed))
        floor_above, floor_below = paired_sign_pvalues(x_arr, y_arr, bound, pair_rng)
        p_above, p_below = max(p_above, floor_above), max(p_below, floor_below)
        if above_range is not None:
            above_range = (max(above_range[0], floor_above), max(above_range[1], floor_above))
            below_range = (max(below_range[0], floor_below), max(below_range[1], floor_below))
        min_p = max(min_p, 0.5 ** min(len(x_arr), len(y_arr)))
    return BoundTest(
        estimate=hodges_lehmann(x_arr, y_arr), bound=bound,
        pvalue_above=p_above, pvalue_below=p_below,
        ci=_shift_interval(x_arr, y_arr, test.se), exact=test.exact, min_pvalue=min_p,
        n_x=len(x_arr), n_y=len(y_arr), theta=test.theta, theta_se=test.se,
        mean_difference=float(x_arr.mean() - y_arr.mean()), statistic=test.statistic,
        null_distribution=test.null_distribution, resamples=0 if test.exact else n_resamples,
        above_range=above_range, below_range=below_range,
    )


# Below this many documents in the smaller group the studentized test alone is liberal on skewed,
# zero-inflated shapes and when the bound sits on an atom: 2-3x at p <= 0.0025 and up to 1.5x at
# 0.025 one-sided with 10-20 documents; inside its band from 30 on (docs/statistics.md, "The deep
# tail of a small group"). Smaller groups' p-values must also pass the paired sign test.
TAIL_GUARD_DOCUMENTS = 30
_PAIR_STREAM = 0x7061697273  # keeps the pairing's random stream apart from the permutations'


def paired_sign_pvalues(x: np.ndarray, y: np.ndarray, bound: float, rng: np.random.Generator) -> tuple[float, float]:
    """Exact sign tests of ``theta(bound)`` against 1/2 over ``min(n_x, n_y)`` disjoint random pairs.

    Each document of the smaller group is paired with a different document of the other, drawn
    at random, so the pairs are independent and each ``x - bound - y`` is above 0 with
    probability at most 1/2 when ``theta(bound) <= 1/2`` (ties count for neither side): the
    binomial tail is then a valid p-value for any two shapes. ``(p_above, p_below)``.
    """
    n = min(len(x), len(y))
    xs = x if len(x) == n else x[rng.permutation(len(x))[:n]]
    ys = y if len(y) == n else y[rng.permutation(len(y))[:n]]
    xs = xs[rng.permutation(n)]
    d = xs - bound - ys
    return (float(stats.binom.sf(int(np.count_nonzero(d > 0)) - 1, n, 0.5)),
            float(stats.binom.sf(int(np.count_nonzero(d < 0)) - 1, n, 0.5)))


bound_test.estimand = "shift"  # what polytests.stats.shapes puts on the bound to calibrate it


def bound_test_one_sample(d: npt.ArrayLike, bound: float) -> BoundTest:
    """Is the median of paired per-document deltas ``d`` above ``bound``, or below? (exact sign test,
    with its order-statistic interval: no resampling).
    """
    d_arr = check_samples(d, "d", min_n=2, allow_2d=False)
    bound = check_finite_float(bound, "bound")
    test = median_sign_test(d_arr, bound)
    n = len(d_arr)
    theta = test.share_above + (1.0 - test.share_above - test.share_below) / 2
    return BoundTest(
        estimate=test.median, bound=bound, pvalue_above=test.pvalue_above, pvalue_below=test.pvalue_below,
        ci=ConfidenceInterval(test.ci[0], test.ci[1], "order statistics"), exact=True,
        min_pvalue=test.min_pvalue, n_x=n, n_y=0, theta=theta, theta_se=0.5 / math.sqrt(n),
        mean_difference=float(d_arr.mean()),
    )


# --------------------------------------------------------------------------
# the mean-difference test the verdicts used before (kept for the calibration's comparison)
# --------------------------------------------------------------------------


def _welch_one_sided(shifted_x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Welch p-values (greater, less) of mean(shifted_x) - mean(y) against 0, and the SE."""
    nx, ny = len(shifted_x), len(y)
    vx, vy = shifted_x.var(ddof=1) / nx, y.var(ddof=1) / ny
    se = math.sqrt(vx + vy)
    diff = float(shifted_x.mean() - y.mean())
    if se == 0.0:
        return (0.0 if diff > 0 else 1.0), (0.0 if diff < 0 else 1.0), 0.0
    t = diff / se
    df = (vx + vy) ** 2 / (vx**2 / (nx - 1) + vy**2 / (ny - 1))  # se > 0: one variance at least is
    return float(stats.t.sf(t, df)), float(stats.t.cdf(t, df)), se


def mean_bound_test(
    x: npt.ArrayLike, y: npt.ArrayLike, bound: float, *, n_resamples: int = 9999, seed: SeedLike = None,
) -> BoundTest:
    """``mean(x) - mean(y)`` against ``bound``: the larger p of the studentized permutation test
    and Welch's t, each way. NOT used for verdicts: on zero-inflated, long-tailed or scaled
    groups it calls a true effect "below the bound" far more often than alpha (docs/statistics.md);
    ``polytests calibrate`` runs it beside :func:`bound_test` to show that."""
    x_arr, y_arr = check_two_samples(x, y, min_n=2, allow_2d=False)
    bound = check_finite_float(bound, "bound")
    rng = make_rng(seed)
    shifted = x_arr - bound
    above = permutation_test(shifted, y_arr, alternative="greater", n_resamples=n_resamples,
                             seed=int(rng.integers(2**63)))
    below = float(pvalues_from_null(np.asarray(above.null_distribution, dtype=float)[None, :],
                                    np.array([above.statistic]), "less", above.exact)[0])
    w_above, w_below, se = _welch_one_sided(shifted, y_arr)
    diff = float(x_arr.mean() - y_arr.mean())
    return BoundTest(
        estimate=diff, bound=bound, pvalue_above=max(float(above.pvalue), w_above),
        pvalue_below=max(below, w_below), ci=ConfidenceInterval(diff, diff, "none"), exact=bool(above.exact),
        min_pvalue=float(min_attainable_pvalue(len(x_arr), len(y_arr), n_resamples)), n_x=len(x_arr),
        n_y=len(y_arr), theta=float("nan"), theta_se=se, mean_difference=diff, statistic=float(above.statistic),
        null_distribution=above.null_distribution, resamples=0 if above.exact else n_resamples,
    )


mean_bound_test.estimand = "mean"


def documents_needed(result: BoundTest, alpha: float, power: float = 0.8) -> float:
    """About how many documents (all groups together) would decide the claim at the observed effect.

    Normal approximation on the tested relative effect: its standard error shrinks as
    ``1/sqrt(n)`` with the group proportions kept, and a one-sided test at ``alpha``
    should reject with probability ``power`` if the true relative effect is the observed
    one. ``inf`` when it sits exactly on 1/2 (no sample size decides it).
    """
    alpha = check_probability(alpha, "alpha")
    power = check_probability(power, "power")
    n_now = result.n_x + result.n_y
    if math.isnan(result.theta):  # the mean-difference test: its own estimate and SE
        distance, se = abs(result.estimate - result.bound), result.theta_se
    else:
        distance, se = abs(result.theta - 0.5), result.theta_se
    if distance == 0.0:
        return math.inf
    if se == 0.0:
        return float(n_now)
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)
    return float(math.ceil((z * se / distance) ** 2 * n_now))
