"""``polytests calibrate``, third part: the token-level predicates on the model's own activations.

``top_k_precision`` and ``explained_by`` judge token-level quantities, so their null claims
resample whole documents of the explore split (each corpus keeps its number of
documents; documents drawn with replacement) and put the bound on the quantity's true
value in that resampling world:

* ``top_k_precision``: the claimed corpus is the one holding most of a neuron's top-k
  contexts (k = 20, one a document) in the split; the bound is the expected precision
  over 400 resampled splits, so both verdicts are wrong. Neurons whose expected precision
  is below 5% or above 95% are skipped (no claim could sit on such a bound).
* ``explained_by``: the explanation is the neuron's 1 to 5 most active token types (at
  least 5 occurrences each); the bound is the median, over the split's documents holding
  a matching and a non-matching token, of each document's correlation between the
  explanation and the activation (the resampling world's true value) for ``over =
  "documents"``, and the correlation over the whole split for ``over = "tokens"`` (the
  default); each claim draws the split's number of documents with replacement. Samples
  with fewer than 10 such documents are left out, as the predicate makes them
  inconclusive.

Rates are under the verdicts' rule (each side at alpha / 2) and, for reading, each side alone
at alpha; see :class:`polytests.commands.calibrate_shapes.ShapeRow`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from polytests.commands.calibrate_shapes import ShapeRow
from polytests.stats.correlation import (
    document_correlation_test,
    document_correlations,
    within_document_correlation_test,
)
from polytests.stats.relative import MIN_DOCUMENTS

__all__ = ["explained_by_rows", "predicate_rows", "top_k_rows"]

TOP_K = 20
TRUTH_DRAWS = 400


def _rate_row(scenario: str, test: str, sides: list[tuple[float, float]], alpha: float) -> ShapeRow:
    a = np.array([s[0] for s in sides])
    b = np.array([s[1] for s in sides])
    return ShapeRow(scenario, test, float(np.mean(a <= alpha / 2)), float(np.mean(b <= alpha / 2)),
                    float(np.mean(np.minimum(a, b) <= alpha / 2)), len(sides), alpha,
                    float(np.mean(a <= alpha)), float(np.mean(b <= alpha)))


def _resampled_docs(rng: np.random.Generator, groups: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])


def top_k_rows(values, n_claims: int = 1000, alpha: float = 0.05, seed: int = 0) -> list[ShapeRow]:
    """Wrong verdicts of ``top_k_precision``'s binomial tests with the bound on the expected precision."""
    rng = np.random.default_rng(seed)
    n_docs = int(values.token_doc.max()) + 1
    doc_max = np.full((n_docs, values.token_acts.shape[1]), -np.inf)
    np.maximum.at(doc_max, values.token_doc, values.token_acts)
    corpus = np.asarray(values.corpus_of_doc)
    groups = [np.flatnonzero(corpus == c) for c in sorted(set(corpus.tolist()))]

    def precision(docs: np.ndarray, j: int, claimed: str) -> float:
        order = np.lexsort((rng.random(docs.size), -doc_max[docs, j]))  # ties in random order
        return float(np.mean(corpus[docs[order[:TOP_K]]] == claimed))

    everyone = np.arange(n_docs)
    sides = []
    attempts = 0
    while len(sides) < n_claims and attempts < 20 * n_claims:
        attempts += 1
        j = int(rng.integers(doc_max.shape[1]))
        top = everyone[np.argsort(-doc_max[:, j], kind="stable")[:TOP_K]]
        names, counts = np.unique(corpus[top], return_counts=True)
        claimed = str(names[np.argmax(counts)])
        truth = float(np.mean([precision(_resampled_docs(rng, groups), j, claimed) for _ in range(TRUTH_DRAWS)]))
        if not 0.05 <= truth <= 0.95:
            continue
        hits = round(precision(_resampled_docs(rng, groups), j, claimed) * TOP_K)
        sides.append((float(sps.binom.sf(hits - 1, TOP_K, truth)), float(sps.binom.cdf(hits, TOP_K, truth))))
    return [_rate_row(f"top_k_precision: k={TOP_K}, the neuron's leading corpus, bound = expected precision",
                      "exact binomial", sides, alpha)] if sides else []


def explained_by_rows(values, n_claims: int = 1000, alpha: float = 0.05, resamples: int = 999,
                      seed: int = 0) -> list[ShapeRow]:
    """Wrong verdicts of ``explained_by`` both ways: ``over = "documents"`` (sign test, bound on the median
    within-document correlation over the split's documents) and ``over = "tokens"`` (bootstrap-t, bound
    on the correlation over the split)."""
    rng = np.random.default_rng(seed)
    doc, ids = values.token_doc, values.token_ids
    n_docs = int(doc.max()) + 1
    starts = np.r_[0, np.cumsum(np.bincount(doc, minlength=n_docs))]
    counts = np.bincount(ids)
    new, old = [], []
    attempts = 0
    while len(new) < n_claims and attempts < 20 * n_claims:
        attempts += 1
        j = int(rng.integers(values.token_acts.shape[1]))
        acts = values.token_acts[:, j].astype(np.float64)
        mean_of = np.bincount(ids, weights=acts, minlength=counts.size) / np.maximum(counts, 1)
        mean_of[counts < 5] = -np.inf
        explanation = np.argsort(-mean_of, kind="stable")[:int(rng.integers(1, 6))]
        x = np.isin(ids, explanation).astype(np.float64)
        rho = float(np.corrcoef(x, acts)[0, 1])
        per_doc = document_correlations(x, acts, doc)
        if not np.isfinite(rho) or abs(rho) >= 1 or per_doc.size == 0:
            continue
        median = float(np.median(per_doc))
        if abs(median) >= 1:
            continue
        drawn = rng.integers(0, n_docs, n_docs)
        take = np.concatenate([np.arange(starts[d], starts[d + 1]) for d in drawn])
        new_doc = np.repeat(np.arange(n_docs), starts[drawn + 1] - starts[drawn])
        xs, ys = x[take], acts[take]
        if document_correlations(xs, ys, new_doc).size < MIN_DOCUMENTS:
            continue
        t = within_document_correlation_test(xs, ys, new_doc, median)
        new.append((t.pvalue_above, t.pvalue_below))
        if np.unique(new_doc[xs > 0]).size >= MIN_DOCUMENTS and not xs.all():
            b = document_correlation_test(xs, ys, new_doc, rho, n_resamples=resamples, seed=int(rng.integers(2**31)))
            old.append((b.pvalue_above, b.pvalue_below))
    scenario = (f"explained_by: top 1-5 token types, {n_docs} documents resampled, bound = the quantity over "
                "the split")
    rows = []
    if old:
        rows.append(_rate_row(scenario, 'over = "tokens": pooled r, bootstrap-t on Fisher\'s z (why it decides nothing)',
                              old, alpha))
    if new:
        rows.append(_rate_row(scenario, 'over = "documents": median within-document r, sign test', new, alpha))
    return rows


def predicate_rows(values, n_claims: int = 1000, alpha: float = 0.05, resamples: int = 999,
                   seed: int = 0) -> list[ShapeRow]:
    return top_k_rows(values, n_claims, alpha, seed) + explained_by_rows(values, n_claims, alpha, resamples, seed + 1)


def render_predicate_rows(rows: list[ShapeRow]) -> list[str]:
    return ["", "Token-level predicates on the model's own activations (documents of the split resampled; the "
            "bound on the quantity's true value there, so both verdicts are wrong; columns as above):", "",
            "| scenario | test | confirmed | refuted | any wrong | one side at alpha: confirmed | refuted | claims "
            "| allowed | |", "|---|---|---|---|---|---|---|---|---|---|"] + [row.markdown() for row in rows]
