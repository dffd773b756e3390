"""Every predicate on stores with planted activations: each must be able to pass and to fail."""

from __future__ import annotations

import numpy as np
import pytest

from polytests.claims.evaluate import EvaluationContext, evaluate_predicate
from polytests.claims.model import (
    Claim,
    ExplainedBy,
    FiresOn,
    NotExplainedByOneToken,
    Polysemantic,
    SilentOn,
    TokenMatched,
    TopKPrecision,
)
from polytests.claims.results import PredicateResult
from polytests.neurons import NeuronRef
from polytests.verdicts import FamilyDecision, family_verdicts
from polytests.verdicts.decide import claim_pvalues, claim_ranges, decide
from tests.helpers import synthetic_store

VOCAB = [".", " the", " a", " b", " c", " x", " y", " shared", " z", " w"]
PERIOD, THE, A, B, C, X, Y, SHARED, Z, W = range(10)
NEURON = NeuronRef(0, 0)


def make_docs(rng, n_docs, tokens, length=(20, 40)):
    return [list(rng.choice(tokens, size=rng.integers(*length))) for _ in range(n_docs)]


def evaluate(store, predicate, resamples=9999):
    ctx = EvaluationContext(store, VOCAB, n_resamples=resamples, seed=1)
    claim = Claim("c", "s", NEURON, (predicate,))
    return evaluate_predicate(ctx, claim, 0, predicate)


@pytest.fixture(scope="module")
def corpora():
    rng = np.random.default_rng(0)
    return {
        "spanish": make_docs(rng, 14, [A, THE, SHARED, PERIOD]),
        "fortran": make_docs(rng, 14, [B, THE, SHARED, PERIOD]),
        "medical": make_docs(rng, 14, [C, PERIOD, PERIOD, PERIOD, THE]),
        "prose": make_docs(rng, 14, [X, Y, THE, PERIOD]),
        "legal": make_docs(rng, 14, [Z, W, THE]),
    }


def planted(corpora, fn, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    return synthetic_store(corpora, lambda c, i, toks: [fn(c, t) + noise * rng.normal() for t in toks])


def verdict_of(r, alpha=0.05, m=1):
    """The verdict a one-claim family gives this predicate result."""
    above, below = claim_pvalues([r])
    return decide([r], above, below, one_claim_family(r), alpha, m, "holm")[0]


def one_claim_family(r):
    return family_verdicts([claim_pvalues([r])], [claim_ranges([r])], "holm")[0]


def test_fires_on_detects_a_real_feature_and_refutes_a_wrong_corpus(corpora):
    store = planted(corpora, lambda c, t: 1.0 if t == A else 0.0)
    hit = evaluate(store, FiresOn("spanish"))
    miss = evaluate(store, FiresOn("legal"))
    assert hit.pvalue <= 0.002 and hit.estimate > hit.bound > 0 and verdict_of(hit) == "confirmed"
    assert miss.pvalue > 0.5 and miss.pvalue_refute <= 0.01 and verdict_of(miss) == "refuted"
    assert hit.ci[0] <= hit.estimate <= hit.ci[1] and hit.units == "activation"


def test_a_tiny_effect_is_refuted_not_confirmed(corpora):
    # Spanish is reliably above every other corpus, by 2% of the neuron's scale: detectable,
    # and below the 5% bound. The old rule (any detectable difference) confirmed this.
    # The neuron's scale comes from a few strong activations in prose (not compared here).
    rng = np.random.default_rng(3)
    store = synthetic_store(corpora, lambda c, i, toks: [
        (1.0 if (c == "prose" and j < 3) else 0.0) + (0.02 if c == "spanish" else 0.0)
        + 0.002 * rng.normal() for j, _ in enumerate(toks)])
    r = evaluate(store, FiresOn("spanish", baseline=("fortran", "medical", "legal")))
    assert r.numbers["scale"] == pytest.approx(1.0, abs=0.01)
    assert r.estimate == pytest.approx(0.02, abs=0.002) and r.bound == pytest.approx(0.05, abs=0.001)
    zero_bound = evaluate(store, FiresOn("spanish", baseline=("fortran", "medical", "legal"), min_effect=0.0))
    assert zero_bound.pvalue <= 0.002 and verdict_of(zero_bound) == "confirmed"  # the difference is real...
    assert verdict_of(r) == "refuted" and r.pvalue_refute <= 0.01  # ...and smaller than claimed


def test_a_p_of_about_0_2_is_inconclusive_not_refuted():
    # Twelve noisy documents a side, the estimate above the bound but not shown to be: undecided.
    rng = np.random.default_rng(11)
    docs = {"a": make_docs(rng, 12, [A]), "b": make_docs(rng, 12, [B])}
    offsets = {("a", i): 0.03 + 0.3 * v for i, v in enumerate(np.random.default_rng(2).normal(size=12))}
    offsets |= {("b", i): 0.3 * v for i, v in enumerate(np.random.default_rng(3).normal(size=12))}
    store = synthetic_store(docs, lambda c, i, toks: [offsets[c, i] for _ in toks])
    r = evaluate(store, FiresOn("a", min_effect=0.0))
    assert 0.1 < r.pvalue < 0.4 and r.pvalue_refute > 0.5
    verdict, reason = decide([r], *claim_pvalues([r]), one_claim_family(r), 0.05, 1, "holm")
    assert verdict == "inconclusive" and "documents would decide it" in reason


def test_period_artifact_is_refuted(corpora):
    # Fires on "." wherever it is; medical text simply has more periods.
    store = planted(corpora, lambda c, t: 1.0 if t == PERIOD else 0.0)
    assert evaluate(store, FiresOn("medical", versus="pooled")).pvalue <= 0.002
    artifact = evaluate(store, NotExplainedByOneToken("medical"))
    assert artifact.numbers["token"] == "." and artifact.numbers["share_of_activation"] > 0.9
    assert artifact.pvalue > 0.05 and verdict_of(artifact) == "refuted"
    # A neuron that fires on medical content words survives the same check.
    real = planted(corpora, lambda c, t: 1.0 if t in (C,) else (0.5 if c == "medical" else 0.0))
    survived = evaluate(real, NotExplainedByOneToken("medical"))
    assert survived.pvalue <= 0.01 and verdict_of(survived) == "confirmed"


def test_polysemantic_through_shared_tokens_is_caught_by_exclusion(corpora):
    store = planted(corpora, lambda c, t: 1.0 if t == SHARED else 0.0)
    naive = evaluate(store, Polysemantic(("spanish", "fortran")))
    controlled = evaluate(store, Polysemantic(("spanish", "fortran"), exclude_shared_tokens=True))
    assert naive.pvalue <= 0.002 and verdict_of(naive) == "confirmed"
    assert controlled.numbers["excluded_token_types"] >= 2 and verdict_of(controlled) == "refuted"
    genuine = planted(corpora, lambda c, t: 1.0 if t in (A, B) else 0.0)
    assert verdict_of(evaluate(genuine, Polysemantic(("spanish", "fortran"), exclude_shared_tokens=True))) \
        == "confirmed"
    # One of the two corpora missing: the intersection-union p is the larger one.
    half = planted(corpora, lambda c, t: 1.0 if t == A else 0.0)
    r = evaluate(half, Polysemantic(("spanish", "fortran")))
    assert r.pvalue == r.numbers["per_corpus"]["fortran"]["p_above"] > 0.05 and verdict_of(r) == "refuted"


def test_silent_on_needs_evidence_of_equivalence(corpora):
    store = planted(corpora, lambda c, t: 0.0, noise=0.05)
    quiet = evaluate(store, SilentOn("legal", margin=0.2))
    assert quiet.pvalue <= 0.01 and verdict_of(quiet) == "confirmed"
    loud = evaluate(planted(corpora, lambda c, t: 1.0 if t in (Z, W) else 0.0), SilentOn("legal", margin=0.2))
    assert loud.pvalue > 0.5 and verdict_of(loud) == "refuted"
    # Without a margin, the bound is min_effect x the neuron's scale.
    default = evaluate(store, SilentOn("legal"))
    assert default.bound == pytest.approx(0.05 * default.numbers["scale"])


def test_token_matched_control(corpora):
    # The same token " the" fires in Spanish context only: a context effect.
    context = planted(corpora, lambda c, t: 1.0 if (t == THE and c == "spanish") else 0.0)
    r = evaluate(context, TokenMatched("spanish", against="fortran", min_occurrences=20))
    assert r.pvalue <= 0.002 and " the" in r.numbers["token_types"] and verdict_of(r) == "confirmed"
    # Pure token identity: " the" fires everywhere; matched on the token, no difference remains.
    identity = evaluate(planted(corpora, lambda c, t: 1.0 if t == THE else 0.0),
                        TokenMatched("spanish", against="fortran", min_occurrences=20))
    assert identity.pvalue > 0.05 and verdict_of(identity) == "refuted"
    none = evaluate(planted(corpora, lambda c, t: 0.0),
                    TokenMatched("spanish", against="legal", min_occurrences=10_000))
    assert none.pvalue is None and "no token type" in none.inconclusive_reason


def test_top_k_precision(corpora):
    from scipy import stats

    store = planted(corpora, lambda c, t: 1.0 if t == A else 0.0)
    good = evaluate(store, TopKPrecision(("spanish",), k=10, min_precision=0.6))
    assert good.numbers["precision"] == 1.0 and verdict_of(good) == "confirmed"
    assert good.pvalue == pytest.approx(stats.binomtest(10, 10, 0.6, alternative="greater").pvalue)
    bad = evaluate(store, TopKPrecision(("legal",), k=10, min_precision=0.8))
    assert bad.numbers["precision"] == 0.0 and verdict_of(bad) == "refuted"
    assert bad.pvalue_refute == pytest.approx(stats.binomtest(0, 10, 0.8, alternative="less").pvalue)


def test_explained_by_over_tokens_describes_the_correlation_and_never_decides(corpora):
    # A pooled correlation has no test that keeps its error rates on long-tailed activations
    # (docs/statistics.md): however clear the data, the verdict is inconclusive and says why.
    store = planted(corpora, lambda c, t: 1.0 if t in (A, B) else 0.0, noise=0.2)
    right = evaluate(store, ExplainedBy(tokens=(" a", " b"), min_correlation=0.5))
    assert right.numbers["correlation"] > 0.8 and right.numbers["recall"] > 0.9
    assert right.pvalue is None and right.pvalue_refute is None and verdict_of(right) == "inconclusive"
    assert 'over = "documents" is exact' in right.inconclusive_reason
    assert right.ci[0] > 0.5 and right.estimate == right.numbers["correlation"]
    assert right.numbers["bootstrap_pvalue_above"] <= 0.002
    wrong = evaluate(store, ExplainedBy(regex=r"^ [xyz]$", min_correlation=0.3))
    assert wrong.numbers["correlation"] < 0.1 and wrong.pvalue is None and verdict_of(wrong) == "inconclusive"
    assert wrong.numbers["bootstrap_pvalue_below"] <= 0.002


def test_explained_by_over_documents_decides_both_ways(corpora):
    store = planted(corpora, lambda c, t: 1.0 if t in (A, B) else 0.0, noise=0.2)
    right = evaluate(store, ExplainedBy(tokens=(" a", " b"), min_correlation=0.5, over="documents"))
    assert right.numbers["correlation"] > 0.8 and verdict_of(right) == "confirmed"
    wrong = evaluate(store, ExplainedBy(regex=r"^ [xyz]$", min_correlation=0.3, over="documents"))
    assert wrong.numbers["correlation"] < 0.1 and verdict_of(wrong) == "refuted"


def test_explained_by_needs_ten_documents_holding_the_explanation():
    # " w" occurs in 9 documents only: a correlation carried by 9 documents is not judged.
    rng = np.random.default_rng(1)
    docs = {"a": make_docs(rng, 9, [W, THE]), "b": make_docs(rng, 30, [THE, X])}
    r = evaluate(planted(docs, lambda c, t: 1.0 if t == W else 0.0), ExplainedBy(tokens=(" w",), min_correlation=0.3))
    assert r.pvalue is None and "too few documents hold a matching token: 9" in r.inconclusive_reason
    docs["a"] = make_docs(rng, 10, [W, THE])
    r = evaluate(planted(docs, lambda c, t: 1.0 if t == W else 0.0), ExplainedBy(tokens=(" w",), min_correlation=0.3))
    assert r.numbers["documents_matching"] == 10 and "too few" not in r.inconclusive_reason


def test_too_few_documents_is_inconclusive_not_refuted():
    rng = np.random.default_rng(0)
    docs = {"a": make_docs(rng, 1, [A]), "b": make_docs(rng, 5, [B])}
    r = evaluate(planted(docs, lambda c, t: 1.0 if t == A else 0.0), FiresOn("a"))
    assert r.pvalue is None and "too few documents" in r.inconclusive_reason
    verdict, reason = decide([r], None, 1.0, one_claim_family(r), 0.05, 1, "holm")
    assert verdict == "inconclusive" and "too few" in reason


def test_fewer_than_ten_documents_a_side_are_too_few_for_the_shift_test():
    rng = np.random.default_rng(0)
    docs = {"a": make_docs(rng, 9, [A]), "b": make_docs(rng, 30, [B])}
    r = evaluate(planted(docs, lambda c, t: 1.0 if t == A else 0.0), FiresOn("a"))
    assert r.pvalue is None and "need 10 each" in r.inconclusive_reason


def test_design_that_cannot_reach_alpha_is_inconclusive():
    rng = np.random.default_rng(0)
    docs = {"a": make_docs(rng, 10, [A]), "b": make_docs(rng, 10, [B])}
    # 9 resamples: no p below 1/10
    r = evaluate(planted(docs, lambda c, t: 1.0 if t == A else 0.0), FiresOn("a"), resamples=9)
    assert not r.numbers["test"]["exact"] and r.min_pvalue == pytest.approx(0.1)
    verdict, reason = decide([r], *claim_pvalues([r]), one_claim_family(r), 0.05, 1, "holm")
    assert verdict == "inconclusive" and "cannot reach alpha" in reason


def test_holm_compares_the_largest_p_with_alpha_itself():
    # A design whose floor is 0.02 can be decided in a family of 3 when the others are decisive:
    # the largest adjusted p under Holm is compared with alpha, not alpha/3.
    r = PredicateResult("fires_on", "d", 0.02, "s", min_pvalue=0.02, pvalue_refute=0.98, estimate=1.0, bound=0.1)
    verdict, reason = decide([r], 0.02, 0.98, FamilyDecision(0.03, 1.0, (0.03, 0.03), (1.0, 1.0)), 0.05, 3, "holm")
    assert verdict == "confirmed"
    verdict, reason = decide([r], 0.02, 0.98, FamilyDecision(0.06, 1.0, (0.06, 0.06), (1.0, 1.0)), 0.05, 3, "holm")
    assert verdict == "inconclusive" and "cannot reach" not in reason and "decisive only if" in reason


def test_same_seed_same_pvalues(corpora):
    store = planted(corpora, lambda c, t: 1.0 if t == A else 0.0, noise=0.5)
    first = evaluate(store, Polysemantic(("spanish", "prose")))
    second = evaluate(store, Polysemantic(("spanish", "prose")))
    assert first.pvalue == second.pvalue and first.pvalue_refute == second.pvalue_refute


def test_fires_on_is_selective_by_default():
    # Higher than the pooled baseline, but prose is higher still (30 documents a corpus: with fewer
    # the small-group guard, an exact test over pairs, needs a stronger effect to confirm).
    rng = np.random.default_rng(0)
    corpora = {c: make_docs(rng, 30, toks) for c, toks in (
        ("spanish", [A, THE, SHARED, PERIOD]), ("fortran", [B, THE, SHARED, PERIOD]),
        ("medical", [C, PERIOD, PERIOD, PERIOD, THE]), ("prose", [X, Y, THE, PERIOD]), ("legal", [Z, W, THE]))}
    store = planted(corpora, lambda c, t: {"medical": 0.5, "prose": 0.8}.get(c, 0.0))
    pooled = evaluate(store, FiresOn("medical", versus="pooled"))
    each = evaluate(store, FiresOn("medical"))
    assert pooled.pvalue <= 0.002 and verdict_of(pooled) == "confirmed" and "not selective" in pooled.summary
    assert each.pvalue > 0.5 and each.numbers["decisive"] == "prose" and verdict_of(each) == "refuted"
    assert "weakest prose" in each.summary
    clear = planted(corpora, lambda c, t: 1.0 if c == "medical" else 0.0)
    assert verdict_of(evaluate(clear, FiresOn("medical"))) == "confirmed"


def test_reports_find_every_predicates_effect_and_null(corpora):
    # The reports read a predicate's effect and null distribution out of its numbers (reports/format.py:
    # effect_of, null_of). A key renamed in an evaluator must fail here, not blank a report.
    from polytests.reports.format import effect_of, null_of

    store = planted(corpora, lambda c, t: 1.0 if t in (A, B) else 0.0, noise=0.2)
    with_null = [FiresOn("spanish"), Polysemantic(("spanish", "fortran")), NotExplainedByOneToken("spanish"),
                 TokenMatched("spanish", against="fortran", min_occurrences=5),
                 TopKPrecision(("spanish",), k=10, min_precision=0.6)]
    for predicate in with_null + [SilentOn("legal", margin=0.2),
                                   ExplainedBy(tokens=(" a",), min_correlation=0.3, over="documents")]:
        r = evaluate(store, predicate, resamples=199)
        assert r.pvalue is not None, (predicate.kind, r.inconclusive_reason)
        assert effect_of(r) is not None, predicate.kind
        if predicate in with_null:
            assert null_of(r) and all(null["counts"] for _, null in null_of(r)), predicate.kind


def test_explained_by_over_documents_counts_a_document_where_the_neuron_is_silent_against_it():
    # " a" tracks the activation in 12 documents and occurs in 40 where the neuron never fires:
    # the median document does not carry the explanation (pooled, the 12 would dominate).
    rng = np.random.default_rng(4)
    docs = {"a": make_docs(rng, 12, [A, THE]), "b": make_docs(rng, 40, [A, X])}
    store = planted(docs, lambda c, t: 1.0 if (c == "a" and t == A) else 0.0, noise=0.0)
    r = evaluate(store, ExplainedBy(tokens=(" a",), min_correlation=0.3, over="documents"))
    assert r.numbers["documents_matching"] == 52 and r.estimate == 0.0 and r.numbers["share_above"] == 12 / 52
    assert r.numbers["pooled_correlation"] > 0.3 and verdict_of(r) == "refuted"


def test_explained_by_over_documents_is_the_sign_test_and_needs_ten_contrasting_documents(corpora):
    from scipy import stats as sps

    store = planted(corpora, lambda c, t: 1.0 if t in (A, B) else 0.0, noise=0.2)
    r = evaluate(store, ExplainedBy(tokens=(" a", " b"), min_correlation=0.5, over="documents"))
    pooled = evaluate(store, ExplainedBy(tokens=(" a", " b"), min_correlation=0.5))
    n = r.numbers["documents_matching"]
    above = round(r.numbers["share_above"] * n)
    assert r.pvalue == sps.binomtest(above, n, 0.5, alternative="greater").pvalue and r.pvalue_range is None
    assert verdict_of(r) == "confirmed" and verdict_of(pooled) == "inconclusive"
    assert r.numbers["pooled_correlation"] == pytest.approx(pooled.numbers["correlation"])
    rng = np.random.default_rng(1)
    docs = {"a": make_docs(rng, 9, [W, THE]), "b": make_docs(rng, 30, [THE, X])}
    few = evaluate(planted(docs, lambda c, t: 1.0 if t == W else 0.0), ExplainedBy(tokens=(" w",), over="documents"))
    assert few.pvalue is None and "hold both a matching and a non-matching token: 9" in few.inconclusive_reason


def test_a_document_where_the_neuron_moves_less_than_the_smallest_effect_is_silent_there():
    from polytests.stats.correlation import document_correlations

    doc = np.repeat(np.arange(2), 4)
    x = np.tile([1.0, 0, 0, 0], 2)
    y = np.array([0.004, 0, 0, 0, 2.0, 0, 0, 0])  # the first document's response is 0.004 high
    assert document_correlations(x, y, doc).tolist() == [1.0, 1.0]
    assert document_correlations(x, y, doc, silent_below=0.01).tolist() == [0.0, 1.0]
