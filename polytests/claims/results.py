"""Frozen results of evaluating predicates and claims. Reports only read these.

:func:`plain` turns a result into the JSON of claims.json (and of the results pytest-xdist
workers send back); ``from_dict`` reads that JSON back into the same frozen objects, so every
report reads typed fields whichever process judged the claim: a renamed field fails here, where
the JSON is read, or in type checking, never silently inside a report.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


def plain(value: Any) -> Any:
    """``value`` as JSON-ready lists, dicts and Python numbers (dataclasses as dicts of their fields)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # field by field: dataclasses.asdict would deep-copy everything before this walks it again
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def _pair(value) -> tuple[float, float] | None:
    return None if value is None else (value[0], value[1])


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PredicateResult:
        """The result :func:`plain` wrote (an unknown or missing field raises TypeError)."""
        return cls(**{**data, "ci": _pair(data.get("ci")), "pvalue_range": _pair(data.get("pvalue_range")),
                      "pvalue_refute_range": _pair(data.get("pvalue_refute_range"))})


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
    # Claims of the family that could not be judged with it (claim id -> why); only written when any.
    family_excluded: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClaimResult:
        """The result :func:`plain` wrote (an unknown or missing field raises TypeError)."""
        return cls(**{**data, "predicates": tuple(PredicateResult.from_dict(p) for p in data.get("predicates", ())),
                      "top_tokens": tuple((str(t), a, str(c)) for t, a, c in data.get("top_tokens", ())),
                      "doc_means": {k: tuple(v) for k, v in (data.get("doc_means") or {}).items()},
                      "corpora": tuple(data.get("corpora", ())), "contexts": tuple(data.get("contexts", ()))})

    def to_dict(self) -> dict[str, Any]:
        """The JSON of claims.json."""
        data = plain(self)
        if not data["family_excluded"]:
            del data["family_excluded"]
        return data

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
