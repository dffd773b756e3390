"""The three-decision family correction and Monte Carlo resolution (polytests/verdicts/family.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from polytests.stats.bounds import bound_test
from polytests.stats.calibration import acceptance_band
from polytests.stats.multiplicity import monte_carlo_range
from polytests.verdicts import FamilyDecision, family_verdicts


def test_holm_runs_over_both_sides_of_every_claim():
    sides = [(0.001, 0.999), (0.6, 0.02), (None, 1.0), (0.04, 0.97)]
    decisions = family_verdicts(sides, [((a or 1.0, a or 1.0), (b, b)) for a, b in sides], "holm")
    flat = [0.001, 0.6, 1.0, 0.04, 0.999, 0.02, 1.0, 0.97]
    expected = multipletests(flat, method="holm")[1]
    assert [d.above for d in decisions] == pytest.approx(expected[:4])
    assert [d.below for d in decisions] == pytest.approx(expected[4:])
    assert decisions[0].decision_p == pytest.approx(expected[0])


def test_any_wrong_verdict_in_a_family_at_the_bound_stays_within_alpha():
    # Five claims whose true shift equals the bound (x and y from one distribution, bound 0):
    # either verdict is wrong. Holm over the ten one-sided hypotheses keeps P(any) <= alpha.
    rng = np.random.default_rng(3)
    families, alpha, wrong = 300, 0.05, 0
    for f in range(families):
        sides = []
        for c in range(5):
            x, y = rng.exponential(1, 12), rng.exponential(1, 40)
            r = bound_test(x, y, 0.0, n_resamples=199, seed=f * 10 + c)
            sides.append((r.pvalue_above, r.pvalue_below))
        decisions = family_verdicts(sides, [((a, a), (b, b)) for a, b in sides], "holm")
        wrong += any(min(d.above, d.below) <= alpha for d in decisions)
    assert wrong / families <= acceptance_band(families, alpha)[1]


def test_monte_carlo_range_is_clopper_pearson_and_contains_the_estimate():
    low, high = monte_carlo_range(30, 999, risk=0.001)
    assert low == pytest.approx(stats.beta.ppf(0.0005, 30, 970))
    assert high == pytest.approx(stats.beta.ppf(0.9995, 31, 969))
    assert monte_carlo_range(0, 999)[0] == 0.0 and monte_carlo_range(0, 999)[1] >= 1 / 1000
    with pytest.raises(ValueError, match="exceedances"):
        monte_carlo_range(5, 4)


def test_a_decision_within_monte_carlo_error_of_alpha_is_not_resolved():
    near = family_verdicts([(0.024, 0.99)], [((0.015, 0.035), (0.99, 0.99))], "holm")[0]  # Holm over two sides
    assert near.shown(0.05) == "above" and not near.resolved(0.05)
    clear = family_verdicts([(0.001, 0.99)], [((0.0005, 0.002), (0.99, 0.99))], "holm")[0]
    assert clear.resolved(0.05)
    # not shown, but the range reaches alpha: not resolved either
    maybe = family_verdicts([(0.03, 0.99)], [((0.02, 0.04), (0.99, 0.99))], "holm")[0]
    assert maybe.shown(0.05) is None and not maybe.resolved(0.05)
    assert FamilyDecision(0.5, 0.6, (0.4, 0.6), (0.5, 0.7)).resolved(0.05)


@pytest.mark.parametrize("correction, sm", [("holm", "holm"), ("bonferroni", "bonferroni"), ("bh", "fdr_bh")])
def test_each_end_of_the_monte_carlo_ranges_is_adjusted_over_both_sides_of_every_claim(correction, sm):
    sides = [(0.01, 0.9), (None, 0.001), (0.3, 0.02)]  # untested: p = 1 on both sides, whatever it says below
    ranges = [((0.005, 0.02), (0.85, 0.95)),
              ((0.0, 0.001), (0.0, 0.001)),  # an untested claim's ranges are ignored: it enters at p = 1
              ((0.25, 0.35), (0.01, 0.04))]
    decisions = family_verdicts(sides, ranges, correction)
    flat = [0.01, 1.0, 0.3, 0.9, 1.0, 0.02]
    lows = [0.005, 1.0, 0.25, 0.85, 1.0, 0.01]
    highs = [0.02, 1.0, 0.35, 0.95, 1.0, 0.04]
    adjusted, low, high = (multipletests(p, method=sm)[1] for p in (flat, lows, highs))
    for i, d in enumerate(decisions):
        assert (d.above, d.below) == pytest.approx((adjusted[i], adjusted[3 + i]))
        assert d.above_range == pytest.approx((low[i], high[i]))
        assert d.below_range == pytest.approx((low[3 + i], high[3 + i]))
        assert all(type(v) is float for v in (d.above, d.below, *d.above_range, *d.below_range))
    assert family_verdicts([], [], correction) == []
    with pytest.raises(ValueError):  # a range per claim, or the ranges would be another claim's
        family_verdicts(sides, ranges[:2], correction)


def test_a_side_is_shown_at_alpha_and_resolved_when_its_whole_range_is():
    alpha = 0.05
    assert FamilyDecision(0.05, 0.9, (0.05, 0.05), (0.9, 0.9)).shown(alpha) == "above"
    assert FamilyDecision(0.9, 0.05, (0.9, 0.9), (0.05, 0.05)).shown(alpha) == "below"
    assert FamilyDecision(0.06, 0.9, (0.06, 0.06), (0.9, 0.9)).shown(alpha) is None
    # the bracket of a side is that side's range
    d = FamilyDecision(0.04, 0.5, (0.03, 0.05), (0.4, 0.6))
    assert d.bracket("above") == (0.03, 0.05) and d.bracket("below") == (0.4, 0.6)
    # shown: resolved when the top of its range is at most alpha
    assert d.resolved(alpha)
    assert not FamilyDecision(0.04, 0.5, (0.03, 0.051), (0.4, 0.6)).resolved(alpha)
    below = FamilyDecision(0.5, 0.04, (0.4, 0.6), (0.03, 0.05))
    assert below.shown(alpha) == "below" and below.resolved(alpha)
    assert not FamilyDecision(0.5, 0.04, (0.4, 0.6), (0.03, 0.06)).resolved(alpha)
    # not shown: resolved only when neither range reaches alpha (a range starting at alpha could be shown)
    assert FamilyDecision(0.3, 0.5, (0.051, 0.6), (0.4, 0.6)).resolved(alpha)
    assert not FamilyDecision(0.3, 0.5, (0.05, 0.6), (0.4, 0.6)).resolved(alpha)
    assert not FamilyDecision(0.5, 0.3, (0.4, 0.6), (0.05, 0.6)).resolved(alpha)
