"""Evaluating predicates on an ActivationStore: pure statistics on arrays.

Every predicate works on per-document values (the document is the unit of
analysis). Each returns a :class:`PredicateResult` with its p-value, the
numbers behind it and a sentence a person can read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from polytests.claims.causal import evaluate_ablation
from polytests.claims.model import (
    Claim, FiresOn, NotExplainedByOneToken, Polysemantic, Predicate, SilentOn, TokenMatched,
)
from polytests.claims.results import PredicateResult, null_summary
from polytests.claims.token_level import eval_explained_by, eval_top_k, ids_of_strings
from polytests.engine.reference import SCALE_QUANTILE
from polytests.stats import hedges_g, intersection_union, probability_of_superiority
from polytests.stats.bounds import BoundTest, bound_test, documents_needed
from polytests.stats.multiplicity import bonferroni_span, max_span
from polytests.stats.relative import MIN_DOCUMENTS

if TYPE_CHECKING:
    from polytests.engine.ablation import AblationEngine
    from polytests.engine.reference import ReferenceProfiles
    from polytests.engine.store import ActivationStore


@dataclass
class EvaluationContext:
    """What predicates need besides the claim: activations, token strings, settings."""

    store: ActivationStore
    vocab: list[str]  # decoded string of every token id
    n_resamples: int = 9999
    seed: int = 0
    ablation: AblationEngine | None = None  # for ablation predicates
    min_effect: float = 0.05  # default smallest effect, in units of the neuron's scale
    min_effect_loss: float = 0.002  # default smallest effect of ablation predicates, nats/token
    alpha: float = 0.05  # for "documents needed" (power at the observed effect)
    # Where neuron scales come from (a fixed reference text); None: the store's own split.
    profiles: ReferenceProfiles | None = None

    def scale_of(self, neuron) -> float:
        """The neuron's scale: on the reference text when there is one (so a bound does not move with
        corpora the claim does not name), else on the store's split."""
        if self.profiles is not None:
            return self.profiles.scale(neuron, self.store.site)
        return neuron_scale(self.store, neuron)

    def seed_for(self, claim: Claim, index: int) -> int:
        """A per-predicate seed: results do not depend on which other claims ran."""
        text = f"{self.seed}/{claim.id}/{index}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


TOO_FEW = (f"need {MIN_DOCUMENTS} each: with fewer the shift test does not keep its error rates "
           "(docs/statistics.md)")


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


def _group_values(store, means: np.ndarray, corpora) -> np.ndarray:
    idx = np.concatenate([store.docs_of(c) for c in corpora]) if corpora else np.array([], int)
    values = means[idx]
    return values[np.isfinite(values)]


def neuron_scale(store, neuron) -> float:
    """The neuron's activation scale on the store's split: the 99.9th percentile of |activation| over
    all tokens (claims use the same statistic on the reference text: EvaluationContext.scale_of).

    Smallest effects of activation predicates are stated in this unit, so one
    default means the same for SoLU, GELU and encoder neurons whose raw
    activations differ by orders of magnitude. It is computed without corpus
    labels, so permuting documents between corpora leaves it unchanged.
    """
    acts = np.abs(np.asarray(store.token_activations(neuron), dtype=np.float64))
    if acts.size == 0:
        return 0.0
    return float(np.quantile(acts, SCALE_QUANTILE))


def _activation_bound(ctx, claim, p) -> tuple[float, float, float]:
    """(min_effect in scale units, the neuron's scale, the bound in activation units)."""
    min_effect = p.min_effect if getattr(p, "min_effect", None) is not None else ctx.min_effect
    scale = ctx.scale_of(claim.neuron)
    return float(min_effect), scale, float(min_effect) * scale


def _bound_numbers(t: BoundTest, alpha: float) -> dict:
    return {"estimate": t.estimate, "bound": t.bound, "p_above": t.pvalue_above, "p_below": t.pvalue_below,
            "ci": (float(t.ci.low), float(t.ci.high)), "ci_method": t.ci.method, "exact": t.exact,
            "min_pvalue": t.min_pvalue, "n_x": t.n_x, "n_y": t.n_y, "theta": t.theta,
            "mean_difference": t.mean_difference, "resamples": t.resamples,
            "range_above": t.span("above"), "range_below": t.span("below"),
            "documents_needed": documents_needed(t, alpha)}


def _tokens_of(store, corpora, keep: np.ndarray | None) -> int:
    """Tokens (kept by ``keep``) in the documents of ``corpora``: never those of other corpora."""
    offsets = store.tokens.offsets
    total = 0
    for c in corpora:
        for d in store.docs_of(c):
            lo, hi = int(offsets[d]), int(offsets[d + 1])
            total += (hi - lo) if keep is None else int(keep[lo:hi].sum())
    return total


def _fires(ctx, claim, corpus, baseline, excluded: set[int], seed: int, versus: str, bound: float) -> dict:
    """``corpus`` against ``baseline``: one bound test on the pooled baseline, and one per
    baseline corpus when ``versus == "each"`` (the selective default)."""
    store = ctx.store
    keep = _token_mask(ctx, excluded)
    means = store.doc_means(claim.neuron, keep)
    x = _group_values(store, means, [corpus])
    y = _group_values(store, means, baseline)
    tokens_used = _tokens_of(store, [corpus, *baseline], keep)
    out = {"n_docs": len(x), "n_baseline_docs": len(y), "tokens_used": tokens_used,
           "excluded_token_types": len(excluded), "versus": versus}
    if len(x) < MIN_DOCUMENTS or len(y) < MIN_DOCUMENTS:
        out["reason"] = (f"too few documents with tokens left: {len(x)} in {corpus}, {len(y)} in the "
                         f"baseline ({TOO_FEW})")
        return out
    pooled = bound_test(x, y, bound, n_resamples=ctx.n_resamples, seed=seed)
    out.update(mean=float(x.mean()), baseline_mean=float(y.mean()), difference=pooled.mean_difference,
               shift=pooled.estimate,
               hedges_g=float(hedges_g(x, y)), prob_superiority=float(probability_of_superiority(x, y)),
               pooled=_bound_numbers(pooled, ctx.alpha),
               null=null_summary(pooled.null_distribution, pooled.statistic,
                                 "Brunner-Munzel t of (claimed - bound) vs pooled baseline, documents relabelled"))
    if versus != "each":
        out.update(decisive="pooled baseline", test=out["pooled"], p_above=pooled.pvalue_above,
                   p_below=pooled.pvalue_below, range_above=out["pooled"]["range_above"],
                   range_below=out["pooled"]["range_below"])
        return out
    # Selective: above the bound against EVERY baseline corpus (intersection-union: the
    # largest p), and refuted when shown below it against ANY one (union: Bonferroni).
    each = {}
    for j, c in enumerate(baseline):
        y_c = _group_values(store, means, [c])
        if len(y_c) < MIN_DOCUMENTS:
            out["reason"] = f"too few documents with tokens left in baseline corpus {c}: {len(y_c)} ({TOO_FEW})"
            return out
        t_c = bound_test(x, y_c, bound, n_resamples=ctx.n_resamples, seed=seed + 1 + j)
        each[c] = _bound_numbers(t_c, ctx.alpha)
    weakest = max(each, key=lambda c: (each[c]["p_above"], -each[c]["estimate"]))
    p_below = min(1.0, len(each) * min(v["p_below"] for v in each.values()))
    out["null"]["statistic"] += "; the verdict uses the weakest corpus's test"
    out.update(per_baseline_corpus=each, decisive=weakest, test=each[weakest], p_above=each[weakest]["p_above"],
               p_below=p_below, range_above=max_span(v["range_above"] for v in each.values()),
               range_below=bonferroni_span(v["range_below"] for v in each.values()))
    return out


def _resamples_of(r: dict) -> int:
    """The fewest Monte Carlo resamples behind a result's tests (0: every test exact or analytic)."""
    counts = [v["resamples"] for v in r.get("per_baseline_corpus", {}).values()]
    counts.append(r["test"]["resamples"])
    positive = [c for c in counts if c]
    return min(positive) if positive else 0


def _fmt_bound(units: str, estimate: float, ci, bound: float) -> str:
    return f"shift {estimate:+.3g} [{ci[0]:+.3g}, {ci[1]:+.3g}] vs bound {bound:+.3g} {units}".rstrip()


def _result_from_fires(kind: str, description: str, r: dict, what: str, min_effect: float, scale: float
                       ) -> PredicateResult:
    if "p_above" not in r or "reason" in r:
        reason = r.get("reason", "not testable")
        return PredicateResult(kind, description, None, f"inconclusive: {reason}", r, reason, 1.0)
    t = r["test"]
    against = ("the pooled baseline (not selective)" if r["versus"] != "each"
               else f"each baseline corpus, weakest {r['decisive']}")
    summary = (f"{what} vs {against}: {_fmt_bound('', t['estimate'], t['ci'], t['bound'])} "
               f"(min_effect {min_effect:g} x scale {scale:.3g}); mean difference {t['mean_difference']:+.3g}, "
               f"mean {r['mean']:.4g}, "
               f"{r['n_docs']} vs {t['n_y']} docs, {r['tokens_used']:,} tokens"
               + (f" ({r['excluded_token_types']} token types excluded)" if r["excluded_token_types"] else ""))
    r = dict(r, min_effect=min_effect, scale=scale)
    return PredicateResult(kind, description, r["p_above"], summary, r, None, t["min_pvalue"],
                           pvalue_refute=r["p_below"], estimate=t["estimate"], bound=t["bound"],
                           ci=tuple(t["ci"]), units="activation", documents_needed=t["documents_needed"],
                           documents=r["n_docs"] + t["n_y"], resamples=_resamples_of(r),
                           pvalue_range=r["range_above"], pvalue_refute_range=r["range_below"])


def eval_fires_on(ctx, claim, p: FiresOn, seed: int) -> PredicateResult:
    baseline = baseline_corpora(ctx.store, (p.corpus,), p.baseline)
    excluded = set()
    if p.exclude_shared_tokens:
        excluded |= shared_token_ids(ctx.store, (p.corpus, *p.exclude_shared_tokens))
    excluded |= ids_of_strings(ctx, p.exclude_tokens)
    min_effect, scale, bound = _activation_bound(ctx, claim, p)
    r = _fires(ctx, claim, p.corpus, baseline, excluded, seed, p.versus, bound)
    return _result_from_fires(p.kind, p.describe(), r, f"{claim.neuron} on {p.corpus}", min_effect, scale)


def _combine_above(pvalues) -> float:
    """All parts above their bounds: intersection-union, the largest p."""
    return float(intersection_union(list(pvalues)))


def _combine_below(pvalues) -> float:
    """Any part below its bound: union, Bonferroni over the parts."""
    pvalues = list(pvalues)
    return float(min(1.0, len(pvalues) * min(pvalues)))


def eval_polysemantic(ctx, claim, p: Polysemantic, seed: int) -> PredicateResult:
    baseline = baseline_corpora(ctx.store, p.corpora_, p.baseline)
    excluded = shared_token_ids(ctx.store, p.corpora_) if p.exclude_shared_tokens else set()
    min_effect, scale, bound = _activation_bound(ctx, claim, p)
    parts = {c: _fires(ctx, claim, c, baseline, excluded, seed + 100 * i, p.versus, bound)
             for i, c in enumerate(p.corpora_)}
    numbers: dict[str, Any] = {"excluded_token_types": len(excluded), "per_corpus": parts,
                               "min_effect": min_effect, "scale": scale}
    missing = [c for c, r in parts.items() if "reason" in r]
    if missing:
        reason = parts[missing[0]]["reason"]
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", numbers, reason, 1.0)
    p_above = _combine_above(r["p_above"] for r in parts.values())
    p_below = _combine_below(r["p_below"] for r in parts.values())
    weakest = max(parts, key=lambda c: parts[c]["p_above"])
    t = parts[weakest]["test"]
    numbers["null"] = parts[weakest]["null"]
    words = "; ".join(f"{c}: {_fmt_bound('', r['test']['estimate'], r['test']['ci'], bound)}"
                      for c, r in parts.items())
    extra = f" after excluding {len(excluded)} shared token types" if excluded else ""
    against = "the pooled baseline (not selective)" if p.versus != "each" else "each baseline corpus"
    summary = (f"{claim.neuron} on each of {', '.join(p.corpora_)}{extra}, vs {against} "
               f"(min_effect {min_effect:g} x scale {scale:.3g}) — {words}")
    return PredicateResult(p.kind, p.describe(), p_above, summary, numbers, None,
                           max(r["test"]["min_pvalue"] for r in parts.values()), pvalue_refute=p_below,
                           estimate=t["estimate"], bound=bound, ci=tuple(t["ci"]), units="activation",
                           documents_needed=t["documents_needed"], documents=parts[weakest]["n_docs"] + t["n_y"],
                           resamples=min((_resamples_of(r) for r in parts.values()), default=0),
                           pvalue_range=max_span(r["range_above"] for r in parts.values()),
                           pvalue_refute_range=bonferroni_span(r["range_below"] for r in parts.values()))


def eval_silent_on(ctx, claim, p: SilentOn, seed: int) -> PredicateResult:
    """Equivalence within a margin: confirmed when |difference| is shown below the margin (TOST),
    refuted when it is shown beyond it on either side (union: Bonferroni over the two)."""
    store = ctx.store
    baseline = baseline_corpora(store, (p.corpus,), p.baseline)
    means = store.doc_means(claim.neuron)
    x = _group_values(store, means, [p.corpus])
    y = _group_values(store, means, baseline)
    min_effect, scale, margin = _activation_bound(ctx, claim, p)
    if p.margin is not None:
        margin = float(p.margin)
    if len(x) < MIN_DOCUMENTS or len(y) < MIN_DOCUMENTS or not margin > 0:
        reason = (f"too few documents: {len(x)} in {p.corpus}, {len(y)} in the baseline ({TOO_FEW})" if margin > 0 else
                  "the margin is 0 (the neuron never activates on this split?)")
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", {}, reason, 1.0)
    upper = bound_test(x, y, margin, n_resamples=ctx.n_resamples, seed=seed)
    lower = bound_test(x, y, -margin, n_resamples=ctx.n_resamples, seed=seed + 1)
    p_equivalent = max(upper.pvalue_below, lower.pvalue_above)
    p_outside = min(1.0, 2 * min(upper.pvalue_above, lower.pvalue_below))
    numbers = {"difference": upper.estimate, "margin": margin, "min_effect": min_effect, "scale": scale,
               "n_docs": len(x), "n_baseline_docs": len(y), "p_lower": lower.pvalue_above,
               "p_upper": upper.pvalue_below, "ci": (upper.ci.low, upper.ci.high), "equivalence_margin": True,
               "mean_difference": upper.mean_difference}
    summary = (f"{claim.neuron} on {p.corpus}: shift {upper.estimate:+.3g} "
               f"[{upper.ci.low:+.3g}, {upper.ci.high:+.3g}] vs margin ±{margin:.3g} "
               f"(TOST p={_fmt(p_equivalent)}, {len(x)} vs {len(y)} docs)")
    closest = upper if abs(upper.estimate - margin) <= abs(upper.estimate + margin) else lower
    return PredicateResult(p.kind, p.describe(), p_equivalent, summary, numbers, None, upper.min_pvalue,
                           pvalue_refute=p_outside, estimate=upper.estimate, bound=margin,
                           ci=(upper.ci.low, upper.ci.high), units="activation (|shift| < margin)",
                           documents_needed=documents_needed(closest, ctx.alpha), documents=len(x) + len(y),
                           resamples=min(upper.resamples, lower.resamples),
                           pvalue_range=max_span([upper.span("below"), lower.span("above")]),
                           pvalue_refute_range=bonferroni_span([upper.span("above"), lower.span("below")]))


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
    if len(x) < MIN_DOCUMENTS or len(y) < MIN_DOCUMENTS:
        reason = f"too few documents contain the matched tokens: {len(x)} and {len(y)} ({TOO_FEW})"
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", numbers, reason, 1.0)
    min_effect, scale, bound = _activation_bound(ctx, claim, p)
    t = bound_test(x, y, bound, n_resamples=ctx.n_resamples, seed=seed)
    numbers.update(n_docs=len(x), n_against_docs=len(y), difference=t.mean_difference, shift=t.estimate, occurrences=int(sel.sum()),
                   min_effect=min_effect, scale=scale, test=_bound_numbers(t, ctx.alpha),
                   null=null_summary(t.null_distribution, t.statistic,
                                     "Brunner-Munzel t of token-centred residuals, documents relabelled"))
    summary = (f"same {len(qualifying)} token types, {p.corpus} vs {p.against}: residual "
               f"{_fmt_bound('', t.estimate, (t.ci.low, t.ci.high), bound)} (min_effect {min_effect:g} x scale "
               f"{scale:.3g}; {len(x)} vs {len(y)} docs, {int(sel.sum())} occurrences)")
    return PredicateResult(p.kind, p.describe(), t.pvalue_above, summary, numbers, None, t.min_pvalue,
                           pvalue_refute=t.pvalue_below, estimate=t.estimate, bound=bound,
                           ci=(t.ci.low, t.ci.high), units="activation (same tokens)",
                           documents_needed=documents_needed(t, ctx.alpha), documents=len(x) + len(y),
                           resamples=t.resamples, pvalue_range=t.span("above"), pvalue_refute_range=t.span("below"))


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
    """fires_on(corpus) with its single most active token type removed, against the same bound."""
    baseline = baseline_corpora(ctx.store, (p.corpus,), p.baseline)
    token, share = most_active_token(ctx, claim, p.corpus, p.min_count)
    min_effect, scale, bound = _activation_bound(ctx, claim, p)
    before = _fires(ctx, claim, p.corpus, baseline, set(), seed, p.versus, bound)
    after = _fires(ctx, claim, p.corpus, baseline, {token}, seed, p.versus, bound)
    numbers = {"token": ctx.vocab[token], "token_id": token, "share_of_activation": share,
               "before": before, "after": after, "min_effect": min_effect, "scale": scale,
               "null": after.get("null")}
    if "reason" in after or "p_above" not in after:
        reason = after.get("reason", "not testable")
        return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", numbers, reason, 1.0)
    t = after["test"]
    was = before.get("test", {}).get("estimate", float("nan"))
    summary = (f"most active token in {p.corpus}: {ctx.vocab[token]!r} ({share:.0%} of the activation); "
               f"without it {_fmt_bound('', t['estimate'], t['ci'], bound)} (with it {was:+.3g}; "
               f"min_effect {min_effect:g} x scale {scale:.3g})")
    return PredicateResult(p.kind, p.describe(), after["p_above"], summary, numbers, None, t["min_pvalue"],
                           pvalue_refute=after["p_below"], estimate=t["estimate"], bound=bound,
                           ci=tuple(t["ci"]), units="activation", documents_needed=t["documents_needed"],
                           documents=after["n_docs"] + t["n_y"], resamples=_resamples_of(after),
                           pvalue_range=after["range_above"], pvalue_refute_range=after["range_below"])


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
        return evaluate_ablation(ctx.ablation, claim, p, seed, ctx.n_resamples, ctx.min_effect_loss, ctx.alpha)
    return EVALUATORS[p.kind](ctx, claim, p, seed)
