"""Frozen results of evaluating predicates and claims. Reports only read these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PredicateResult:
    """The outcome of one predicate: a p-value (None when inconclusive), numbers and words."""

    kind: str
    description: str
    pvalue: float | None
    summary: str
    numbers: dict[str, Any] = field(default_factory=dict)
    inconclusive_reason: str | None = None
    min_pvalue: float = 0.0  # the smallest p-value this design could produce
    holds_descriptively: bool = True  # False when a stated threshold is missed whatever p is


@dataclass(frozen=True)
class ClaimResult:
    """A claim's verdict with the evidence behind it."""

    claim_id: str
    statement: str
    neuron: str
    site: str
    expect: str
    alpha: float
    predicates: tuple[PredicateResult, ...]
    pvalue: float | None  # intersection-union over predicates (max)
    pvalue_adjusted: float | None
    verdict: str  # confirmed | refuted | inconclusive
    reason: str
    correction: str
    family_size: int
    top_tokens: tuple[tuple[str, float, str], ...] = ()  # (token, activation, corpus)
    doc_means: dict[str, tuple[float, ...]] = field(default_factory=dict)  # corpus -> per-document means
    corpora: tuple[str, ...] = ()  # the corpora the claim names
    provenance: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    line: int | None = None

    @property
    def passed(self) -> bool:
        """Pytest outcome: confirmed claims pass; expect="refuted" claims pass while refuted."""
        return self.verdict == self.expect

    @property
    def failed(self) -> bool:
        return self.verdict != "inconclusive" and self.verdict != self.expect
