"""The verdicts' error rates at the bound on the shapes activations have (fast versions of the
table in docs/statistics.md; `python -m polytests.stats.shapes` runs the full sizes)."""

from __future__ import annotations

import pytest

from polytests.stats.calibration import acceptance_band
from polytests.stats.shapes import SHAPES, wrong_verdict_rates

SIMULATIONS, RESAMPLES, ALPHA = 400, 199, 0.05
AUDITED = [s for s in SHAPES if s.in_issue]


@pytest.mark.parametrize("shape", AUDITED, ids=[s.name for s in AUDITED])
def test_no_wrong_verdict_more_often_than_alpha_at_the_bound(shape):
    r = wrong_verdict_rates(shape, "shift", simulations=SIMULATIONS, resamples=RESAMPLES, alpha=ALPHA, seed=1)
    high = acceptance_band(SIMULATIONS, ALPHA)[1]
    assert r.confirmed <= high and r.refuted <= high and r.any_wrong <= high, r


@pytest.mark.parametrize("shape", [s for s in AUDITED if "zero-inflated" in s.name][:1], ids=lambda s: s.name)
def test_the_mean_difference_test_fails_on_the_same_shape(shape):
    # What the verdicts used before: "refuted" about 30% of the time at alpha .05 with the true
    # mean difference on the bound. This is why the tested effect is the shift.
    r = wrong_verdict_rates(shape, "mean", simulations=SIMULATIONS, resamples=RESAMPLES, alpha=ALPHA, seed=1)
    assert r.refuted > 3 * acceptance_band(SIMULATIONS, ALPHA)[1]


def test_harder_shapes_keep_the_family_rate():
    # Large atoms at zero and 8-12 documents: each side at alpha / 2, any wrong verdict within the band
    # (the confirmed side alone runs above its half: docs/statistics.md reports it).
    high = acceptance_band(SIMULATIONS, ALPHA)[1]
    for shape in [s for s in SHAPES if not s.in_issue]:
        r = wrong_verdict_rates(shape, "shift", simulations=SIMULATIONS, resamples=RESAMPLES, alpha=ALPHA, seed=2)
        assert r.any_wrong <= high, r
