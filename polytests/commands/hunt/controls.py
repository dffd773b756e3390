"""Stage 2 of the hunt: what survives for each candidate.

A candidate is a neuron that responds to exactly ``k`` of the chosen corpora (stage 1,
:mod:`polytests.commands.hunt.scan`). With per-token activations of the candidates, each is tested
again with the claim evaluators themselves (:mod:`polytests.claims.evaluate`), against the
pooled documents of the corpora it does not respond to, at the same bound
(``min_effect`` x the neuron's exact scale):

* ``response``: fires_on (k = 1) or polysemantic (k >= 2);
* ``shared``: the same with the token types the responding corpora share excluded (k >= 2);
* ``one_token``: not_explained_by_one_token for every responding corpus (its most active
  token type removed);
* ``token_matched``: the same token types in a responding corpus and in the non-responding
  corpus with most of them (``min_occurrences`` each side), when there are enough.

Each control's number is the effect of its WEAKER corpus (the responding corpus with the smallest
effect under that control, in ``Control.corpus``), whatever the bound: the part with the largest
p-value decides the control (intersection-union), but which part that is moves with the bound and
the group sizes, so the number shown beside the p would name the stronger corpus at one setting
and the weaker at another (#26).

The scale of every control is the one stage 1 used when it was measured elsewhere
(:class:`ScaledContext`: every corpus of the split, as the claims measure it without a fixed
reference), so the scan and the controls bound by the same number.

A control "holds" when its p-value for "above the bound" is at most ``alpha``. A candidate
whose response holds but not without its single most active token is a ONE-TOKEN ARTIFACT
(the original analysis's period neuron); one that holds but not without the shared tokens is
a SHARED-TOKEN ARTIFACT. These are p-values on the explore split, one per control: evidence
to write a claim with, judged on confirm, not verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from polytests.claims.evaluate import (
    EvaluationContext,
    eval_fires_on,
    eval_not_one_token,
    eval_polysemantic,
    eval_token_matched,
    most_active_token,
    shared_token_ids,
)
from polytests.claims.parse import claim_from_dict
from polytests.neurons import NeuronRef

__all__ = ["Candidate", "Control", "ScaledContext", "check_candidate", "control_cell", "VERDICTS"]

VERDICTS = {
    "finding": "responds, and survives every control",
    "partial": "responds beyond shared tokens and one token; the same tokens are not shown to differ",
    "one-token artifact": "the response is carried by one token type",
    "shared-token artifact": "the response is carried by the tokens the corpora share",
    "weak": "not above the bound at the neuron's exact scale",
    "undecided": "a control is neither shown to hold nor shown to fail: no artifact label without a decision",
}


@dataclass
class ScaledContext(EvaluationContext):
    """An EvaluationContext whose neuron scales are given (``scales``), for the neurons it names: the
    scales stage 1 took from another store (every corpus of the split), which the store of the
    controls (the chosen corpora only) cannot measure. Other neurons: as EvaluationContext."""

    scales: dict = field(default_factory=dict)  # NeuronRef -> scale

    def scale_of(self, neuron) -> float:
        if neuron in self.scales:
            return float(self.scales[neuron])
        return super().scale_of(neuron)


@dataclass(frozen=True)
class Control:
    """One control's outcome: ``holds`` (p_above <= alpha), ``below`` (shown below the bound),
    ``unclear`` (neither), or ``n/a`` with the reason in ``detail``. ``estimate`` is the effect of
    ``corpus``, the weaker responding corpus under this control (smallest estimate)."""

    name: str
    status: str
    p_above: float | None
    p_below: float | None
    estimate: float | None  # activation units
    detail: str
    corpus: str | None = None

    @property
    def holds(self) -> bool:
        return self.status == "holds"

    def mark(self) -> str:
        return {"holds": "✓", "below": "✗", "unclear": "?", "n/a": "–"}[self.status]


@dataclass(frozen=True)
class Candidate:
    neuron: NeuronRef
    corpora: tuple[str, ...]  # responding
    baseline: tuple[str, ...]  # the chosen corpora it does not respond to
    effect: float  # stage 1, in scale units
    qvalue: float  # stage 1
    scale: float  # exact
    response: Control
    shared: Control
    one_token: Control
    token_matched: Control
    verdict: str
    reason: str
    artifact_token: str | None = None
    artifact_share: float | None = None
    matched_pairs: tuple[tuple[str, str], ...] = ()  # (corpus, against) whose token-matched control held
    min_occurrences: int = 50

    @property
    def is_artifact(self) -> bool:
        return self.verdict.endswith("artifact")

    def effect_after(self, control: Control) -> float | None:
        if control.estimate is None or not self.scale > 0:
            return None
        return control.estimate / self.scale


def _probe(neuron: NeuronRef, predicate: dict):
    return claim_from_dict({"id": f"hunt-{str(neuron).lower()}", "statement": "hunt probe", "neuron": str(neuron),
                            "split": "explore", "predicate": [predicate]})


def weaker_corpus(result, corpus: str | None = None) -> tuple[str | None, float | None]:
    """(corpus, estimate) of the responding corpus with the smallest effect in ``result``: for a
    polysemantic result the smallest of its per-corpus estimates (not the part with the largest p,
    which the evaluator reports and which moves with the bound); else ``corpus`` and the estimate."""
    parts = {c: r["test"]["estimate"] for c, r in result.numbers.get("per_corpus", {}).items() if "test" in r}
    if not parts:
        return corpus, result.estimate
    weakest = min(parts, key=lambda c: (parts[c], c))
    return weakest, float(parts[weakest])


def _control(name: str, result, alpha: float, corpus: str | None = None) -> Control:
    p, p_below = result.pvalue, result.pvalue_refute
    if p is None:
        return Control(name, "n/a", None, None, None, result.reason or result.summary, corpus)
    status = "holds" if p <= alpha else "below" if p_below is not None and p_below <= alpha else "unclear"
    weaker, estimate = weaker_corpus(result, corpus)
    return Control(name, status, float(p), None if p_below is None else float(p_below), estimate, result.summary,
                   weaker)


def _worst(name: str, parts: list[Control]) -> Control:
    """All parts must hold (intersection-union): the part with the largest p speaks for them; the
    number shown is the weaker corpus's (smallest estimate), as for every control."""
    if not parts:
        return Control(name, "n/a", None, None, None, "no part applies")
    testable = [c for c in parts if c.status != "n/a"]
    if not testable:
        return Control(name, "n/a", None, None, None, parts[0].detail)
    worst = max(testable, key=lambda c: c.p_above)
    weaker = min(testable, key=lambda c: (np.inf if c.estimate is None else c.estimate, c.corpus or ""))
    status = "holds" if all(c.holds for c in testable) else (
        "below" if any(c.status == "below" for c in testable) else "unclear")
    return Control(name, status, worst.p_above, worst.p_below, weaker.estimate,
                   "; ".join(c.detail for c in testable), weaker.corpus)


def _against_for_matching(ctx, corpus: str, others: tuple[str, ...], min_occurrences: int) -> str | None:
    """The non-responding corpus sharing the most token occurrences (>= min_occurrences each side) with ``corpus``."""
    store = ctx.store
    doc = store.tokens.doc_index_per_token()
    ids = store.tokens.token_ids
    count = {c: np.bincount(ids[np.isin(doc, store.docs_of(c))], minlength=len(ctx.vocab))
             for c in (corpus, *others)}
    best, best_n = None, 0
    for o in others:
        ok = (count[corpus] >= min_occurrences) & (count[o] >= min_occurrences)
        n = int(np.minimum(count[corpus], count[o])[ok].sum())
        if n > best_n:
            best, best_n = o, n
    return best


def check_candidate(ctx: EvaluationContext, neuron: NeuronRef, corpora: tuple[str, ...],
                    baseline: tuple[str, ...], *, min_effect: float, alpha: float = 0.05,
                    min_occurrences: int = 50, effect: float = float("nan"),
                    qvalue: float = float("nan")) -> Candidate:
    """Run the four controls for one candidate (see the module docstring)."""
    common = {"baseline": list(baseline), "min_effect": float(min_effect)}
    if len(corpora) == 1:
        pred = {"kind": "fires_on", "corpus": corpora[0], "versus": "pooled", **common}
        claim = _probe(neuron, pred)
        response = _control("response", eval_fires_on(ctx, claim, claim.predicates[0], 1), alpha, corpora[0])
        shared = Control("shared", "n/a", None, None, None, "one corpus: nothing shared")
    else:
        pred = {"kind": "polysemantic", "corpora": list(corpora), "versus": "pooled", **common}
        claim = _probe(neuron, pred)
        response = _control("response", eval_polysemantic(ctx, claim, claim.predicates[0], 1), alpha)
        pred = dict(pred, exclude_shared_tokens=True)
        claim = _probe(neuron, pred)
        n_shared = len(shared_token_ids(ctx.store, corpora))
        shared = _control("shared", eval_polysemantic(ctx, claim, claim.predicates[0], 2), alpha)
        shared = Control(shared.name, shared.status, shared.p_above, shared.p_below, shared.estimate,
                         f"{n_shared} shared token types excluded: {shared.detail}", shared.corpus)
    one_parts, tokens = [], {}
    for i, c in enumerate(corpora):
        pred = {"kind": "not_explained_by_one_token", "corpus": c, "versus": "pooled", **common}
        claim = _probe(neuron, pred)
        token, share = most_active_token(ctx, claim, c, claim.predicates[0].min_count)
        tokens[c] = (ctx.vocab[token], share)
        one_parts.append(_control("one_token", eval_not_one_token(ctx, claim, claim.predicates[0], 10 + i), alpha,
                                  c))
    one_token = _worst("one_token", one_parts)
    matched_parts, pairs = [], []
    for i, c in enumerate(corpora):
        against = _against_for_matching(ctx, c, baseline, min_occurrences)
        if against is None:
            matched_parts.append(Control("token_matched", "n/a", None, None, None,
                                         f"no token type occurs >= {min_occurrences} times in {c} and in a "
                                         "non-responding corpus", corpus=c))
            continue
        pred = {"kind": "token_matched", "corpus": c, "against": against, "min_occurrences": min_occurrences,
                "min_effect": float(min_effect)}
        claim = _probe(neuron, pred)
        part = _control("token_matched", eval_token_matched(ctx, claim, claim.predicates[0], 20 + i), alpha, c)
        matched_parts.append(part)
        if part.holds:
            pairs.append((c, against))
    token_matched = _worst("token_matched", matched_parts)
    scale = ctx.scale_of(neuron)
    verdict, reason, artifact_token, artifact_share = label(response, shared, one_token, token_matched,
                                                            dict(zip(corpora, one_parts, strict=True)), tokens,
                                                            scale)
    return Candidate(neuron, tuple(corpora), tuple(baseline), float(effect), float(qvalue), scale, response,
                     shared, one_token, token_matched, verdict, reason, artifact_token, artifact_share,
                     tuple(pairs), min_occurrences)


def label(response: Control, shared: Control, one_token: Control, token_matched: Control,
          one_parts: dict[str, Control], tokens: dict[str, tuple[str, float]], scale: float
          ) -> tuple[str, str, str | None, float | None]:
    """(verdict, reason, artifact token, its share) from the controls. An artifact label needs its
    control decided against the response (shown below the bound); a control neither shown to hold
    nor to fail makes the candidate "undecided", with its numbers."""
    artifact_token = artifact_share = None
    if not response.holds:
        verdict, reason = "weak", f"response not above the bound on stage 2 ({response.detail})"
    elif one_token.status == "below":
        broken = [c for c, part in one_parts.items() if part.status == "below"]
        artifact_token, artifact_share = tokens[broken[0]]
        verdict = "one-token artifact"
        reason = (f"on {broken[0]}, {artifact_token!r} carries {artifact_share:.0%} of the activation; without it "
                  f"the response is shown below the bound (p below {one_token.p_below:.2g})")
    elif shared.status == "below":
        verdict = "shared-token artifact"
        reason = (f"without the token types {' and '.join(one_parts)} share, the response is shown below the bound "
                  f"(p below {shared.p_below:.2g})")
    elif not one_token.holds or (not shared.holds and shared.status != "n/a"):
        ctl = one_token if not one_token.holds else shared
        what = {"one_token": "without its most active token", "shared": "without the shared token types"}[ctl.name]
        verdict = "undecided"
        if ctl.status == "n/a":
            reason = f"{what} the response could not be tested ({ctl.detail})"
        else:
            numbers = ("" if ctl.estimate is None or not scale > 0 else
                       f"{ctl.estimate / scale:+.3g} x scale{f' on {ctl.corpus}' if ctl.corpus else ''}, ")
            below = "n/a" if ctl.p_below is None else f"{ctl.p_below:.2g}"
            reason = (f"{what} the response is neither shown above nor below the bound ({numbers}p above "
                      f"{ctl.p_above:.2g}, p below {below}): more documents would decide it")
    elif token_matched.holds or token_matched.status == "n/a":
        verdict, reason = "finding", VERDICTS["finding"]
    else:
        verdict, reason = "partial", VERDICTS["partial"]
    return verdict, reason, artifact_token, artifact_share


def control_cell(c: Candidate, ctl, *, named: bool = False) -> str:
    """A control's mark and the weaker corpus's effect in scale units; ``named``: and that corpus, when
    the candidate responds to several (the HTML; the terminal table stays narrow)."""
    after = c.effect_after(ctl)
    if after is None:
        return ctl.mark()
    corpus = f" ({ctl.corpus})" if named and ctl.corpus and len(c.corpora) > 1 else ""
    return f"{ctl.mark()} {after:+.3f}{corpus}"
