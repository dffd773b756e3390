"""A claim's verdict: its two one-sided p-values, their Monte Carlo ranges, and the three-decision rule
applied to its family-adjusted p-values (:mod:`polytests.verdicts.family`)."""

from __future__ import annotations

import math

from polytests.stats.multiplicity import bonferroni_span, max_span
from polytests.verdicts.family import FamilyDecision


def claim_pvalues(results) -> tuple[float | None, float]:
    """(p above the bounds, p below a bound) of a claim from its predicates' results."""
    if not results or any(r.pvalue is None for r in results):
        return None, 1.0
    above = max(r.pvalue for r in results)  # intersection-union: every predicate holds
    refute = [1.0 if r.pvalue_refute is None else r.pvalue_refute for r in results]
    below = min(1.0, len(refute) * min(refute))  # union: one predicate fails suffices
    return float(above), float(below)


def claim_ranges(results) -> tuple[tuple[float, float], tuple[float, float]]:
    """The Monte Carlo ranges of a claim's p above (largest over predicates) and p below (Bonferroni)."""
    if not results or any(r.pvalue is None for r in results):
        return (1.0, 1.0), (1.0, 1.0)
    above = max_span(r.pvalue_range or (r.pvalue, r.pvalue) for r in results)
    below = bonferroni_span(r.pvalue_refute_range or ((1.0, 1.0) if r.pvalue_refute is None
                                                      else (r.pvalue_refute, r.pvalue_refute)) for r in results)
    return above, below


def refinable(results) -> bool:
    """Whether more resamples can narrow the claim's Monte Carlo ranges (a predicate's ``resamples``
    counts only resamples that ``--polytests-resamples`` sets: matched null neurons are not)."""
    return any(r.resamples for r in results)


def _weakest(results):
    """The predicate that decides "above": the one with the largest p (every predicate must hold)."""
    return max(results, key=lambda r: r.pvalue)


def _strongest_refutation(results):
    """The predicate that decides "below": the one with the smallest p below (one failing suffices)."""
    return min(results, key=lambda r: 1.0 if r.pvalue_refute is None else r.pvalue_refute)


def _effect_words(r) -> str:
    if r.estimate is None or r.bound is None:
        return r.summary
    ci = f" [{r.ci[0]:+.3g}, {r.ci[1]:+.3g}]" if r.ci is not None else ""
    return f"{r.kind}: estimate {r.estimate:+.3g}{ci} vs bound {r.bound:+.3g} {r.units}".rstrip()


def decide(results, above, below, decision: FamilyDecision, alpha: float, m: int,
           correction: str, resamples: int = 0) -> tuple[str, str]:
    """The verdict and its reason, from a claim's two p-values and their family-adjusted values; ``m`` is
    the family's size (at least 1: the claim is in it), ``resamples`` those behind its p-values."""
    pending = [r for r in results if r.pvalue is None]
    if pending:
        return "inconclusive", f"{pending[0].kind}: {pending[0].inconclusive_reason}"
    family = f"{correction} over the family's {2 * m} one-sided hypotheses ({m} claims)"
    shown = decision.shown(alpha)
    if shown is not None and not decision.resolved(alpha):
        low, high = decision.bracket(shown)
        more = (f"more resamples (now {resamples:,}: --polytests-resamples) would narrow it" if refinable(results)
                else "more matched null neurons (n_null) would narrow it, where the layer has them")
        return "inconclusive", (
            f"undecided by Monte Carlo resolution: the adjusted p {shown} the bound is "
            f"{decision.above if shown == 'above' else decision.below:.3g}, but its 99.9% Monte Carlo range "
            f"[{low:.3g}, {high:.3g}] straddles alpha {alpha:g}; {more}")
    if shown == "above":
        return "confirmed", (f"shown above the bound: {_effect_words(_weakest(results))}; "
                             f"p above {above:.3g}, {correction}-adjusted {decision.above:.3g} <= alpha {alpha:g} "
                             f"({family})")
    if shown == "below":
        return "refuted", (f"shown below the bound: {_effect_words(_strongest_refutation(results))}; "
                           f"p below {below:.3g}, {correction}-adjusted {decision.below:.3g} <= alpha {alpha:g} "
                           f"({family})")
    weakest = _weakest(results)
    floor = max(r.min_pvalue for r in results)
    words = _effect_words(weakest)
    if floor > alpha:
        return "inconclusive", (
            f"neither shown: {words}. The design cannot reach alpha={alpha:g}: its smallest attainable p "
            f"is {floor:.3g} (add documents, resamples or null neurons)")
    needed = weakest.documents_needed
    hint = ""
    if needed is not None and weakest.documents:
        hint = (" (no number of documents decides an effect that sits on its bound)" if needed == math.inf
                else f"; about {needed:,.0f} documents would decide it at this effect with 80% power "
                     f"(now {weakest.documents})")
    note = ""
    if floor > alpha / (2 * m) and correction in ("holm", "bonferroni"):
        note = f" Its smallest attainable p ({floor:.3g}) is decisive only if the rest of the family is."
    return "inconclusive", (f"neither shown above nor below the bound: {words}; p above {above:.3g} "
                            f"(adjusted {decision.above:.3g}), p below {below:.3g} (adjusted {decision.below:.3g}), "
                            f"{family}: neither <= alpha {alpha:g}{hint}.{note}")
