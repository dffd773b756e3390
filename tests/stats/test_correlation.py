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


# --------------------------------------------------------------------------
# by hand: the cluster standard error, the bootstrap's bookkeeping, the per-document rules
# --------------------------------------------------------------------------


def _cluster_se_by_hand(x, y, doc):
    """The delta-method SE of Pearson's r with documents as clusters, from standardized tokens:
    each document contributes sum(u w - r (u^2 + w^2) / 2); se = sqrt(sum of squares) / tokens."""
    u = (x - x.mean()) / x.std()
    w = (y - y.mean()) / y.std()
    r = np.mean(u * w)
    per_doc = [np.sum(u[doc == d] * w[doc == d] - r * (u[doc == d] ** 2 + w[doc == d] ** 2) / 2)
               for d in np.unique(doc)]
    return r, np.sqrt(np.sum(np.square(per_doc))) / x.size


def test_standard_error_is_the_cluster_delta_method_by_hand():
    # far from 0 means and unequal scales: every centring term of the sums' form matters
    rng = np.random.default_rng(20)
    doc = np.repeat(np.arange(30), rng.integers(2, 12, 30))
    x = (rng.random(doc.size) < 0.3) * 4.0 + 7.0
    y = 3.0 * x + rng.normal(0, 5, doc.size) + rng.normal(0, 3, 30)[doc] - 40.0
    r, se = _correlation_and_se(_sums(x, y, doc), np.ones((1, 30)))
    r_hand, se_hand = _cluster_se_by_hand(x, y, doc)
    assert r[0] == pytest.approx(r_hand, rel=1e-10) and se[0] == pytest.approx(se_hand, rel=1e-9)
    assert document_correlation_test(x, y, doc, 0.0, n_resamples=9, seed=0).se == pytest.approx(se_hand, rel=1e-9)
    # a replicate's weights are document multiplicities: the same as repeating the documents
    weights = rng.multinomial(30, np.full(30, 1 / 30), size=3)
    r_b, se_b = _correlation_and_se(_sums(x, y, doc), weights.astype(float))
    for row in range(3):
        pick = np.repeat(np.arange(30), weights[row])
        xs = np.concatenate([x[doc == d] for d in pick])
        ys = np.concatenate([y[doc == d] for d in pick])
        ds = np.concatenate([np.full(np.sum(doc == d), i) for i, d in enumerate(pick)])
        rh, sh = _cluster_se_by_hand(xs, ys, ds)
        assert r_b[row] == pytest.approx(rh, rel=1e-9) and se_b[row] == pytest.approx(sh, rel=1e-9)


@pytest.mark.filterwarnings("error")
def test_perfect_correlation_with_zero_error_gives_no_verdict_and_no_warning():
    # x = y = (0, 1) in every document: r = 1 and every document's influence is exactly 0, so
    # se = 0; every replicate is the same data, its t undefined: both p-values are 1
    doc = np.repeat(np.arange(6), 2)
    x = np.tile([0.0, 1.0], 6)
    for y, r in ((x, 1.0), (1.0 - x, -1.0)):
        t = document_correlation_test(x, y, doc, 0.3, n_resamples=99, seed=0)
        assert t.correlation == r and t.se == 0.0
        assert t.pvalue_above == 1.0 and t.pvalue_below == 1.0 and t.ci == (-1.0, 1.0)


@pytest.mark.filterwarnings("error")
def test_undefined_replicates_are_the_resamples_without_the_contrasting_document():
    # only document 0 holds a matching token: a resample misses it with probability (1 - 1/n)^n,
    # and each such replicate counts on both sides (so count_above + count_below - B = undefined);
    # for the bootstrap-t so does a resample of document 0 alone (n^-n: no spread between documents)
    rng = np.random.default_rng(21)
    for n_docs in (2, 3):
        doc = np.repeat(np.arange(n_docs), 8)
        x = np.zeros(doc.size)
        x[[0, 3]] = 1.0
        y = x + rng.normal(0, 0.5, doc.size)
        b = 9999
        t = document_correlation_test(x, y, doc, 0.0, n_resamples=b, seed=1)
        share = (t.count_above + t.count_below - b) / b
        expected = (1 - 1 / n_docs) ** n_docs + n_docs ** -n_docs
        assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / b)
        expected = (1 - 1 / n_docs) ** n_docs
        above, below = percentile_correlation_test(x, y, doc, -0.999, n_resamples=b, seed=1)
        defined = 1 / above - 1  # every defined replicate is above -0.999
        assert abs((b - defined) / b - expected) < 4 * np.sqrt(expected * (1 - expected) / b)
        assert below == 1.0


def test_ties_with_the_bound_count_on_both_sides():
    # bound = the sample's correlation: the replicate drawing every document once has that
    # correlation exactly (probability n! / n^n); the percentile shares count it with <= and >=
    rng = np.random.default_rng(22)
    doc = np.repeat(np.arange(3), 6)
    x = np.tile([1.0, 0.0, 0.0], 6)
    y = x + rng.normal(0, 0.5, doc.size)
    r = document_correlation_test(x, y, doc, 0.0, n_resamples=9, seed=0).correlation
    b = 9999
    above, below = percentile_correlation_test(x, y, doc, r, n_resamples=b, seed=2)
    tied = (above + below) * (b + 1) - 2 - b
    assert abs(tied / b - 6 / 27) < 4 * np.sqrt(6 / 27 * 21 / 27 / b)


def test_every_replicate_is_counted_once_over_several_chunks():
    # 2,000 documents: replicates come in chunks of 2,000; 4,001 of them span three chunks
    rng = np.random.default_rng(23)
    doc = np.repeat(np.arange(2000), 2)
    x = rng.normal(size=4000)
    y = 0.3 * x + rng.normal(size=4000)
    t = document_correlation_test(x, y, doc, 0.3, n_resamples=4001, seed=0)
    assert t.replicates == 4001 and t.count_above + t.count_below == 4001
    assert t.pvalue_above == (1 + t.count_above) / 4002 and 0 < t.pvalue_below <= 1


def test_interval_is_about_the_normal_one_in_a_large_sample():
    rng = np.random.default_rng(24)
    doc = np.repeat(np.arange(400), 5)
    x = rng.normal(size=2000)
    y = 0.5 * x + rng.normal(size=2000)
    t = document_correlation_test(x, y, doc, 0.0, n_resamples=1999, seed=3)
    z, se_z = np.arctanh(t.correlation), t.se / (1 - t.correlation ** 2)
    normal = np.tanh(z - 1.96 * se_z), np.tanh(z + 1.96 * se_z)
    assert t.ci[0] == pytest.approx(normal[0], abs=0.01) and t.ci[1] == pytest.approx(normal[1], abs=0.01)


def test_interval_needs_two_defined_replicates():
    rng = np.random.default_rng(25)
    doc = np.repeat(np.arange(20), 5)
    x = rng.normal(size=100)
    y = x + rng.normal(size=100)
    assert document_correlation_test(x, y, doc, 0.0, n_resamples=1, seed=0).ci == (-1.0, 1.0)
    lo, hi = document_correlation_test(x, y, doc, 0.0, n_resamples=2, seed=0).ci
    assert -1.0 < lo < hi < 1.0


def test_defaults_seeds_and_argument_errors():
    rng = np.random.default_rng(26)
    doc = np.repeat(np.arange(30), 4)
    x = (rng.random(120) < 0.3).astype(float)
    y = x + rng.normal(size=120)
    t = document_correlation_test(x, y, doc, -0.5)
    assert t.replicates == 9999 and t.pvalue_above == pytest.approx(1 / 10000)
    above, _ = percentile_correlation_test(x, y, doc, -0.5)
    assert above == pytest.approx(1 / 10000)
    same = [document_correlation_test(x, y, doc, 0.4, n_resamples=199, seed=s).count_above for s in (5, 5, 6)]
    assert same[0] == same[1] != same[2]
    perc = [percentile_correlation_test(x, y, doc, 0.4, n_resamples=199, seed=s) for s in (5, 5, 6)]
    assert perc[0] == perc[1] != perc[2]
    assert document_correlation_test(x, y, doc, 0.0, n_resamples=1, seed=0).replicates == 1
    with pytest.raises(ValueError, match="`bound`"):
        document_correlation_test(x, y, doc, float("nan"))
    with pytest.raises(ValueError, match="`n_resamples`"):
        document_correlation_test(x, y, doc, 0.0, n_resamples=0)
    with pytest.raises(ValueError, match="^the correlation is undefined"):
        document_correlation_test(np.zeros(6), np.arange(6.0), np.repeat(np.arange(3), 2), 0.1)


@pytest.mark.parametrize("func", ["document_correlation_test", "document_correlations"])
@pytest.mark.parametrize("shapes", [((4,), (3,), (4,)), ((4,), (4,), (3,)), ((2, 2), (2, 2), (2, 2))])
def test_mismatched_or_2d_inputs_are_refused(func, shapes):
    from polytests.stats import correlation

    x, y, doc = (np.zeros(s) for s in shapes)
    x.flat[0], y.flat[1] = 1.0, 1.0
    args = (x, y, doc.astype(int), 0.0) if func == "document_correlation_test" else (x, y, doc.astype(int))
    with pytest.raises(ValueError, match=r"^`x`, `y` and `doc` must be 1-D arrays of one length"):
        getattr(correlation, func)(*args)


def test_percentile_pvalues_are_shares_of_replicates_at_or_beyond_the_bound():
    # one token per document: the document bootstrap is scipy's paired bootstrap of pairs
    from scipy import stats

    rng = np.random.default_rng(27)
    x = rng.normal(size=40)
    y = 0.4 * x + rng.normal(size=40) + 5.0
    doc = np.arange(40)
    res = stats.bootstrap((x, y), lambda a, b: stats.pearsonr(a, b).statistic, paired=True, vectorized=False,
                          n_resamples=2999, rng=1, method="percentile")
    boot = res.bootstrap_distribution
    for bound in (0.1, 0.35, 0.6):
        above, below = percentile_correlation_test(x, y, doc, bound, n_resamples=2999, seed=2)
        for ours, share in ((above, np.mean(boot <= bound)), (below, np.mean(boot >= bound))):
            assert 0 < ours <= 1
            assert abs(ours - share) < 4 * np.sqrt(max(share * (1 - share), 1e-3) / 2999) + 1e-3
    assert percentile_correlation_test(x, y, doc, -0.9, n_resamples=999, seed=0) == (1 / 1000, 1.0)
    assert percentile_correlation_test(x, y, doc, 0.99, n_resamples=999, seed=0) == (1.0, 1 / 1000)


@pytest.mark.filterwarnings("error")
def test_document_correlation_rules_at_their_edges():
    from polytests.stats.correlation import document_correlations

    assert document_correlations([], [], []).shape == (0,)
    # a two-token document with one matching token is contrasting: r = +-1
    np.testing.assert_array_equal(document_correlations([1.0, 0.0, 0.0, 1.0], [2.0, 1.0, 3.0, 0.5], [0, 0, 1, 1]),
                                  [1.0, -1.0])
    # a silent document (all zeros) counts as 0, not NaN
    assert document_correlations([1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0, 0, 0]).tolist() == [0.0]
    # silent_below: a range at most silent_below is silence; above it, the correlation
    x, y, doc = [1.0, 0.0, 0.0, 0.0], [1.5, 1.0, 1.0, 1.25], [0, 0, 0, 0]
    r = float(np.corrcoef(x, y)[0, 1])
    assert document_correlations(x, y, doc, silent_below=0.5).tolist() == [0.0]
    assert document_correlations(x, y, doc, silent_below=0.25) == pytest.approx([r])
    assert document_correlations(x, y, doc) == pytest.approx([r])


@pytest.mark.parametrize("offset", [1.0, 1e3])
def test_a_spread_below_1e_10_of_the_largest_value_is_rounding(offset):
    from polytests.stats.correlation import document_correlations

    doc = np.zeros(100, dtype=int)
    signal = np.r_[np.ones(50), -np.ones(50)]
    x_match = np.r_[np.ones(50), np.zeros(50)]
    for rms, counts in ((1e-11, False), (1e-9, True)):
        # x varying by rms * offset only: contrasting when that is above rounding
        got = document_correlations(offset + rms * offset * signal, signal, doc)
        assert got.size == (1 if counts else 0)
        # y varying by that little: a correlation when above rounding, else 0
        got = document_correlations(x_match, offset + rms * offset * signal, doc)
        assert got == pytest.approx([1.0] if counts else [0.0], abs=1e-6)
        assert counts or got[0] == 0.0


def test_correlations_stay_in_the_closed_interval():
    from polytests.stats.correlation import document_correlations

    rng = np.random.default_rng(28)
    doc = np.repeat(np.arange(500), 7)
    x = (rng.random(doc.size) < 0.4).astype(float)
    y = rng.normal(size=500)[doc] * 1e3 * x + rng.normal(size=500)[doc] * 1e5  # exactly linear in x
    r = document_correlations(x, y, doc)
    assert np.all(np.abs(r) <= 1.0) and np.all(np.abs(np.abs(r) - 1) < 1e-9)


@pytest.mark.filterwarnings("error")
def test_within_document_result_is_the_sign_test_of_the_documents():
    from polytests.stats.correlation import document_correlations, within_document_correlation_test
    from polytests.stats.relative import median_sign_test

    rng = np.random.default_rng(29)
    doc = np.repeat(np.arange(30), 12)
    x = (rng.random(doc.size) < 0.25).astype(float)
    y = x * rng.lognormal(0, 1, doc.size) * (rng.random(30) < 0.7)[doc] + 0.05 * rng.random(doc.size)
    for confidence, silent_below in ((0.95, 0.0), (0.8, 0.3)):
        got = within_document_correlation_test(x, y, doc, 0.2, confidence=confidence, silent_below=silent_below)
        want = median_sign_test(document_correlations(x, y, doc, silent_below=silent_below), 0.2,
                                confidence=confidence)
        assert (got.median, got.ci, got.pvalue_above, got.pvalue_below, got.share_above, got.share_below,
                got.documents, got.min_pvalue) == (want.median, want.ci, want.pvalue_above, want.pvalue_below,
                                                   want.share_above, want.share_below, want.n, want.min_pvalue)
    loose = within_document_correlation_test(x, y, doc, 0.2, silent_below=0.3)
    assert loose != within_document_correlation_test(x, y, doc, 0.2)
    # a silent neuron: every contrasting document counts 0; the pooled correlation is undefined
    silent = within_document_correlation_test(x, np.zeros_like(y), doc, 0.2)
    assert silent.median == 0.0 and np.isnan(silent.pooled)
    assert within_document_correlation_test([0.0, 1.0], [0.0, 1.0], [0, 0], 0.2).pooled == pytest.approx(1.0)
    for bound in (-1.0, 1.0, float("nan")):
        with pytest.raises(ValueError, match="`bound`"):
            within_document_correlation_test(x, y, doc, bound)
    with pytest.raises(ValueError, match="^no document holds"):
        within_document_correlation_test(np.ones(10), np.arange(10.0), np.zeros(10, int), 0.3)


def test_wrong_verdict_rates_reports_shares_of_the_tested_samples():
    import math

    kw = dict(n_docs=30, simulations=12, resamples=19, seed=3)
    sign = wrong_verdict_rates(**kw)
    assert set(sign) == {"rho", "tested", "confirmed", "refuted", "any_wrong"}
    assert 0 < sign["tested"] <= 12 and sign == wrong_verdict_rates(**kw)  # seeded: the same run twice
    for name in ("confirmed", "refuted"):
        assert 0 <= sign[name] <= 1 and (sign[name] * sign["tested"]).is_integer()
    assert sign["any_wrong"] == pytest.approx(sign["confirmed"] + sign["refuted"])
    kw = dict(n_docs=30, simulations=60, resamples=49, seed=3)
    boot = wrong_verdict_rates(**kw, test="bootstrap-t")
    perc = wrong_verdict_rates(**kw, test="percentile")
    assert boot == wrong_verdict_rates(**kw, test="bootstrap-t") and perc == wrong_verdict_rates(**kw, test="percentile")
    assert boot["rho"] == perc["rho"] != sign["rho"]  # the pooled correlation vs the median within documents
    assert perc["confirmed"] > boot["confirmed"]  # the percentile bootstrap's liberal side (why it was replaced)
    kw = dict(n_docs=30, simulations=12, resamples=19, seed=3)
    rare = wrong_verdict_rates(**kw, test="bootstrap-t", generator="rare explanation, SoLU-like")
    assert rare["tested"] < 12  # samples with too few documents holding the explanation are skipped
    none = wrong_verdict_rates(n_docs=5, simulations=3, resamples=9)  # never 10 contrasting documents
    assert none["tested"] == 0 and math.isnan(none["confirmed"]) and math.isnan(none["any_wrong"])
