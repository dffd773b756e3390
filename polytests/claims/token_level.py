"""The token-level predicates: ``top_k_precision`` (the top contexts' corpora, exact binomial
tests) and ``explained_by`` (an explanation's correlation with the activation: over every
token, a document bootstrap-t, or within each document holding it, the sign test of its
median), and the token-id helpers they share with the other predicates."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from polytests.claims.model import ExplainedBy, TopKPrecision
from polytests.claims.results import PredicateResult
from polytests.stats.correlation import (
    document_correlation_test,
    document_correlations,
    within_document_correlation_test,
)
from polytests.stats.relative import MIN_DOCUMENTS

__all__ = ["eval_explained_by", "eval_top_k", "ids_of_strings", "top_contexts"]


def ids_of_strings(ctx, strings) -> set[int]:
    wanted = set(strings)
    return {i for i, s in enumerate(ctx.vocab) if s in wanted}


def top_contexts(store, acts: np.ndarray, k: int, max_per_document: int) -> np.ndarray:
    """Flat token indices of the k most activating tokens, at most ``max_per_document`` per document."""
    doc = store.tokens.doc_index_per_token()
    order = np.argsort(-acts, kind="stable")
    taken: dict[int, int] = {}
    chosen = []
    for i in order:
        d = int(doc[i])
        if taken.get(d, 0) < max_per_document:
            taken[d] = taken.get(d, 0) + 1
            chosen.append(int(i))
            if len(chosen) == k:
                break
    return np.array(chosen, dtype=np.int64)


def eval_top_k(ctx, claim, p: TopKPrecision, seed: int) -> PredicateResult:
    """Precision of the top-k contexts against ``min_precision``, in both directions.

    With at most ``max_per_document`` contexts a document, the k contexts are
    treated as k draws: exact binomial tests of precision > min_precision
    (confirm) and precision < min_precision (refute). The stated precision is
    the bound; a label-shuffling null would test against the documents' base
    rate instead, which follows the corpora's token share, not what was claimed.
    """
    from scipy import stats as sps

    store = ctx.store
    acts = store.token_activations(claim.neuron)
    chosen = top_contexts(store, acts, p.k, p.max_per_document)
    doc = store.tokens.doc_index_per_token()
    claimed_docs = np.concatenate([store.docs_of(c) for c in p.corpora_])
    is_claimed = np.zeros(store.tokens.n_docs, dtype=bool)
    is_claimed[claimed_docs] = True
    chosen_docs = doc[chosen]
    k = len(chosen)
    hits = int(is_claimed[chosen_docs].sum())
    precision = hits / k if k else 0.0
    base_rate = float(is_claimed.mean())
    corpora_of = [store.tokens.corpus_of_doc[d] for d in chosen_docs]
    if k == 0:
        reason = "the split has no tokens"
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", {}, reason, 1.0)
    p_above = float(sps.binom.sf(hits - 1, k, p.min_precision)) if p.min_precision < 1 else float(hits == k)
    p_below = float(sps.binom.cdf(hits, k, p.min_precision)) if p.min_precision < 1 else 1.0
    ci = sps.binomtest(hits, k).proportion_ci(0.95, method="wilson")
    null = sps.binom.pmf(np.arange(k + 1), k, p.min_precision)
    numbers = {"precision": precision, "k": k, "hits": hits, "base_rate": base_rate,
               "min_precision": p.min_precision, "top_corpora": corpora_of,
               "null": {"statistic": f"binomial(k={k}, {p.min_precision:g}) hits", "observed": float(hits),
                        "n": k + 1, "edges": [float(e) - 0.5 for e in range(k + 2)],
                        "counts": [float(v) for v in null]}}
    summary = (f"top-{k} contexts (<={p.max_per_document}/doc): {precision:.0%} from {', '.join(p.corpora_)} "
               f"[{ci.low:.0%}, {ci.high:.0%}] vs bound {p.min_precision:.0%} (base rate {base_rate:.0%})")
    floor = float(p.min_precision ** k) if p.min_precision > 0 else 1.0
    # documents needed: the same normal approximation as the other predicates, on a proportion
    se = math.sqrt(max(precision * (1 - precision), 1e-12) / k)
    distance = abs(precision - p.min_precision)
    z = sps.norm.ppf(1 - ctx.alpha) + sps.norm.ppf(0.8)  # as documents_needed does for the others
    needed = math.inf if distance == 0 else float(math.ceil((z * se / distance) ** 2 * k))
    return PredicateResult(p.kind, p.describe(), p_above, summary, numbers, None, floor,
                           pvalue_refute=p_below, estimate=precision, bound=p.min_precision,
                           ci=(float(ci.low), float(ci.high)), units="precision", documents_needed=needed,
                           documents=k)


def _explanation_ids(ctx, p: ExplainedBy) -> set[int]:
    ids = ids_of_strings(ctx, p.tokens)
    if p.regex is not None:
        rx = re.compile(p.regex)
        ids |= {i for i, s in enumerate(ctx.vocab) if rx.search(s)}
    return ids


def eval_explained_by(ctx, claim, p: ExplainedBy, seed: int) -> PredicateResult:
    store = ctx.store
    acts = store.token_activations(claim.neuron).astype(np.float64)
    ids = _explanation_ids(ctx, p)
    pred = np.isin(store.tokens.token_ids, np.fromiter(ids, dtype=np.int64)) if ids else \
        np.zeros(len(acts), bool)
    threshold = p.threshold if p.threshold is not None else 0.5 * float(acts.max())
    firing = acts > threshold
    tp = int((pred & firing).sum())
    precision = tp / max(int(pred.sum()), 1)
    recall = tp / max(int(firing.sum()), 1)
    numbers: dict[str, Any] = {"matched_token_types": len(ids), "threshold": threshold,
                               "precision": precision, "recall": recall}
    if pred.all() or not pred.any():
        reason = "the explanation matches no token (or every token) of the split"
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", numbers, reason, 1.0)
    doc_of_token = store.tokens.doc_index_per_token()
    if p.over == "documents":
        return _explained_within_documents(ctx, claim, p, pred, acts, doc_of_token, numbers, precision, recall,
                                           threshold, len(ids))
    holding = int(np.unique(doc_of_token[pred]).size)
    numbers["documents_matching"] = holding
    if holding < MIN_DOCUMENTS:
        reason = (f"too few documents hold a matching token: {holding} (need {MIN_DOCUMENTS}: with fewer "
                  "the correlation test does not keep its error rates; docs/statistics.md)")
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", numbers, reason, 1.0,
                               documents=holding)
    test = document_correlation_test(pred.astype(float), acts, doc_of_token, p.min_correlation,
                                     n_resamples=ctx.n_resamples, seed=seed)
    corr, (low, high), n_docs = test.correlation, test.ci, store.tokens.n_docs
    numbers.update(correlation=corr, ci=(float(low), float(high)), min_correlation=p.min_correlation,
                   bootstrap_pvalue_above=test.pvalue_above, bootstrap_pvalue_below=test.pvalue_below)
    # No test of a pooled correlation keeps its error rates on long-tailed activations (Bahadur &
    # Savage 1956; the bootstrap-t confirms at the bound up to 4.6x alpha/2 in docs/statistics.md):
    # the correlation and its interval describe the data, no verdict is drawn from them.
    reason = ("a correlation over every token has no test that keeps its error rates on long-tailed "
              "activations (docs/statistics.md, explained_by); over = \"documents\" is exact")
    summary = (f"explanation ({len(ids)} token types) vs activation over every token: r={corr:.2f} "
               f"(95% CI [{low:.2f}, {high:.2f}], needed > {p.min_correlation}; described, not tested), "
               f"precision {precision:.0%}, recall {recall:.0%} at activation > {threshold:.3g}")
    return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}; {summary}", numbers, reason, 1.0,
                           estimate=corr, bound=p.min_correlation, ci=(float(low), float(high)),
                           units="correlation", documents=n_docs)


def _explained_within_documents(ctx, claim, p: ExplainedBy, pred, acts, doc_of_token, numbers, precision, recall,
                                threshold, n_types) -> PredicateResult:
    """``over = "documents"``: the median within-document correlation, by the exact sign test. A
    document where the neuron's activation varies by less than the smallest activation effect
    (min_effect times its scale) counts as silent there: correlation 0."""
    silent = ctx.min_effect * ctx.scale_of(claim.neuron)
    contrasting = document_correlations(pred.astype(float), acts, doc_of_token, silent_below=silent)
    holding = int(contrasting.size)
    numbers["documents_matching"] = holding
    if holding < MIN_DOCUMENTS:
        reason = (f"too few documents hold both a matching and a non-matching token: {holding} (need "
                  f"{MIN_DOCUMENTS}: the test's unit is the document; docs/statistics.md)")
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", numbers, reason, 1.0,
                               documents=holding)
    test = within_document_correlation_test(pred.astype(float), acts, doc_of_token, p.min_correlation,
                                            silent_below=silent)
    low, high = test.ci
    numbers.update(correlation=test.median, ci=(float(low), float(high)), min_correlation=p.min_correlation,
                   pooled_correlation=test.pooled, share_above=test.share_above, silent_below=silent)
    summary = (f"explanation ({n_types} token types) vs activation within each of {holding} documents holding it: "
               f"median r={test.median:.2f} (95% CI [{low:.2f}, {high:.2f}], needed > {p.min_correlation}; "
               f"{test.share_above:.0%} of documents above), pooled r={test.pooled:.2f}, "
               f"precision {precision:.0%}, recall {recall:.0%} at activation > {threshold:.3g}")
    return PredicateResult(p.kind, p.describe(), test.pvalue_above, summary, numbers, None, test.min_pvalue,
                           pvalue_refute=test.pvalue_below, estimate=test.median, bound=p.min_correlation,
                           ci=(float(low), float(high)), units="correlation", documents=holding)
