"""Every predicate on stores with planted activations: each must be able to pass and to fail."""

from __future__ import annotations

import numpy as np
import pytest

from polytests.claims.evaluate import EvaluationContext, evaluate_predicate
from polytests.claims.model import (
    Claim, ExplainedBy, FiresOn, NotExplainedByOneToken, Polysemantic, SilentOn, TokenMatched, TopKPrecision,
)
from polytests.neurons import NeuronRef
from polytests.runner import _verdict
from tests.helpers import synthetic_store

VOCAB = [".", " the", " a", " b", " c", " x", " y", " shared", " z", " w"]
PERIOD, THE, A, B, C, X, Y, SHARED, Z, W = range(10)
NEURON = NeuronRef(0, 0)


def make_docs(rng, n_docs, tokens, length=(20, 40)):
    return [list(rng.choice(tokens, size=rng.integers(*length))) for _ in range(n_docs)]


def evaluate(store, predicate, resamples=999):
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


def test_fires_on_detects_a_real_feature_and_rejects_a_wrong_corpus(corpora):
    store = planted(corpora, lambda c, t: 1.0 if t == A else 0.0)
    hit = evaluate(store, FiresOn("spanish"))
    miss = evaluate(store, FiresOn("legal"))
    assert hit.pvalue <= 0.002 and hit.numbers["difference"] > 0.2
    assert miss.pvalue > 0.5


def test_period_artifact_is_refuted(corpora):
    # Fires on "." wherever it is; medical text simply has more periods.
    store = planted(corpora, lambda c, t: 1.0 if t == PERIOD else 0.0)
    assert evaluate(store, FiresOn("medical")).pvalue <= 0.002
    artifact = evaluate(store, NotExplainedByOneToken("medical"))
    assert artifact.numbers["token"] == "." and artifact.numbers["share_of_activation"] > 0.9
    assert artifact.pvalue > 0.05
    # A neuron that fires on medical content words survives the same check.
    real = planted(corpora, lambda c, t: 1.0 if t in (C,) else (0.5 if c == "medical" else 0.0))
    assert evaluate(real, NotExplainedByOneToken("medical")).pvalue <= 0.01


def test_polysemantic_through_shared_tokens_is_caught_by_exclusion(corpora):
    store = planted(corpora, lambda c, t: 1.0 if t == SHARED else 0.0)
    naive = evaluate(store, Polysemantic(("spanish", "fortran")))
    controlled = evaluate(store, Polysemantic(("spanish", "fortran"), exclude_shared_tokens=True))
    assert naive.pvalue <= 0.002
    assert controlled.pvalue > 0.05 and controlled.numbers["excluded_token_types"] >= 2
    genuine = planted(corpora, lambda c, t: 1.0 if t in (A, B) else 0.0)
    assert evaluate(genuine, Polysemantic(("spanish", "fortran"), exclude_shared_tokens=True)).pvalue <= 0.002
    # One of the two corpora missing: the intersection-union p is the larger one.
    half = planted(corpora, lambda c, t: 1.0 if t == A else 0.0)
    r = evaluate(half, Polysemantic(("spanish", "fortran")))
    assert r.pvalue == r.numbers["per_corpus"]["fortran"]["pvalue"] > 0.05


def test_silent_on_needs_evidence_of_equivalence(corpora):
    store = planted(corpora, lambda c, t: 0.0, noise=0.05)
    assert evaluate(store, SilentOn("legal", margin=0.2)).pvalue <= 0.01
    loud = planted(corpora, lambda c, t: 1.0 if t in (Z, W) else 0.0)
    assert evaluate(loud, SilentOn("legal", margin=0.2)).pvalue > 0.5


def test_token_matched_control(corpora):
    # The same token " the" fires in Spanish context only: a context effect.
    context = planted(corpora, lambda c, t: 1.0 if (t == THE and c == "spanish") else 0.0)
    r = evaluate(context, TokenMatched("spanish", against="fortran", min_occurrences=20))
    assert r.pvalue <= 0.002 and " the" in r.numbers["token_types"]
    # Pure token identity: " the" fires everywhere; matched on the token, no difference remains.
    identity = planted(corpora, lambda c, t: 1.0 if t == THE else 0.0)
    assert evaluate(identity, TokenMatched("spanish", against="fortran", min_occurrences=20)).pvalue > 0.05
    none = evaluate(identity, TokenMatched("spanish", against="legal", min_occurrences=10_000))
    assert none.pvalue is None and "no token type" in none.inconclusive_reason


def test_top_k_precision(corpora):
    store = planted(corpora, lambda c, t: 1.0 if t == A else 0.0)
    good = evaluate(store, TopKPrecision(("spanish",), k=10, min_precision=0.8))
    assert good.numbers["precision"] == 1.0 and good.pvalue <= 0.002 and good.holds_descriptively
    bad = evaluate(store, TopKPrecision(("legal",), k=10, min_precision=0.8))
    assert bad.numbers["precision"] == 0.0 and bad.pvalue == 1.0 and not bad.holds_descriptively


def test_explained_by(corpora):
    store = planted(corpora, lambda c, t: 1.0 if t in (A, B) else 0.0, noise=0.2)
    right = evaluate(store, ExplainedBy(tokens=(" a", " b"), min_correlation=0.5))
    assert right.numbers["correlation"] > 0.8 and right.pvalue <= 0.002 and right.numbers["recall"] > 0.9
    wrong = evaluate(store, ExplainedBy(regex=r"^ [xyz]$", min_correlation=0.3))
    assert wrong.numbers["correlation"] < 0.1 and wrong.pvalue > 0.5


def test_too_few_documents_is_inconclusive_not_refuted():
    rng = np.random.default_rng(0)
    docs = {"a": make_docs(rng, 1, [A]), "b": make_docs(rng, 5, [B])}
    r = evaluate(planted(docs, lambda c, t: 1.0 if t == A else 0.0), FiresOn("a"))
    assert r.pvalue is None and "too few documents" in r.inconclusive_reason
    verdict, reason = _verdict([r], None, 1.0, 0.05, 1, "holm")
    assert verdict == "inconclusive" and "too few" in reason


def test_design_that_cannot_reach_alpha_is_inconclusive():
    rng = np.random.default_rng(0)
    docs = {"a": make_docs(rng, 2, [A]), "b": make_docs(rng, 3, [B])}  # 10 arrangements: p >= 0.1
    r = evaluate(planted(docs, lambda c, t: 1.0 if t == A else 0.0), FiresOn("a"))
    assert r.numbers["exact"] and r.min_pvalue == pytest.approx(0.1)
    verdict, reason = _verdict([r], r.pvalue, r.pvalue, 0.05, 1, "holm")
    assert verdict == "inconclusive" and "cannot reach alpha" in reason


def test_same_seed_same_pvalues(corpora):
    store = planted(corpora, lambda c, t: 1.0 if t == A else 0.0, noise=0.5)
    first = evaluate(store, Polysemantic(("spanish", "prose")))
    second = evaluate(store, Polysemantic(("spanish", "prose")))
    assert first.pvalue == second.pvalue and first.numbers == second.numbers


def test_fires_on_versus_each_needs_every_baseline_corpus(corpora):
    # Higher than the pooled baseline, but prose is higher still.
    store = planted(corpora, lambda c, t: {"medical": 0.5, "prose": 0.8}.get(c, 0.0))
    pooled = evaluate(store, FiresOn("medical"))
    each = evaluate(store, FiresOn("medical", versus="each"))
    assert pooled.pvalue <= 0.002
    assert each.pvalue > 0.5 and each.numbers["weakest"] == "prose"
    assert "weakest prose" in each.summary
    clear = planted(corpora, lambda c, t: 1.0 if c == "medical" else 0.0)
    assert evaluate(clear, FiresOn("medical", versus="each")).pvalue <= 0.002
