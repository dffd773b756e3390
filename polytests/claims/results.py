"""Frozen results of evaluating predicates and claims. Reports only read these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PredicateResult:
    """The outcome of one predicate, tested against its smallest effect of interest.

    ``pvalue`` is for "the effect exceeds the bound" (small: shown), ``pvalue_refute``
    for "the effect falls short of the bound" (small: shown); both None when the
    data cannot be tested (``inconclusive_reason`` says why). ``estimate`` and
    ``ci`` are the effect in ``units``, next to ``bound``.
    """

    kind: str
    description: str
    pvalue: float | None
    summary: str
    numbers: dict[str, Any] = field(default_factory=dict)
    inconclusive_reason: str | None = None
    min_pvalue: float = 0.0  # the smallest p-value this design could produce
    pvalue_refute: float | None = None
    estimate: float | None = None
    bound: float | None = None
    ci: tuple[float, float] | None = None
    units: str = ""
    documents_needed: float | None = None  # at the observed effect, to decide at alpha with 80% power
    documents: int | None = None  # documents behind the test now
    resamples: int = 0  # resamples (as --polytests-resamples sets them) behind the p-values; 0: none
    pvalue_range: tuple[float, float] | None = None  # where pvalue would lie with unlimited resamples (None: exact)
    pvalue_refute_range: tuple[float, float] | None = None  # the same for pvalue_refute


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
    pvalue: float | None  # "shown above the bound": intersection-union over predicates (max)
    pvalue_adjusted: float | None  # the decision p-value after the family correction
    verdict: str  # confirmed | refuted | inconclusive
    reason: str
    correction: str
    family_size: int
    pvalue_refute: float | None = None  # "shown below the bound": union over predicates (Bonferroni)
    pvalue_refute_adjusted: float | None = None  # the "below" p after the family correction
    top_tokens: tuple[tuple[str, float, str], ...] = ()  # (token, activation, corpus)
    doc_means: dict[str, tuple[float, ...]] = field(default_factory=dict)  # corpus -> per-document means
    corpora: tuple[str, ...] = ()  # the corpora the claim names
    contexts: tuple[dict, ...] = ()  # top-activating token windows (reports' heatmaps)
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


def null_summary(null, observed: float, statistic: str, *, bins: int = 40) -> dict[str, Any]:
    """A compact picture of a null distribution for reports: a histogram plus the observed value.

    Reports draw it (observed statistic marked against its null) without the full array,
    which would make claims.json grow with the number of resamples.
    """
    import numpy as np

    values = np.asarray(null, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0 or not np.isfinite(observed):
        return {"statistic": statistic, "observed": float(observed), "n": int(values.size), "edges": [], "counts": []}
    low, high = min(values.min(), observed), max(values.max(), observed)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return {"statistic": statistic, "observed": float(observed), "n": int(values.size),
            "edges": [float(f"{e:.6g}") for e in edges], "counts": [int(c) for c in counts]}
