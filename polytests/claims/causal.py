"""The ablation predicates (ablation_hurts, ablation_specific, ablation_spares) of a claim.

The engine (:class:`polytests.engine.ablation.AblationEngine`) knows tensors: per-document
loss changes of ablated neurons. This module knows claims: which documents, which null
neurons (:mod:`polytests.stats.nulls`), which test, and the :class:`PredicateResult` it gives.
"""

from __future__ import annotations

import numpy as np

from polytests.claims.model import (
    AblationHurts,
    AblationSpares,
    AblationSpecific,
    Claim,
)
from polytests.claims.results import PredicateResult, null_summary
from polytests.engine.ablation import AblationEngine
from polytests.stats.bounds import bound_test, bound_test_one_sample, documents_needed
from polytests.stats.multiplicity import bonferroni_span
from polytests.stats.nulls import (
    BESAG_CLIFFORD_H,
    besag_clifford,
    matched_null_neurons,
    matched_pool_size,
    rank_range,
)
from polytests.stats.relative import MIN_DOCUMENTS


def evaluate_ablation(engine: AblationEngine, claim: Claim, p, seed: int, n_resamples: int,
                      min_effect_loss: float = 0.002, alpha: float = 0.05) -> PredicateResult:
    """The result of ablation predicate ``p`` of ``claim``, from ``engine``'s loss changes."""
    bound = p.min_effect if getattr(p, "min_effect", None) is not None else min_effect_loss
    if isinstance(p, AblationHurts):
        return _hurts(engine, claim, p, seed, n_resamples, float(bound), alpha)
    if isinstance(p, AblationSpecific):
        return _specific(engine, claim, p, seed, n_resamples, float(bound), alpha)
    if isinstance(p, AblationSpares):
        return _spares(engine, claim, p, seed, n_resamples, alpha)
    raise TypeError(f"not an ablation predicate: {p!r}")


def _hurts(engine: AblationEngine, claim: Claim, p: AblationHurts, seed: int, n_resamples: int, bound: float,
           alpha: float) -> PredicateResult:
    """Confirmed when the median per-document loss increase is shown above ``bound`` (exact sign
    test) AND the mean increase is larger than matched random neurons' (Besag-Clifford rank p):
    the larger p. Refuted when the median increase is shown below ``bound``."""
    layer, target = claim.neuron.layer, claim.neuron.index
    docs = engine.docs_of(p.corpora_)
    rate, magnitude = engine.layer_profile(layer)
    null_neurons = matched_null_neurons(rate, magnitude, target, p.n_null, seed)
    per_kind, above, below, tests, spans = {}, [], [], {}, []
    pool = matched_pool_size(len(rate))
    for kind in p.kinds:
        d = engine.deltas(layer, [target], kind, seed, p.corpora_, docs)[0, docs]
        d = d[np.isfinite(d)]
        observed = float(d.mean())
        test = bound_test_one_sample(d, bound)
        seen = []
        for start in range(0, len(null_neurons), 32):
            part = [int(n) for n in null_neurons[start : start + 32]]
            seen.append(np.nanmean(engine.deltas(layer, part, kind, seed, p.corpora_, docs)[:, docs], axis=1))
            p_rank, exceed, evaluated = besag_clifford(np.concatenate(seen), observed)
            if exceed >= BESAG_CLIFFORD_H:
                break
        null_values = np.concatenate(seen)[:evaluated]
        above.append(max(p_rank, test.pvalue_above))
        spans.append(tuple(max(v, test.pvalue_above) for v in rank_range(p_rank, exceed, evaluated, pool)))
        below.append(test.pvalue_below)
        tests[kind] = test
        per_kind[kind] = {"delta_loss": observed, "median": test.estimate, "ci": (test.ci.low, test.ci.high),
                          "bound": bound,
                          "p_above_bound": test.pvalue_above, "p_below_bound": test.pvalue_below,
                          "null_evaluated": evaluated, "null_exceeding": exceed, "p_rank": p_rank,
                          "share_docs_hurt": float(np.mean(d > 0)),
                          "null": null_summary(null_values, observed,
                                               f"{kind}-ablation delta loss of matched random neurons")}
    p_above, p_below = max(above), min(1.0, len(below) * min(below))
    decisive = max(per_kind, key=lambda k: max(per_kind[k]["p_rank"], per_kind[k]["p_above_bound"]))
    t = tests[decisive]
    words = "; ".join(
        f"{k}: median {v['median']:+.4f} [{v['ci'][0]:+.4f}, {v['ci'][1]:+.4f}] vs bound {bound:+.4f} nats/token "
        f"(mean {v['delta_loss']:+.4f}), {v['null_exceeding']}/{v['null_evaluated']} matched random neurons "
        f"as large (rank p={v['p_rank']:.3g})"
        for k, v in per_kind.items())
    summary = f"ablating {claim.neuron} on {', '.join(p.corpora_)} ({len(docs)} docs) — {words}"
    numbers = {"per_kind": per_kind, "n_docs": len(docs), "n_null": len(null_neurons), "bound": bound,
               "null": per_kind[decisive]["null"]}
    return PredicateResult(p.kind, p.describe(), p_above, summary, numbers, None,
                           max(1 / (len(null_neurons) + 1), t.min_pvalue), pvalue_refute=p_below,
                           estimate=t.estimate, bound=bound, ci=(t.ci.low, t.ci.high), units="nats/token",
                           documents_needed=documents_needed(t, alpha), documents=t.n_x,
                           pvalue_range=max(spans, key=lambda span: span[1]))

def _specific(engine: AblationEngine, claim: Claim, p: AblationSpecific, seed: int, n_resamples: int, bound: float,
              alpha: float) -> PredicateResult:
    layer, target = claim.neuron.layer, claim.neuron.index
    docs = engine.docs_of(p.corpora_)
    corpora = sorted({d.corpus for d in engine.documents})
    base = engine.docs_of(p.baseline or [c for c in corpora if c not in p.corpora_])
    per_kind, tests = {}, {}
    for kind in p.kinds:
        delta = engine.deltas(layer, [target], kind, seed, p.corpora_)[0]
        x, y = delta[docs], delta[base]
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if len(x) < MIN_DOCUMENTS or len(y) < MIN_DOCUMENTS:
            reason = (f"too few documents: {len(x)} claimed, {len(y)} baseline (need {MIN_DOCUMENTS} each: "
                      "with fewer the shift test does not keep its error rates; docs/statistics.md)")
            return PredicateResult(p.kind, p.describe(), None, f"inconclusive: {reason}", {}, reason, 1.0)
        test = bound_test(x, y, bound, n_resamples=n_resamples, seed=seed)
        tests[kind] = test
        per_kind[kind] = {"claimed": float(x.mean()), "baseline": float(y.mean()),
                          "difference": test.mean_difference, "shift": test.estimate,
                          "ci": (test.ci.low, test.ci.high),
                          "share_docs_hurt": float(np.mean(x > 0)), "p_above": test.pvalue_above,
                          "p_below": test.pvalue_below,
                          "null": null_summary(test.null_distribution, test.statistic,
                                               f"{kind}-ablation Brunner-Munzel t of (claimed - bound), documents relabelled")}
    decisive = max(per_kind, key=lambda k: per_kind[k]["p_above"])
    t = tests[decisive]
    p_below = min(1.0, len(tests) * min(v.pvalue_below for v in tests.values()))
    words = "; ".join(f"{k}: means {v['claimed']:+.4f} vs {v['baseline']:+.4f} nats/token, shift "
                      f"{v['shift']:+.4f} [{v['ci'][0]:+.4f}, {v['ci'][1]:+.4f}] vs bound {bound:+.4f}, "
                      f"{v['share_docs_hurt']:.0%} of docs hurt" for k, v in per_kind.items())
    return PredicateResult(p.kind, p.describe(), per_kind[decisive]["p_above"],
                           f"ablating {claim.neuron}: claimed vs baseline — {words}",
                           {"per_kind": per_kind, "bound": bound, "null": per_kind[decisive]["null"]},
                           None, t.min_pvalue, pvalue_refute=p_below, estimate=t.estimate, bound=bound,
                           ci=(t.ci.low, t.ci.high), units="nats/token",
                           documents_needed=documents_needed(t, alpha), documents=t.n_x + t.n_y,
                           resamples=min(v.resamples for v in tests.values()),
                           pvalue_range=t.span("above"),
                           pvalue_refute_range=bonferroni_span(v.span("below") for v in tests.values()))

def _spares(engine: AblationEngine, claim: Claim, p: AblationSpares, seed: int, n_resamples: int, alpha: float) -> PredicateResult:
    """Equivalence: |loss change| shown below ``margin`` (TOST; confirmed), or shown beyond it
    on either side (refuted; Bonferroni over the two sides)."""
    layer, target = claim.neuron.layer, claim.neuron.index
    docs = engine.docs_of([p.corpus])
    per_kind, equivalent, outside, closest = {}, [], [], None
    for kind in p.kinds:
        d = engine.deltas(layer, [target], kind, seed, (p.corpus,), docs)[0, docs]
        d = d[np.isfinite(d)]
        upper = bound_test_one_sample(d, p.margin)
        lower = bound_test_one_sample(d, -p.margin)
        equivalent.append(max(upper.pvalue_below, lower.pvalue_above))
        outside.append(min(1.0, 2 * min(upper.pvalue_above, lower.pvalue_below)))
        near = upper if abs(upper.estimate - p.margin) <= abs(upper.estimate + p.margin) else lower
        closest = closest if closest is not None and closest[1] >= equivalent[-1] else (near, equivalent[-1], upper)
        per_kind[kind] = {"delta_loss": upper.estimate, "ci": (upper.ci.low, upper.ci.high),
                          "pvalue": equivalent[-1]}
    near, _, upper = closest
    words = "; ".join(f"{k}: median {v['delta_loss']:+.4f} [{v['ci'][0]:+.4f}, {v['ci'][1]:+.4f}] nats/token "
                      f"(TOST p={v['pvalue']:.3g})" for k, v in per_kind.items())
    return PredicateResult(p.kind, p.describe(), max(equivalent),
                           f"ablating {claim.neuron} on {p.corpus}, margin ±{p.margin:g} — {words}",
                           {"per_kind": per_kind, "margin": p.margin, "equivalence_margin": True}, None,
                           upper.min_pvalue, pvalue_refute=min(1.0, len(outside) * min(outside)),
                           estimate=upper.estimate, bound=p.margin, ci=(upper.ci.low, upper.ci.high),
                           units="nats/token (|change| < margin)", documents_needed=documents_needed(near, alpha),
                           documents=upper.n_x)
