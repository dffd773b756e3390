"""The predicates of a claim: one pydantic model per kind (fires_on, silent_on, ..., ablation_*),
joined as a discriminated union on ``kind``, with the field types they share.

Types carry the constraints; cross-field rules are validators on the field they concern, so
every error has a field path such as ``predicate[0].baseline`` (see :mod:`polytests.claims.model`)."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from polytests.neurons import NeuronRef

VERDICTS = ("confirmed", "refuted", "inconclusive")
EXPECTATIONS = ("confirmed", "refuted")
VERSUS = ("pooled", "each")
ABLATION_KINDS = ("zero", "mean", "resample")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


# -- reusable field types ------------------------------------------------------------------


def list_only(value: Any) -> Any:
    """Accept a list (or tuple) and nothing else: a string is never read as its characters."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, tuple):
        return value
    if isinstance(value, str):
        raise PydanticCustomError("list_not_string", f"must be a list, not the string {value!r}")
    raise PydanticCustomError("list_expected", f"must be a list, got {type(value).__name__}")


def _unique(items: tuple) -> tuple:
    seen = set()
    for item in items:
        if item in seen:
            raise PydanticCustomError("duplicate_item", f"lists {item!r} more than once")
        seen.add(item)
    return items


def _parse_neuron(value: Any) -> NeuronRef:
    if isinstance(value, NeuronRef):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("neuron_type", f"must be a string like 'L2N18', got {type(value).__name__}")
    try:
        return NeuronRef.parse(value)
    except ValueError as exc:
        raise PydanticCustomError("neuron_format", str(exc)) from None


def check_site(site: str) -> str:
    if "{layer}" not in site:
        raise PydanticCustomError("site_layer", f"site {site!r} has no '{{layer}}' placeholder")
    try:
        site.format(layer=0)
    except (KeyError, IndexError, ValueError):
        raise PydanticCustomError("site_format", f"site {site!r} has braces other than '{{layer}}'") from None
    return site


def _check_regex(regex: str) -> str:
    try:
        re.compile(regex)
    except re.error as exc:
        raise PydanticCustomError("regex", f"regex {regex!r} does not compile ({exc})") from None
    return regex


Name = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
Corpus = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\s/\\]+$")]
_UNIQUE = Field(json_schema_extra={"uniqueItems": True})
CorpusList = Annotated[tuple[Corpus, ...], BeforeValidator(list_only), AfterValidator(_unique), _UNIQUE]
TokenList = Annotated[tuple[Annotated[str, StringConstraints(min_length=1)], ...], BeforeValidator(list_only),
                      AfterValidator(_unique), _UNIQUE]
AblationKind = Literal["zero", "mean", "resample"]
AblationKinds = Annotated[tuple[AblationKind, ...], BeforeValidator(list_only), AfterValidator(_unique),
                          Field(min_length=1), _UNIQUE]
Count = Annotated[int, Field(ge=1)]
PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFinite = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _min_effect(units: str, example: float):
    return Field(None, description=f"the smallest effect this claim asserts, in {units} (default: the run's "
                 "[tool.polytests] setting; see docs/statistics.md)", examples=[example])


_ACTIVATION_UNITS = "units of the neuron's scale (its 99.9th-percentile |activation| on the reference text)"
_VERSUS = Field("each", description="'each' (default, selective): above every baseline corpus by min_effect; "
                "'pooled' (weaker): above the baseline's pooled documents only, while another corpus may "
                "respond as strongly", examples=["each"])
Neuron = Annotated[
    NeuronRef, PlainValidator(_parse_neuron), PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^L\d+N\d+$",
                    "description": "layer and neuron index in Neuroscope's naming", "examples": ["L2N18"]}),
]


def _not_listed(value: tuple, info: ValidationInfo, *claimed_fields: str) -> tuple:
    """Raise if ``value`` (a baseline) names a corpus that one of ``claimed_fields`` claims."""
    claimed: set[str] = set()
    for name in claimed_fields:
        got = info.data.get(name)
        claimed |= {got} if isinstance(got, str) else set(got or ())
    overlap = [c for c in value if c in claimed]
    if overlap:
        raise PydanticCustomError(
            "baseline_overlap", f"{info.field_name} lists {overlap[0]!r}, which this predicate claims; list "
            "only other corpora there")
    return value


# -- predicates -------------------------------------------------------------------------------


class FrozenModel(BaseModel):
    """Strict, frozen, closed: unknown keys are errors, and types are never coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True,
                              validate_default=False)
    _positional: ClassVar[tuple[str, ...]] = ()

    def __init__(self, /, *args: Any, **data: Any) -> None:
        # Positional arguments in field order, as the dataclasses this model replaced took them.
        names = self._positional or tuple(n for n in type(self).model_fields if n != "kind")
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
        for name, value in zip(names, args):
            data[name] = value
        super().__init__(**data)


def _kind_required(schema: dict, cls: type) -> None:
    # ``kind`` has a default for the Python constructors, but a table must state it.
    schema["required"] = ["kind", *[k for k in schema.get("required", []) if k != "kind"]]


class Predicate(FrozenModel):
    """Base of every predicate. ``kind`` names it in claim files."""

    model_config = ConfigDict(json_schema_extra=_kind_required)
    kind: str

    def corpora(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).model_fields if name != "kind")
        return f"{self.kind}({args})"


def _kind(name: str):
    return Field(name, description="which predicate this table states")


class FiresOn(Predicate):
    """The neuron's per-document mean activation is higher on ``corpus`` than on the baseline."""

    kind: Literal["fires_on"] = _kind("fires_on")
    corpus: Corpus = Field(description="the corpus the neuron fires on", examples=["fortran"])
    baseline: CorpusList = Field((), description="corpora to compare against (empty: every other corpus)",
                                 examples=[["legal", "medical"]])
    exclude_shared_tokens: CorpusList = Field(
        (), description="drop the token types that `corpus` shares with these corpora", examples=[["python_code"]])
    exclude_tokens: TokenList = Field((), description="drop these token strings everywhere",
                                      examples=[[" the", "."]])
    versus: Literal["pooled", "each"] = _VERSUS
    min_effect: NonNegativeFinite | None = _min_effect(_ACTIVATION_UNITS, 0.05)

    @field_validator("baseline", "exclude_shared_tokens")
    @classmethod
    def _others(cls, value, info):
        return _not_listed(value, info, "corpus")

    def corpora(self):
        return (self.corpus, *self.baseline, *self.exclude_shared_tokens)


class SilentOn(Predicate):
    """Equivalence: |mean(corpus) - mean(baseline)| < margin (TOST at the document level)."""

    kind: Literal["silent_on"] = _kind("silent_on")
    corpus: Corpus = Field(description="the corpus the neuron is silent on", examples=["english_prose"])
    margin: PositiveFinite | None = Field(
        None, description="largest difference of means still called silent, in activation units "
        "(default: min_effect x the neuron's scale)", examples=[0.05])
    baseline: CorpusList = Field((), description="corpora to compare against (empty: every other corpus)",
                                 examples=[["legal", "medical"]])
    min_effect: NonNegativeFinite | None = _min_effect(_ACTIVATION_UNITS, 0.05)

    @field_validator("baseline")
    @classmethod
    def _others(cls, value, info):
        return _not_listed(value, info, "corpus")

    def corpora(self):
        return (self.corpus, *self.baseline)


class Polysemantic(Predicate):
    """Fires on every one of ``corpora`` (intersection-union test over fires_on)."""

    kind: Literal["polysemantic"] = _kind("polysemantic")
    corpora_: Annotated[CorpusList, Field(min_length=2)] = Field(
        alias="corpora", description="two or more corpora the neuron fires on", examples=[["latex_math", "fortran"]])
    baseline: CorpusList = Field((), description="corpora to compare against (empty: every other corpus)",
                                 examples=[["legal", "medical"]])
    exclude_shared_tokens: bool = Field(False, description="drop the token types the claimed corpora share",
                                        examples=[True])
    versus: Literal["pooled", "each"] = _VERSUS
    min_effect: NonNegativeFinite | None = _min_effect(_ACTIVATION_UNITS, 0.05)

    @field_validator("baseline")
    @classmethod
    def _others(cls, value, info):
        return _not_listed(value, info, "corpora_")

    def corpora(self):
        return (*self.corpora_, *self.baseline)


class TokenMatched(Predicate):
    """The same token ids activate the neuron more in ``corpus`` than in ``against``."""

    kind: Literal["token_matched"] = _kind("token_matched")
    corpus: Corpus = Field(description="the context the neuron prefers", examples=["spanish_poetry"])
    against: Corpus = Field(description="the other context, with the same tokens", examples=["english_poetry"])
    min_occurrences: Count = Field(50, description="occurrences a token type needs in each corpus", examples=[50])
    min_effect: NonNegativeFinite | None = _min_effect(_ACTIVATION_UNITS, 0.05)

    @field_validator("against")
    @classmethod
    def _other(cls, value, info):
        if value == info.data.get("corpus"):
            raise PydanticCustomError("self_match", f"against {value!r} is the claimed corpus itself")
        return value

    def corpora(self):
        return (self.corpus, self.against)


class NotExplainedByOneToken(Predicate):
    """fires_on(corpus) still holds after removing its single most active token type."""

    kind: Literal["not_explained_by_one_token"] = _kind("not_explained_by_one_token")
    corpus: Corpus = Field(description="the corpus of the fires_on claim", examples=["medical"])
    baseline: CorpusList = Field((), description="corpora to compare against (empty: every other corpus)",
                                 examples=[["legal", "medical"]])
    min_count: Count = Field(5, description="occurrences a token type needs to be the one removed", examples=[5])
    versus: Literal["pooled", "each"] = _VERSUS
    min_effect: NonNegativeFinite | None = _min_effect(_ACTIVATION_UNITS, 0.05)

    @field_validator("baseline")
    @classmethod
    def _others(cls, value, info):
        return _not_listed(value, info, "corpus")

    def corpora(self):
        return (self.corpus, *self.baseline)


class TopKPrecision(Predicate):
    """Of the k most activating contexts, at least ``min_precision`` come from ``corpora_``."""

    kind: Literal["top_k_precision"] = _kind("top_k_precision")
    corpora_: Annotated[CorpusList, Field(min_length=1)] = Field(
        alias="corpora", description="corpora the top contexts should come from", examples=[["fortran"]])
    k: Count = Field(20, description="how many top contexts", examples=[20])
    min_precision: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = Field(
        0.8, description="share of the top contexts that must come from the corpora", examples=[0.8])
    max_per_document: Count = Field(1, description="top contexts counted per document", examples=[1])

    def corpora(self):
        return self.corpora_


class ExplainedBy(Predicate):
    """A token-set or regex explanation predicts the activation (correlation with a CI)."""

    kind: Literal["explained_by"] = _kind("explained_by")
    tokens: TokenList = Field((), description="token strings of the explanation", examples=[[" the", "."]])
    regex: Annotated[str, AfterValidator(_check_regex)] | None = Field(
        None, description="a regular expression over token strings", examples=["^\\d+$"])
    min_correlation: Annotated[float, Field(gt=-1, lt=1, allow_inf_nan=False)] = Field(
        0.3, description="correlation the explanation must exceed", examples=[0.3])
    threshold: Annotated[float, Field(allow_inf_nan=False)] | None = Field(
        None, description="activation counted as firing for precision/recall (default: half the maximum)",
        examples=[0.5])
    over: Literal["tokens", "documents"] = Field(
        "tokens", description='"tokens": the correlation over every token of the split, described with a '
        "document bootstrap interval but never decided (no test of it keeps its error rates on long-tailed "
        'activations: always inconclusive); "documents": the median of each document\'s own correlation, '
        "decided by the exact sign test", examples=["documents"])

    @model_validator(mode="after")
    def _needs_an_explanation(self):
        if not self.tokens and self.regex is None:
            raise PydanticCustomError("explanation_missing", "explained_by needs tokens or a regex")
        return self


class AblationHurts(Predicate):
    """Ablating the neuron raises next-token loss on the corpora more than random matched neurons do."""

    kind: Literal["ablation_hurts"] = _kind("ablation_hurts")
    corpora_: Annotated[CorpusList, Field(min_length=1)] = Field(
        alias="corpora", description="corpora whose loss should rise", examples=[["fortran"]])
    kinds: AblationKinds = Field(("zero",), description="ablations: zero, mean, resample", examples=[["zero", "mean"]])
    n_null: Annotated[int, Field(ge=19)] = Field(
        199, description="random matched neurons in the null (199 or more recommended)", examples=[199])
    min_effect: NonNegativeFinite | None = _min_effect("nats/token", 0.002)

    def corpora(self):
        return self.corpora_


class AblationSpecific(Predicate):
    """The loss increase from ablation is larger on ``corpora_`` than on the baseline documents."""

    kind: Literal["ablation_specific"] = _kind("ablation_specific")
    corpora_: Annotated[CorpusList, Field(min_length=1)] = Field(
        alias="corpora", description="corpora whose loss should rise most", examples=[["fortran"]])
    baseline: CorpusList = Field((), description="corpora to compare against (empty: every other corpus)",
                                 examples=[["legal", "medical"]])
    kinds: AblationKinds = Field(("zero",), description="ablations: zero, mean, resample", examples=[["zero", "mean"]])
    min_effect: NonNegativeFinite | None = _min_effect("nats/token", 0.002)

    @field_validator("baseline")
    @classmethod
    def _others(cls, value, info):
        return _not_listed(value, info, "corpora_")

    def corpora(self):
        return (*self.corpora_, *self.baseline)


class AblationSpares(Predicate):
    """Ablation changes loss on ``corpus`` by less than ``margin`` nats/token (equivalence)."""

    kind: Literal["ablation_spares"] = _kind("ablation_spares")
    corpus: Corpus = Field(description="the corpus ablation should not affect", examples=["legal"])
    margin: PositiveFinite = Field(0.01, description="largest loss change (nats/token) still called spared",
                                   examples=[0.01])
    kinds: AblationKinds = Field(("zero",), description="ablations: zero, mean, resample", examples=[["zero", "mean"]])

    def corpora(self):
        return (self.corpus,)


PREDICATE_TYPES = (FiresOn, SilentOn, Polysemantic, TokenMatched, NotExplainedByOneToken, TopKPrecision,
                   ExplainedBy, AblationHurts, AblationSpecific, AblationSpares)
PREDICATES: dict[str, type[Predicate]] = {cls.model_fields["kind"].default: cls for cls in PREDICATE_TYPES}
AnyPredicate = Annotated[Union[PREDICATE_TYPES], Field(discriminator="kind")]  # noqa: UP007
