"""Numbers in words: p-values, signed effects, and "estimate [CI] vs bound" read from result fields.

Reports find an effect in a predicate's result generically: first the fields a predicate
may carry at its top level (``estimate``, ``ci``, ``bound``, ``unit``), then the numbers the
evaluators record today (``difference``, ``delta_loss``, ``precision``, ``correlation``; bounds
such as ``min_effect``, ``margin``, ``min_precision``). A predicate without any of them simply
shows no effect; nothing here decides a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from polytests.claims.results import ClaimResult, PredicateResult

ESTIMATE_KEYS = ("estimate", "difference", "delta_loss", "claimed", "precision", "correlation")
BOUND_KEYS = ("bound", "min_effect", "sesoi", "margin", "min_precision", "min_correlation")
UNITS = {"delta_loss": "nats/token", "claimed": "nats/token"}


def fmt_p(p: float | None, floor: float | None = None) -> str:
    """A p-value; one at the design's floor (the smallest p it can produce) reads ``<= floor``."""
    if p is None:
        return "—"
    text = f"{p:.3g}" if p >= 1e-3 else f"{p:.1e}"
    if floor is not None and floor > 0 and p <= floor * (1 + 1e-9):
        return f"<= {text}"
    return text


def claim_p(r: ClaimResult) -> tuple[float | None, float | None, str]:
    """The p-value behind a claim's verdict, the floor of its design, and which side it tests.

    A refuted claim's evidence is its "below the bound" p; any other claim's is "above".
    """
    floor = max((p.min_pvalue or 0.0 for p in r.predicates), default=None) or None
    if r.verdict == "refuted" and r.pvalue_refute is not None:
        return r.pvalue_refute, None, "below"
    return r.pvalue, floor, "above"


def fmt_claim_p(r: ClaimResult) -> str:
    p, floor, side = claim_p(r)
    return f"{fmt_p(p, floor)} ({side})" if p is not None else "—"


def fmt_signed(x: float | None, digits: int = 3) -> str:
    """A number with its sign, once: ``+0.0641``, ``-0.0018`` (never ``+-0.0018``)."""
    if x is None or not isinstance(x, (int, float)) or math.isnan(x):
        return "n/a"
    if x == 0:
        return "0"
    return f"{x:+.{digits}g}"


def fmt_num(x: float | None, digits: int = 3) -> str:
    if x is None or not isinstance(x, (int, float)) or math.isnan(x):
        return "n/a"
    return f"{x:.{digits}g}"


@dataclass(frozen=True)
class Effect:
    """An effect estimate with its interval and the bound a verdict compares it with."""

    estimate: float
    low: float | None = None
    high: float | None = None
    bound: float | None = None
    unit: str = ""
    label: str = ""  # e.g. the corpus or ablation kind the number belongs to
    symmetric_bound: bool = False  # an equivalence margin: |estimate| against ±bound

    def interval(self) -> str:
        if self.low is None or self.high is None:
            return ""
        return f"[{fmt_signed(self.low)}, {fmt_signed(self.high)}]"

    def vs_bound(self) -> str:
        if self.bound is None:
            return ""
        return f"±{fmt_num(abs(self.bound))}" if self.symmetric_bound else fmt_signed(self.bound)

    def text(self) -> str:
        parts = [fmt_signed(self.estimate)]
        if self.interval():
            parts.append(self.interval())
        if self.bound is not None:
            parts.append(f"vs {self.vs_bound()}")
        if self.unit:
            parts.append(self.unit)
        return " ".join(parts)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def _interval(fields: dict) -> tuple[float | None, float | None]:
    ci = fields.get("ci")
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return _number(ci[0]), _number(ci[1])
    return _number(fields.get("ci_low")), _number(fields.get("ci_high"))


def _from_fields(fields: dict, label: str = "", inherited_bound: float | None = None) -> Effect | None:
    key = next((k for k in ESTIMATE_KEYS if _number(fields.get(k)) is not None), None)
    if key is None:
        return None
    low, high = _interval(fields)
    bound_key = next((k for k in BOUND_KEYS if _number(fields.get(k)) is not None), None)
    bound = _number(fields.get(bound_key)) if bound_key else inherited_bound
    return Effect(_number(fields[key]), low, high, bound, str(fields.get("unit") or UNITS.get(key, "")), label,
                  symmetric_bound=bound_key == "margin" or (bound_key is None and inherited_bound is not None))


def _weakest(parts: dict) -> tuple[str, dict] | None:
    """The part (corpus or ablation kind) with the largest p-value: the one that decides an IUT."""
    items = [(k, v) for k, v in parts.items() if isinstance(v, dict)]
    if not items:
        return None
    return max(items, key=lambda kv: kv[1].get("pvalue") if _number(kv[1].get("pvalue")) is not None else 2.0)


def _top_effect(pred: PredicateResult) -> Effect | None:
    """The effect a predicate states in its own fields (``estimate``, ``ci``, ``bound``)."""
    estimate = _number(pred.estimate)
    if estimate is None:
        return None
    low, high = (_number(pred.ci[0]), _number(pred.ci[1])) if pred.ci is not None else (None, None)
    return Effect(estimate, low, high, _number(pred.bound))


def effect_of(pred: PredicateResult) -> Effect | None:
    """The effect of one predicate result, or None when it records none."""
    top = _top_effect(pred)
    if top is not None:
        return top
    numbers = pred.numbers
    margin = _number(numbers.get("margin"))
    for nested, prefix in (("per_corpus", ""), ("per_kind", ""), ("per_baseline_corpus", "vs ")):
        if isinstance(numbers.get(nested), dict):
            weakest = _weakest(numbers[nested])
            if weakest is not None:
                return _from_fields(weakest[1], prefix + weakest[0], margin)
    if isinstance(numbers.get("after"), dict) and "difference" in numbers["after"]:
        token = numbers.get("token")
        return _from_fields(numbers["after"], f"without {token!r}" if token is not None else "")
    return _from_fields(numbers)


def deciding_predicate(r: ClaimResult) -> PredicateResult | None:
    """The predicate a reader should look at first: the one left inconclusive, else the one with
    the largest p-value (intersection-union)."""
    preds = r.predicates
    if not preds:
        return None
    for p in preds:
        if p.pvalue is None:
            return p
    return max(preds, key=lambda p: p.pvalue)


def claim_effect(r: ClaimResult) -> Effect | None:
    pred = deciding_predicate(r)
    return effect_of(pred) if pred is not None else None


def null_of(pred: PredicateResult) -> list[tuple[str, dict]]:
    """Every null-distribution summary recorded in a predicate's numbers, with a label."""
    found: list[tuple[str, dict]] = []

    def walk(value: Any, label: str) -> None:
        if isinstance(value, dict):
            null = value.get("null")
            if isinstance(null, dict) and null.get("counts"):
                found.append((label, null))
            for key, sub in value.items():
                if key != "null" and isinstance(sub, dict):
                    walk(sub, label if key in ("per_corpus", "per_kind") else f"{label} {key}".strip())

    walk(pred.numbers, "")
    # A predicate often records its decisive null twice (at the top and under its kind or
    # corpus): one panel each, under the more specific label.
    unique: list[tuple[str, dict]] = []
    for label, null in found:
        same = next((i for i, (_, seen) in enumerate(unique) if seen == null), None)
        if same is None:
            unique.append((label, null))
        elif len(label) > len(unique[same][0]):
            unique[same] = (label, null)
    return unique


def reference_words(prov: dict) -> str:
    """Where the neuron scales came from, in words (a fixed reference text, or the corpora)."""
    if prov.get("reference_fixed") is False:
        return "scales from the corpora (no reference text: bounds move with the corpora)"
    if prov.get("reference_sha256"):
        return f"scales from the reference text `{str(prov['reference_sha256'])[:12]}`"
    return "scales from the split"



def not_judged(results: list[ClaimResult]) -> dict[str, str]:
    """Claims of the family that were not judged (a broken claim file, a model not on this machine)
    and the first line of why, from the results that record them."""
    out: dict[str, str] = {}
    for r in results:
        out.update(r.family_excluded)
    return dict(sorted(out.items()))
