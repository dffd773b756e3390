"""Evaluating predicates on an ActivationStore: pure statistics on arrays.

Every predicate works on per-document values (the document is the unit of
analysis). Each returns a :class:`PredicateResult` with its p-value, the
numbers behind it and a sentence a person can read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from polytests.claims.model import (
    Claim, ExplainedBy, FiresOn, NotExplainedByOneToken, Polysemantic, Predicate, SilentOn,
    TokenMatched, TopKPrecision,
)
from polytests.claims.results import PredicateResult, null_summary
from polytests.stats import (
    effect_sizes, equivalence_test, intersection_union, min_attainable_pvalue, permutation_test,
)


@dataclass
class EvaluationContext:
    """What predicates need besides the claim: activations, token strings, settings."""

    store: Any  # ActivationStore
    vocab: list[str]  # decoded string of every token id
    n_resamples: int = 9999
    seed: int = 0
    ablation: Any = None  # polytests.ablation.AblationEngine, for ablation predicates

    def seed_for(self, claim: Claim, index: int) -> int:
        """A per-predicate seed: results do not depend on which other claims ran."""
        text = f"{self.seed}/{claim.id}/{index}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _fmt(p: float | None) -> str:
    return "n/a" if p is None else (f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}")


def baseline_corpora(store, claimed: tuple[str, ...], explicit: tuple[str, ...]) -> tuple[str, ...]:
    if explicit:
        return explicit
    return tuple(c for c in store.corpora if c not in claimed)


def _token_mask(ctx: EvaluationContext, excluded_ids: set[int]) -> np.ndarray | None:
    if not excluded_ids:
        return None
    return ~np.isin(ctx.store.tokens.token_ids, np.fromiter(excluded_ids, dtype=np.int64))


def _ids_of_corpora(store, corpora) -> set[int]:
    doc = store.tokens.doc_index_per_token()
    docs = np.concatenate([store.docs_of(c) for c in corpora]) if corpora else np.array([], int)
    return set(np.unique(store.tokens.token_ids[np.isin(doc, docs)]).tolist())


def shared_token_ids(store, corpora: tuple[str, ...]) -> set[int]:
    """Token types that occur in at least two of ``corpora`` (in this split)."""
    seen: dict[int, int] = {}
    for c in corpora:
        for t in _ids_of_corpora(store, [c]):
            seen[t] = seen.get(t, 0) + 1
    return {t for t, n in seen.items() if n >= 2}


def _ids_of_strings(ctx: EvaluationContext, strings) -> set[int]:
    wanted = set(strings)
    return {i for i, s in enumerate(ctx.vocab) if s in wanted}


def _group_values(store, means: np.ndarray, corpora) -> np.ndarray:
    idx = np.concatenate([store.docs_of(c) for c in corpora]) if corpora else np.array([], int)
    values = means[idx]
    return values[np.isfinite(values)]


def _fires(ctx, claim, corpus, baseline, excluded: set[int], seed: int, versus: str = "pooled") -> dict:
    store = ctx.store
    keep = _token_mask(ctx, excluded)
    means = store.doc_means(claim.neuron, keep)
    x = _group_values(store, means, [corpus])
    y = _group_values(store, means, baseline)
    tokens_used = int(keep.sum()) if keep is not None else store.tokens.n_tokens
    out = {"n_docs": len(x), "n_baseline_docs": len(y), "tokens_used": tokens_used,
           "excluded_token_types": len(excluded)}
    if len(x) < 2 or len(y) < 2:
        out["reason"] = (f"too few documents with tokens left: {len(x)} in {corpus}, {len(y)} in the "
                         "baseline (need 2 each)")
        return out
    test = permutation_test(x, y, alternative="greater", n_resamples=ctx.n_resamples, seed=seed)
    eff = effect_sizes(x, y, n_resamples=min(ctx.n_resamples, 1999), seed=seed)
    out.update(
        pvalue=float(test.pvalue), statistic=float(test.statistic), exact=bool(test.exact),
        min_pvalue=float(min_attainable_pvalue(len(x), len(y), ctx.n_resamples)),
        mean=float(eff.mean_x), baseline_mean=float(eff.mean_y), difference=float(eff.difference),
        ci=(float(eff.ci.low), float(eff.ci.high)), ci_method=eff.ci.method,
        hedges_g=float(eff.hedges_g), prob_superiority=float(eff.probability_of_superiority),
        versus=versus, null=null_summary(test.null_distribution, test.statistic, "Welch t, documents relabelled"),
    )
    if versus == "each":
        # Selective against every baseline corpus, not just their average: intersection-union
        # over one test per baseline corpus.
        each = {}
        for j, c in enumerate(baseline):
            y_c = _group_values(store, means, [c])
            if len(y_c) < 2:
                out["reason"] = f"too few documents with tokens left in baseline corpus {c}: {len(y_c)}"
                out.pop("pvalue")
                return out
            t_c = permutation_test(x, y_c, alternative="greater", n_resamples=ctx.n_resamples, seed=seed + 1 + j)
            each[c] = {"pvalue": float(t_c.pvalue), "difference": float(x.mean() - y_c.mean()),
                       "min_pvalue": float(min_attainable_pvalue(len(x), len(y_c), ctx.n_resamples))}
        weakest = max(each, key=lambda c: each[c]["pvalue"])
        out["null"]["statistic"] += " (pooled baseline; the p-value is the weakest corpus's)"
        out.update(per_baseline_corpus=each, weakest=weakest, pvalue=each[weakest]["pvalue"],
                   min_pvalue=max(v["min_pvalue"] for v in each.values()))
    return out


def _result_from_fires(kind: str, description: str, r: dict, what: str) -> PredicateResult:
    if "pvalue" not in r:
        return PredicateResult(kind, description, None, f"inconclusive: {r['reason']}", r, r["reason"], 1.0)
    against = ""
    if r.get("versus") == "each":
        w = r["weakest"]
        against = (f"; against each baseline corpus, weakest {w} (diff {r['per_baseline_corpus'][w]['difference']:.3g},"
                   f" p={_fmt(r['pvalue'])})")
    summary = (f"{what}: mean {r['mean']:.4g} vs baseline {r['baseline_mean']:.4g} "
               f"(diff {r['difference']:.3g}, 95% CI [{r['ci'][0]:.3g}, {r['ci'][1]:.3g}], "
               f"g={r['hedges_g']:.2f}, P(sup)={r['prob_superiority']:.2f}), "
               f"{r['n_docs']} vs {r['n_baseline_docs']} docs, {r['tokens_used']:,} tokens"
               + (f" ({r['excluded_token_types']} token types excluded)" if r["excluded_token_types"] else "")
               + (against or f", p={_fmt(r['pvalue'])}"))
    return PredicateResult(kind, description, r["pvalue"], summary, r, None, r["min_pvalue"])


def eval_fires_on(ctx, claim, p: FiresOn, seed: int) -> PredicateResult:
    baseline = baseline_corpora(ctx.store, (p.corpus,), p.baseline)
    excluded = set()
    if p.exclude_shared_tokens:
        excluded |= shared_token_ids(ctx.store, (p.corpus, *p.exclude_shared_tokens))
    excluded |= _ids_of_strings(ctx, p.exclude_tokens)
    r = _fires(ctx, claim, p.corpus, baseline, excluded, seed, p.versus)
    return _result_from_fires(p.kind, p.describe(), r, f"{claim.neuron} on {p.corpus}")


def eval_polysemantic(ctx, claim, p: Polysemantic, seed: int) -> PredicateResult:
    baseline = baseline_corpora(ctx.store, p.corpora_, p.baseline)
    excluded = shared_token_ids(ctx.store, p.corpora_) if p.exclude_shared_tokens else set()
    parts = {c: _fires(ctx, claim, c, baseline, excluded, seed + 100 * i, p.versus)
             for i, c in enumerate(p.corpora_)}
    numbers: dict[str, Any] = {"excluded_token_types": len(excluded), "per_corpus": parts}
    missing = [c for c, r in parts.items() if "pvalue" not in r]
    if missing:
        reason = parts[missing[0]]["reason"]
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", numbers, reason, 1.0)
    pvalue = intersection_union([r["pvalue"] for r in parts.values()])
    words = "; ".join(f"{c}: diff {r['difference']:.3g} p={_fmt(r['pvalue'])}" for c, r in parts.items())
    extra = f" after excluding {len(excluded)} shared token types" if excluded else ""
    summary = f"{claim.neuron} on each of {', '.join(p.corpora_)}{extra} — {words}; IUT p={_fmt(pvalue)}"
    min_p = max(r["min_pvalue"] for r in parts.values())
    return PredicateResult(p.kind, p.describe(), pvalue, summary, numbers, None, min_p)


def eval_silent_on(ctx, claim, p: SilentOn, seed: int) -> PredicateResult:
    store = ctx.store
    baseline = baseline_corpora(store, (p.corpus,), p.baseline)
    means = store.doc_means(claim.neuron)
    x = _group_values(store, means, [p.corpus])
    y = _group_values(store, means, baseline)
    if len(x) < 2 or len(y) < 2:
        reason = f"too few documents: {len(x)} in {p.corpus}, {len(y)} in the baseline"
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", {}, reason, 1.0)
    eq = equivalence_test(x, y, margin=p.margin, n_resamples=ctx.n_resamples, seed=seed)
    numbers = {"difference": float(eq.difference), "margin": p.margin, "n_docs": len(x),
               "n_baseline_docs": len(y), "p_lower": float(eq.pvalue_lower), "p_upper": float(eq.pvalue_upper)}
    summary = (f"{claim.neuron} on {p.corpus}: diff {eq.difference:.3g} vs margin ±{p.margin:g} "
               f"(TOST p={_fmt(float(eq.pvalue))}, {len(x)} vs {len(y)} docs)")
    min_p = min_attainable_pvalue(len(x), len(y), ctx.n_resamples)
    return PredicateResult(p.kind, p.describe(), float(eq.pvalue), summary, numbers, None, min_p)


def eval_token_matched(ctx, claim, p: TokenMatched, seed: int) -> PredicateResult:
    store = ctx.store
    acts = store.token_activations(claim.neuron).astype(np.float64)
    doc = store.tokens.doc_index_per_token()
    ids = store.tokens.token_ids
    in_a = np.isin(doc, store.docs_of(p.corpus))
    in_b = np.isin(doc, store.docs_of(p.against))
    count_a = np.bincount(ids[in_a], minlength=len(ctx.vocab))
    count_b = np.bincount(ids[in_b], minlength=len(ctx.vocab))
    qualifying = np.flatnonzero((count_a >= p.min_occurrences) & (count_b >= p.min_occurrences))
    numbers: dict[str, Any] = {"token_types": [ctx.vocab[t] for t in qualifying[:20]],
                               "n_token_types": len(qualifying), "min_occurrences": p.min_occurrences}
    if len(qualifying) == 0:
        reason = (f"no token type occurs >= {p.min_occurrences} times in both {p.corpus} and {p.against}")
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", numbers, reason, 1.0)
    sel = (in_a | in_b) & np.isin(ids, qualifying)
    # Centre each token type on its pooled mean over both corpora: label-free, so
    # permuting document labels stays valid, and token identity is controlled.
    type_sum = np.bincount(ids[sel], weights=acts[sel], minlength=len(ctx.vocab))
    type_n = np.bincount(ids[sel], minlength=len(ctx.vocab))
    resid = acts[sel] - type_sum[ids[sel]] / type_n[ids[sel]]
    d = doc[sel]
    sums = np.bincount(d, weights=resid, minlength=store.tokens.n_docs)
    ns = np.bincount(d, minlength=store.tokens.n_docs)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_doc = sums / ns
    x = per_doc[store.docs_of(p.corpus)]
    y = per_doc[store.docs_of(p.against)]
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < 2 or len(y) < 2:
        reason = f"too few documents contain the matched tokens: {len(x)} and {len(y)}"
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", numbers, reason, 1.0)
    test = permutation_test(x, y, alternative="greater", n_resamples=ctx.n_resamples, seed=seed)
    numbers.update(n_docs=len(x), n_against_docs=len(y), difference=float(x.mean() - y.mean()),
                   occurrences=int(sel.sum()),
                   null=null_summary(test.null_distribution, test.statistic, "Welch t, documents relabelled"))
    summary = (f"same {len(qualifying)} token types, {p.corpus} vs {p.against}: residual diff "
               f"{x.mean() - y.mean():.3g} ({len(x)} vs {len(y)} docs, {int(sel.sum())} occurrences), "
               f"p={_fmt(float(test.pvalue))}")
    min_p = min_attainable_pvalue(len(x), len(y), ctx.n_resamples)
    return PredicateResult(p.kind, p.describe(), float(test.pvalue), summary, numbers, None, min_p)


def most_active_token(ctx, claim, corpus: str, min_count: int) -> tuple[int, float]:
    """The token type carrying the most activation mass in ``corpus``, and its share of it."""
    store = ctx.store
    acts = store.token_activations(claim.neuron).astype(np.float64)
    doc = store.tokens.doc_index_per_token()
    in_c = np.isin(doc, store.docs_of(corpus))
    ids = store.tokens.token_ids[in_c]
    positive = np.clip(acts[in_c], 0, None)
    mass = np.bincount(ids, weights=positive, minlength=len(ctx.vocab))
    counts = np.bincount(ids, minlength=len(ctx.vocab))
    mass[counts < min_count] = -np.inf
    top = int(np.argmax(mass))
    total = positive.sum()
    return top, float(mass[top] / total) if total > 0 else 0.0


def eval_not_one_token(ctx, claim, p: NotExplainedByOneToken, seed: int) -> PredicateResult:
    baseline = baseline_corpora(ctx.store, (p.corpus,), p.baseline)
    token, share = most_active_token(ctx, claim, p.corpus, p.min_count)
    before = _fires(ctx, claim, p.corpus, baseline, set(), seed)
    after = _fires(ctx, claim, p.corpus, baseline, {token}, seed)
    numbers = {"token": ctx.vocab[token], "token_id": token, "share_of_activation": share,
               "before": before, "after": after}
    if "pvalue" not in after:
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {after['reason']}", numbers,
                               after["reason"], 1.0)
    summary = (f"most active token in {p.corpus}: {ctx.vocab[token]!r} ({share:.0%} of the activation); "
               f"without it diff {after['difference']:.3g} p={_fmt(after['pvalue'])} "
               f"(with it: diff {before.get('difference', float('nan')):.3g} p={_fmt(before.get('pvalue'))})")
    return PredicateResult(p.kind, p.describe(), after["pvalue"], summary, numbers, None, after["min_pvalue"])


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
    store = ctx.store
    acts = store.token_activations(claim.neuron)
    chosen = top_contexts(store, acts, p.k, p.max_per_document)
    doc = store.tokens.doc_index_per_token()
    claimed_docs = np.concatenate([store.docs_of(c) for c in p.corpora_])
    is_claimed = np.zeros(store.tokens.n_docs, dtype=bool)
    is_claimed[claimed_docs] = True
    chosen_docs = doc[chosen]
    precision = float(is_claimed[chosen_docs].mean())
    # Null: corpus labels shuffled across documents (the top-k set itself is fixed).
    rng = np.random.default_rng(seed)
    null = np.empty(ctx.n_resamples)
    for b in range(ctx.n_resamples):
        null[b] = rng.permutation(is_claimed)[chosen_docs].mean()
    pvalue = float((1 + np.sum(null >= precision - 1e-12)) / (ctx.n_resamples + 1))
    base_rate = float(is_claimed.mean())
    corpora_of = [store.tokens.corpus_of_doc[d] for d in chosen_docs]
    numbers = {"precision": precision, "k": len(chosen), "base_rate": base_rate,
               "min_precision": p.min_precision, "top_corpora": corpora_of,
               "null": null_summary(null, precision, "top-k precision, corpus labels shuffled")}
    meets = precision >= p.min_precision
    summary = (f"top-{len(chosen)} contexts (≤{p.max_per_document}/doc): {precision:.0%} from "
               f"{', '.join(p.corpora_)} (needed ≥{p.min_precision:.0%}; base rate {base_rate:.0%}), "
               f"p={_fmt(pvalue)}")
    return PredicateResult(p.kind, p.describe(), pvalue if meets else 1.0, summary, numbers, None,
                           1 / (ctx.n_resamples + 1), meets)


def _explanation_ids(ctx, p: ExplainedBy) -> set[int]:
    ids = _ids_of_strings(ctx, p.tokens)
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
    corr = float(np.corrcoef(pred.astype(float), acts)[0, 1])
    # Document-level bootstrap of the correlation (tokens of a document are not independent).
    doc = store.tokens.doc_index_per_token()
    n_docs = store.tokens.n_docs
    sx = np.bincount(doc, weights=pred, minlength=n_docs)
    sy = np.bincount(doc, weights=acts, minlength=n_docs)
    sxx = sx  # indicator: x*x == x
    syy = np.bincount(doc, weights=acts * acts, minlength=n_docs)
    sxy = np.bincount(doc, weights=pred * acts, minlength=n_docs)
    n = np.bincount(doc, minlength=n_docs).astype(float)
    rng = np.random.default_rng(seed)
    n_boot = min(ctx.n_resamples, 1999)
    w = rng.multinomial(n_docs, np.full(n_docs, 1 / n_docs), size=n_boot).astype(float)
    N, X, Y, XX, YY, XY = (w @ v for v in (n, sx, sy, sxx, syy, sxy))
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = XY / N - (X / N) * (Y / N)
        boot = cov / np.sqrt((XX / N - (X / N) ** 2) * (YY / N - (Y / N) ** 2))
    boot = boot[np.isfinite(boot)]
    low, high = np.quantile(boot, [0.025, 0.975])
    pvalue = float((1 + np.sum(boot <= p.min_correlation)) / (len(boot) + 1))
    numbers.update(correlation=corr, ci=(float(low), float(high)), min_correlation=p.min_correlation)
    summary = (f"explanation ({len(ids)} token types) vs activation: r={corr:.2f} "
               f"(95% CI [{low:.2f}, {high:.2f}], needed > {p.min_correlation}), "
               f"precision {precision:.0%}, recall {recall:.0%} at activation > {threshold:.3g}")
    return PredicateResult(p.kind, p.describe(), pvalue, summary, numbers, None, 1 / (len(boot) + 1))


EVALUATORS: dict[str, Callable[..., PredicateResult]] = {
    "fires_on": eval_fires_on,
    "silent_on": eval_silent_on,
    "polysemantic": eval_polysemantic,
    "token_matched": eval_token_matched,
    "not_explained_by_one_token": eval_not_one_token,
    "top_k_precision": eval_top_k,
    "explained_by": eval_explained_by,
}


def evaluate_predicate(ctx: EvaluationContext, claim: Claim, index: int, p: Predicate) -> PredicateResult:
    seed = ctx.seed_for(claim, index)
    if p.kind.startswith("ablation_"):
        if ctx.ablation is None:
            raise RuntimeError("ablation predicates need an ablation engine in the context")
        return ctx.ablation.evaluate(claim, p, seed, ctx.n_resamples)
    return EVALUATORS[p.kind](ctx, claim, p, seed)


def top_tokens(ctx: EvaluationContext, claim: Claim, k: int = 8) -> tuple[tuple[str, float, str], ...]:
    """The k most activating tokens of the split (one per document), for reports."""
    store = ctx.store
    acts = store.token_activations(claim.neuron)
    chosen = top_contexts(store, acts, k, 1)
    doc = store.tokens.doc_index_per_token()
    return tuple((ctx.vocab[int(store.tokens.token_ids[i])], float(acts[i]),
                  store.tokens.corpus_of_doc[int(doc[i])]) for i in chosen)


def doc_means_by_corpus(ctx: EvaluationContext, claim: Claim) -> dict[str, tuple[float, ...]]:
    """The neuron's mean activation in every document, grouped by corpus (for report figures)."""
    store = ctx.store
    means = store.doc_means(claim.neuron)
    return {c: tuple(float(v) for v in means[store.docs_of(c)] if np.isfinite(v)) for c in store.corpora}
