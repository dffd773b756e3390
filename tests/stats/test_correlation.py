"""The document bootstrap-t of ``explained_by`` (polytests/stats/correlation.py)."""

from __future__ import annotations

import numpy as np
import pytest

from polytests.stats.calibration import acceptance_band
from polytests.stats.correlation import (
    _correlation_and_se,
    document_correlation_test,
    percentile_correlation_test,
    wrong_verdict_rates,
)


def _sums(x, y, doc):
    n = int(doc.max()) + 1
    return np.stack([np.bincount(doc, weights=v, minlength=n) for v in (np.ones_like(x), x, y, x * x, y * y, x * y)], 1)


def test_correlation_is_pearsons_over_tokens():
    rng = np.random.default_rng(0)
    doc = np.repeat(np.arange(20), 7)
    x, y = rng.normal(size=140), rng.normal(size=140)
    t = document_correlation_test(x, y, doc, 0.0, n_resamples=99, seed=0)
    assert t.correlation == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)


def test_standard_error_with_one_token_a_document_is_the_normal_theory_one():
    # Bivariate normal, independent pairs: the delta-method SE of r is (1 - rho^2) / sqrt(n).
    rng = np.random.default_rng(1)
    n, rho = 4000, 0.6
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)
    doc = np.arange(n)
    r, se = _correlation_and_se(_sums(x, y, doc), np.ones((1, n)))
    assert se[0] == pytest.approx((1 - r[0] ** 2) / np.sqrt(n), rel=0.05)


def test_standard_error_counts_documents_not_tokens():
    # Tokens of a document share their values: 50 documents of 40 identical tokens carry the
    # information of 50 tokens, and the SE must say so (the bootstrap SD of r agrees).
    rng = np.random.default_rng(2)
    xd, yd = rng.normal(size=50), rng.normal(size=50)
    yd = 0.5 * xd + yd
    doc = np.repeat(np.arange(50), 40)
    x, y = xd[doc], yd[doc]
    r, se = _correlation_and_se(_sums(x, y, doc), np.ones((1, 50)))
    _, se_one = _correlation_and_se(_sums(xd, yd, np.arange(50)), np.ones((1, 50)))
    assert se[0] == pytest.approx(se_one[0], rel=1e-9)
    w = rng.multinomial(50, np.full(50, 1 / 50), size=4000).astype(float)
    boot, _ = _correlation_and_se(_sums(x, y, doc), w)
    assert se[0] == pytest.approx(np.std(boot), rel=0.15)


def test_pvalues_point_the_right_way():
    rng = np.random.default_rng(3)
    doc = np.repeat(np.arange(60), 20)
    x = (rng.random(1200) < 0.2).astype(float)
    y = 2 * x + rng.normal(size=1200)
    t = document_correlation_test(x, y, doc, 0.2, n_resamples=999, seed=0)
    assert t.correlation > 0.6 and t.pvalue_above == pytest.approx(1 / 1000) and t.pvalue_below > 0.99
    assert t.ci[0] < t.correlation < t.ci[1] and t.ci[0] > 0.2
    t = document_correlation_test(x, y, doc, 0.95, n_resamples=999, seed=0)
    assert t.pvalue_below == pytest.approx(1 / 1000) and t.pvalue_above > 0.99
    assert t.pvalue_above == (1 + t.count_above) / 1000 and t.pvalue_below == (1 + t.count_below) / 1000


def test_undefined_replicates_count_against_both_verdicts():
    # Two documents hold every matching token: many resamples hold none, and their correlation is
    # undefined; counted as extreme on both sides, they keep p from looking small.
    rng = np.random.default_rng(4)
    doc = np.repeat(np.arange(12), 10)
    x = np.zeros(120)
    x[[3, 4, 55]] = 1.0
    y = x * 3 + rng.normal(size=120) * 0.1
    t = document_correlation_test(x, y, doc, 0.1, n_resamples=999, seed=0)
    share_without = (10 / 12) ** 12  # resamples missing both documents 0 and 5
    assert t.pvalue_above > 0.8 * share_without and t.count_below == 999


@pytest.mark.parametrize("bound", [1.0, -1.0, 1.5])
def test_bound_outside_the_open_interval_is_refused(bound):
    with pytest.raises(ValueError, match="bound"):
        document_correlation_test(np.r_[0.0, 1.0, 0.0], np.r_[1.0, 2.0, 0.5], np.r_[0, 1, 2], bound)


def test_constant_values_are_refused():
    with pytest.raises(ValueError, match="constant"):
        document_correlation_test(np.zeros(6), np.arange(6.0), np.repeat(np.arange(3), 2), 0.1)


def test_percentile_test_of_before_is_kept_for_comparison():
    rng = np.random.default_rng(5)
    doc = np.repeat(np.arange(40), 10)
    x = (rng.random(400) < 0.3).astype(float)
    y = x + rng.normal(size=400)
    above, below = percentile_correlation_test(x, y, doc, 0.0, n_resamples=199, seed=0)
    assert above == pytest.approx(1 / 200) and below > 0.99


def test_normal_tokens_keep_alpha_at_the_bound():
    # The bootstrap-t on well-behaved clustered data at the true correlation: each wrong verdict
    # at most alpha/2 within the binomial band (the long-tailed failure is in test_shapes.py).
    rng = np.random.default_rng(6)
    sims, alpha, wrong = 300, 0.05, 0
    rho = 0.5
    for i in range(sims):
        u = rng.normal(size=40)  # document effects shared by x and y
        doc = np.repeat(np.arange(40), 15)
        x = u[doc] + rng.normal(size=600)
        y = rho * 2 * x + rng.normal(size=600) * np.sqrt(4 * 2 * (1 - rho**2) / (1))
        # population correlation of (x, y): cov = 2 rho var(x) = 4 rho, var(y) = 4 rho^2 2 + 8 (1 - rho^2)
        true = 4 * rho / np.sqrt(2 * (8 * rho**2 + 8 * (1 - rho**2)))
        t = document_correlation_test(x, y, doc, true, n_resamples=199, seed=i)
        wrong += min(t.pvalue_above, t.pvalue_below) <= alpha / 2
    assert wrong / sims <= acceptance_band(sims, alpha)[1]


def test_rare_explanations_are_skipped_like_the_predicate_skips_them():
    r = wrong_verdict_rates(30, simulations=20, resamples=19, generator="rare explanation, SoLU-like")
    assert r["tested"] < 20


def test_top_k_calibration_rows_on_simulated_activations(monkeypatch):
    # The calibration of top_k_precision (polytests calibrate) on activations whose leading corpus
    # is a mixture: the binomial tests keep both wrong verdicts within the band.
    from types import SimpleNamespace

    from polytests.commands import calibrate_predicates

    rng = np.random.default_rng(7)
    sizes = {"a": 30, "b": 60, "c": 40}
    corpus = np.array([c for c, n in sizes.items() for _ in range(n)])
    lengths = rng.integers(20, 40, corpus.size)
    doc = np.repeat(np.arange(corpus.size), lengths)
    scale = np.where(corpus == "a", 1.5, 1.0)[doc]
    acts = rng.lognormal(0, 1, (doc.size, 4)) * scale[:, None] * (rng.random((doc.size, 4)) < 0.3)
    values = SimpleNamespace(token_doc=doc, token_acts=acts, corpus_of_doc=corpus,
                             token_ids=rng.integers(0, 50, doc.size))
    monkeypatch.setattr(calibrate_predicates, "TRUTH_DRAWS", 100)
    (row,) = calibrate_predicates.top_k_rows(values, n_claims=150, seed=0)
    assert row.n == 150 and row.ok, row


# --------------------------------------------------------------------------
# the verdicts' test: the median within-document correlation
# --------------------------------------------------------------------------


def _per_document_by_hand(x, y, doc):
    out = []
    for d in np.unique(doc):
        xs, ys = x[doc == d], y[doc == d]
        if np.ptp(xs) == 0:
            continue  # not contrasting: left out
        out.append(0.0 if np.ptp(ys) == 0 else float(np.corrcoef(xs, ys)[0, 1]))
    return np.array(out)


def test_document_correlations_are_numpys_per_document():
    from polytests.stats.correlation import document_correlations

    rng = np.random.default_rng(10)
    sizes = rng.integers(1, 30, 80)
    doc = np.repeat(np.arange(80), sizes)
    x = (rng.random(doc.size) < 0.2).astype(float)
    y = (rng.random(doc.size) < 0.3) * rng.lognormal(0, 1.5, doc.size) + 3.0 * x
    y[doc % 7 == 0] = 0.25  # constant activation in some documents: they count as 0
    got = document_correlations(x, y, doc)
    want = _per_document_by_hand(x, y, doc)
    assert got.shape == want.shape and want.size > 30
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.count_nonzero(got == 0.0) >= 5


def test_a_large_offset_does_not_make_a_constant_document_vary():
    from polytests.stats.correlation import document_correlations

    doc = np.repeat(np.arange(2), 6)
    x = np.tile([1.0, 0, 0, 1, 0, 0], 2)
    y = np.r_[np.full(6, 1e6 + 0.1), [1e6, 1e6 + 1, 1e6, 1e6 + 1, 1e6, 1e6]]
    r = document_correlations(x, y, doc)
    assert r[0] == 0.0 and r[1] == pytest.approx(np.corrcoef(x[6:], y[6:])[0, 1])


def test_within_document_test_is_scipys_sign_test():
    from scipy import stats

    from polytests.stats.correlation import within_document_correlation_test

    rng = np.random.default_rng(11)
    doc = np.repeat(np.arange(40), 25)
    x = (rng.random(doc.size) < 0.15).astype(float)
    y = x * rng.lognormal(0, 1, doc.size) * (rng.random(40) < 0.7)[doc] + 0.3 * rng.random(doc.size)
    r = _per_document_by_hand(x, y, doc)
    for bound in (0.1, 0.4, 0.7):
        t = within_document_correlation_test(x, y, doc, bound)
        above, below = int(np.sum(r > bound)), int(np.sum(r < bound))
        assert t.pvalue_above == pytest.approx(stats.binomtest(above, r.size, 0.5, alternative="greater").pvalue)
        assert t.pvalue_below == pytest.approx(stats.binomtest(below, r.size, 0.5, alternative="greater").pvalue)
        assert t.median == pytest.approx(np.median(r)) and t.documents == r.size
    assert t.pooled == pytest.approx(np.corrcoef(x, y)[0, 1])
    with pytest.raises(ValueError, match="strictly between"):
        within_document_correlation_test(x, y, doc, 1.0)
    with pytest.raises(ValueError, match="non-matching"):
        within_document_correlation_test(np.ones(10), np.arange(10.0), np.zeros(10, int), 0.3)
