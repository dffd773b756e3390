"""The claim model: one frozen, validated description of a claim and its predicates.

Both claim forms (TOML files in ``hypotheses/`` and ``Claim`` objects in
``test_*.py`` files) build these same objects, so both mean exactly the same
thing. Validation here is structural (types, ranges, known predicate kinds);
what depends on the model or the corpora (does layer 7 exist, is there a corpus
called ``spanish``) is checked by :func:`polytests.claims.validate.check_claim`
once those are known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from polytests.corpora.splits import SPLITS
from polytests.errors import ClaimError
from polytests.neurons import NeuronRef

VERDICTS = ("confirmed", "refuted", "inconclusive")
EXPECTATIONS = ("confirmed", "refuted")
VERSUS = ("pooled", "each")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Predicate:
    """Base of every predicate. ``kind`` names it in claim files."""

    kind = "predicate"

    def corpora(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        args = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"{self.kind}({args})"


@dataclass(frozen=True)
class FiresOn(Predicate):
    """The neuron's per-document mean activation is higher on ``corpus`` than on the baseline."""

    corpus: str
    baseline: tuple[str, ...] = ()  # empty: every other corpus of the split
    exclude_shared_tokens: tuple[str, ...] = ()  # drop token types ``corpus`` shares with these
    exclude_tokens: tuple[str, ...] = ()  # drop these token strings everywhere
    versus: str = "pooled"  # "each": higher than every baseline corpus, not only their pool
    kind = "fires_on"

    def corpora(self):
        return (self.corpus, *self.baseline, *self.exclude_shared_tokens)


@dataclass(frozen=True)
class SilentOn(Predicate):
    """Equivalence: |mean(corpus) - mean(baseline)| < margin (TOST at the document level)."""

    corpus: str
    margin: float
    baseline: tuple[str, ...] = ()
    kind = "silent_on"

    def corpora(self):
        return (self.corpus, *self.baseline)


@dataclass(frozen=True)
class Polysemantic(Predicate):
    """Fires on every one of ``corpora`` (intersection-union test over fires_on)."""

    corpora_: tuple[str, ...]
    baseline: tuple[str, ...] = ()
    exclude_shared_tokens: bool = False  # drop the token types the claimed corpora share
    versus: str = "pooled"
    kind = "polysemantic"

    def corpora(self):
        return (*self.corpora_, *self.baseline)


@dataclass(frozen=True)
class TokenMatched(Predicate):
    """The same token ids activate the neuron more in ``corpus`` than in ``against``."""

    corpus: str
    against: str
    min_occurrences: int = 50
    kind = "token_matched"

    def corpora(self):
        return (self.corpus, self.against)


@dataclass(frozen=True)
class NotExplainedByOneToken(Predicate):
    """fires_on(corpus) still holds after removing its single most active token type."""

    corpus: str
    baseline: tuple[str, ...] = ()
    min_count: int = 5
    kind = "not_explained_by_one_token"

    def corpora(self):
        return (self.corpus, *self.baseline)


@dataclass(frozen=True)
class TopKPrecision(Predicate):
    """Of the k most activating contexts, at least ``min_precision`` come from ``corpora_``."""

    corpora_: tuple[str, ...]
    k: int = 20
    min_precision: float = 0.8
    max_per_document: int = 1
    kind = "top_k_precision"

    def corpora(self):
        return self.corpora_


@dataclass(frozen=True)
class ExplainedBy(Predicate):
    """A token-set or regex explanation predicts the activation (correlation with a CI)."""

    tokens: tuple[str, ...] = ()
    regex: str | None = None
    min_correlation: float = 0.3
    threshold: float | None = None  # activation counted as "firing" for precision/recall
    kind = "explained_by"


@dataclass(frozen=True)
class AblationHurts(Predicate):
    """Ablating the neuron raises next-token loss on the corpora more than random matched neurons do."""

    corpora_: tuple[str, ...]
    kinds: tuple[str, ...] = ("zero",)
    n_null: int = 199
    kind = "ablation_hurts"

    def corpora(self):
        return self.corpora_


@dataclass(frozen=True)
class AblationSpecific(Predicate):
    """The loss increase from ablation is larger on ``corpora_`` than on the baseline documents."""

    corpora_: tuple[str, ...]
    baseline: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ("zero",)
    kind = "ablation_specific"

    def corpora(self):
        return (*self.corpora_, *self.baseline)


@dataclass(frozen=True)
class AblationSpares(Predicate):
    """Ablation changes loss on ``corpus`` by less than ``margin`` nats/token (equivalence)."""

    corpus: str
    margin: float = 0.01
    kinds: tuple[str, ...] = ("zero",)
    kind = "ablation_spares"

    def corpora(self):
        return (self.corpus,)


PREDICATES: dict[str, type[Predicate]] = {
    cls.kind: cls
    for cls in (FiresOn, SilentOn, Polysemantic, TokenMatched, NotExplainedByOneToken,
                TopKPrecision, ExplainedBy, AblationHurts, AblationSpecific, AblationSpares)
}
ABLATION_KINDS = ("zero", "mean", "resample")


@dataclass(frozen=True)
class Claim:
    """A claim about one neuron: statement, where to test it, and what it asserts."""

    id: str
    statement: str
    neuron: NeuronRef
    predicates: tuple[Predicate, ...]
    model: str | None = None  # None: the run's model ([tool.polytests] model, "embedded" by default)
    split: str = "confirm"
    alpha: float | None = None  # None: the run's default ([tool.polytests] alpha)
    expect: str = "confirmed"
    site: str | None = None
    source: str | None = None  # file the claim came from
    line: int | None = None
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def corpora(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for p in self.predicates:
            for c in p.corpora():
                seen[c] = None
        return tuple(seen)

    @property
    def needs_ablation(self) -> bool:
        return any(p.kind.startswith("ablation_") for p in self.predicates)

    def error(self, message: str, field_name: str | None = None, fix: str | None = None) -> ClaimError:
        line = self.lines.get(field_name or "") or self.lines.get((field_name or "").split(".")[0]) or self.line
        return ClaimError(message, path=self.source, line=line, field=field_name, fix=fix)


def _tuple_of_str(value: Any, name: str, err) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise err(f"must be a string or a list of strings, got {value!r}", name,
              f'write {name} = ["a", "b"]')


def validate_claim(claim: Claim) -> Claim:
    """Structural checks of a claim; raise :class:`ClaimError` naming the field and the fix."""
    if not isinstance(claim.id, str) or not _ID_RE.match(claim.id):
        raise claim.error(f"id {claim.id!r} is not a simple identifier", "id",
                          "use letters, digits, '_', '-', '.'; start with a letter or digit")
    if not isinstance(claim.statement, str) or not claim.statement.strip():
        raise claim.error("statement is empty", "statement", "say the claim in one line of words")
    if claim.alpha is not None and not 0 < claim.alpha < 1:
        raise claim.error(f"alpha {claim.alpha!r} is not in (0, 1)", "alpha", "use e.g. alpha = 0.05")
    if claim.expect not in EXPECTATIONS:
        raise claim.error(f"expect {claim.expect!r} is not one of {EXPECTATIONS}", "expect",
                          'write expect = "refuted" for a documented false claim')
    if claim.split not in SPLITS:
        raise claim.error(f"unknown split {claim.split!r}; known: {', '.join(SPLITS)}", "split",
                          'claims are judged on split = "confirm"')
    if not claim.predicates:
        raise claim.error("the claim asserts no predicate", "predicate",
                          "add at least one [[claim.predicate]] table with a kind")
    for index, p in enumerate(claim.predicates):
        _validate_predicate(claim, index, p)
    return claim


def _validate_predicate(claim: Claim, index: int, p: Predicate) -> None:
    field_name = f"predicate[{index}]"
    if isinstance(p, (FiresOn, Polysemantic)) and p.versus not in VERSUS:
        raise claim.error(f"versus {p.versus!r} is not one of {', '.join(VERSUS)}", f"{field_name}.versus",
                          'versus = "each" asks for more than every baseline corpus; "pooled" (default) '
                          "for more than their pooled documents")
    if isinstance(p, (Polysemantic,)) and len(p.corpora_) < 2:
        raise claim.error("polysemantic needs at least two corpora", field_name,
                          "list two or more corpora, or use fires_on for one")
    if isinstance(p, SilentOn) and not p.margin > 0:
        raise claim.error(f"margin must be > 0, got {p.margin!r}", field_name,
                          "state the largest difference you would still call silent")
    if isinstance(p, TopKPrecision):
        if not 0 < p.min_precision <= 1:
            raise claim.error("min_precision must be in (0, 1]", field_name, "e.g. min_precision = 0.8")
        if p.k < 1 or p.max_per_document < 1:
            raise claim.error("k and max_per_document must be >= 1", field_name, "e.g. k = 20")
    if isinstance(p, ExplainedBy):
        if not p.tokens and p.regex is None:
            raise claim.error("explained_by needs tokens or a regex", field_name,
                              'write tokens = [" the", "."] or regex = "^\\\\d+$"')
        if p.regex is not None:
            try:
                re.compile(p.regex)
            except re.error as exc:
                raise claim.error(f"regex {p.regex!r} does not compile ({exc})", field_name,
                                  "fix the regular expression") from exc
    if isinstance(p, TokenMatched) and p.min_occurrences < 1:
        raise claim.error("min_occurrences must be >= 1", field_name, "50 is a common bar")
    if isinstance(p, (AblationHurts, AblationSpecific, AblationSpares)):
        bad = [k for k in p.kinds if k not in ABLATION_KINDS]
        if bad or not p.kinds:
            raise claim.error(f"unknown ablation kind {bad[0] if bad else None!r}; known: "
                              f"{', '.join(ABLATION_KINDS)}", field_name, 'e.g. kinds = ["zero", "mean"]')
    if isinstance(p, AblationHurts) and p.n_null < 19:
        raise claim.error("n_null must be >= 19 (199 or more recommended)", field_name, "n_null = 199")
    if isinstance(p, AblationSpares) and not p.margin > 0:
        raise claim.error("margin must be > 0", field_name, "e.g. margin = 0.01 (nats/token)")
