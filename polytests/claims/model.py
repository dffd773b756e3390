"""The claim model: the one schema of a claim and its predicates (pydantic v2).

Both claim forms (TOML files in ``hypotheses/`` and :func:`polytests.claim` in
``test_*.py`` files) are validated by these models, and ``polytests schema``
publishes them as JSON Schema for editors, so all three agree by construction.
Types carry the constraints (a count is a whole number >= 1, a margin a finite
number > 0, a list of corpora is a list and never a string); cross-field rules
(a baseline may not contain the claimed corpus) are validators on the field
they concern, so every error has a field path such as ``predicate[0].baseline``.

Adding a field to a predicate is one line: a typed attribute with a default and
a ``Field(description=..., examples=[...])``; the TOML form, the Python form,
the JSON Schema and the error messages (whose fix quotes the example) follow.

What depends on the model or the corpora (does layer 7 exist, is there a corpus
called ``spanish``) is checked by the runner once those are known.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
)

from polytests.claims.predicates import (  # the predicates are part of the claim model's surface
    ABLATION_KINDS,
    EXPECTATIONS,
    ID_PATTERN,
    PREDICATE_TYPES,
    PREDICATES,
    VERDICTS,
    VERSUS,
    AblationHurts,
    AblationSpares,
    AblationSpecific,
    AnyPredicate,
    ExplainedBy,
    FiresOn,
    FrozenModel,
    Name,
    Neuron,
    NotExplainedByOneToken,
    Polysemantic,
    Predicate,
    SilentOn,
    TokenMatched,
    TopKPrecision,
    check_site,
    list_only,
)
from polytests.errors import ClaimError
from polytests.text import in_python

# A statement is copied into every report and the ledger: one line, not a document.
Statement = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"\S")]

# -- the claim ----------------------------------------------------------------------------


class Claim(FrozenModel):
    """A claim about one neuron: statement, where to test it, and what it asserts.

    Where it was written (``source``, ``line`` and the line of each field) is kept
    beside the validated fields, not among them, so it is not part of the schema.
    """

    _positional: ClassVar[tuple[str, ...]] = ("id", "statement", "neuron", "predicates", "model", "split",
                                              "alpha", "expect", "site")

    id: Annotated[str, StringConstraints(pattern=ID_PATTERN)] = Field(
        description="unique name of the claim (letters, digits, '_', '-', '.')", examples=["l2n18-fortran"])
    statement: Statement = Field(description="the claim in one line of words (at most 1,000 characters)",
                            examples=["L2N18 fires on Fortran code"])
    neuron: Neuron = Field(description="the neuron, as L<layer>N<index>", examples=["L2N18"])
    predicates: Annotated[tuple[AnyPredicate, ...], BeforeValidator(list_only), Field(min_length=1)] = Field(
        alias="predicate", description="what the claim asserts: one [[claim.predicate]] table per predicate")
    model: Name | None = Field(None, description="model spec (default: the run's model)", examples=["embedded"])
    split: Literal["explore", "confirm"] = Field(
        "confirm", description="corpus split the claim is judged on", examples=["confirm"])
    alpha: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = Field(
        None, description="significance level (default: the run's alpha)", examples=[0.05])
    expect: Literal["confirmed", "refuted"] = Field(
        "confirmed", description="'refuted' for a documented false claim", examples=["refuted"])
    site: Annotated[str, AfterValidator(check_site)] | None = Field(
        None, description="hook-name template with {layer} (default: the model's activation site)",
        examples=["blocks.{layer}.mlp.hook_post"], json_schema_extra={"pattern": r"^[^{}]*\{layer\}[^{}]*$"})

    _source: str | None = PrivateAttr(None)
    _line: int | None = PrivateAttr(None)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)

    def __init__(self, /, *args: Any, source: str | None = None, line: int | None = None,
                 lines: dict[str, int] | None = None, **data: Any) -> None:
        super().__init__(*args, **data)
        self._source, self._line, self._lines = source, line, dict(lines or {})

    @classmethod
    def located(cls, raw: Any, *, source: str | None, line: int | None, lines: dict[str, int]) -> Claim:
        """Validate a raw table and remember where it was written."""
        claim = cls.model_validate(raw)
        claim._source, claim._line, claim._lines = source, line, dict(lines)
        return claim

    @property
    def source(self) -> str | None:
        return self._source

    @property
    def line(self) -> int | None:
        return self._line

    @property
    def lines(self) -> dict[str, int]:
        return self._lines

    def corpora(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for p in self.predicates:
            for c in p.corpora():
                seen[c] = None
        return tuple(seen)

    @property
    def digest(self) -> str:
        """SHA-256 of what the claim says (every field; not where it is written): the ledger tells
        an edited claim from a verdict that flipped on the same claim."""
        import hashlib
        import json

        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str).encode()).hexdigest()

    @property
    def needs_ablation(self) -> bool:
        return any(p.kind.startswith("ablation_") for p in self.predicates)

    def error(self, message: str, field_name: str | None = None, fix: str | None = None) -> ClaimError:
        """An error about this claim, with its fix worded for the file it was written in."""
        line = line_of(self.lines, field_name) or self.line
        if self.source is not None and str(self.source).endswith(".py"):
            fix = in_python(fix)
            field_name = field_name.replace("predicate[", "predicates[") if field_name else field_name
        return ClaimError(message, path=self.source, line=line, field=field_name, fix=fix)


class ClaimFileSchema(BaseModel):
    """A TOML claim file: one or more ``[[claim]]`` tables and nothing else (the JSON Schema's root)."""

    model_config = ConfigDict(extra="forbid", title="polytests claim file")
    claim: Annotated[tuple[Claim, ...], Field(min_length=1)] = Field(
        description="one [[claim]] table per claim")


def json_schema() -> dict:
    """The JSON Schema of a claim file, for editors (taplo / Even Better TOML, VS Code)."""
    schema = ClaimFileSchema.model_json_schema(by_alias=True)
    _array_bounds(schema)
    # A rule the model states in a validator that JSON Schema can state too: an explanation is
    # tokens (at least one) or a regex.
    schema["$defs"]["ExplainedBy"]["anyOf"] = [
        {"required": ["tokens"], "properties": {"tokens": {"minItems": 1}}},
        {"required": ["regex"], "properties": {"regex": {"type": "string"}}}]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://polytests.invalid/claim-file.schema.json", **schema}


def _array_bounds(node: Any) -> None:
    # pydantic words a length bound on a list behind a before-validator as minLength (a string
    # keyword); JSON Schema needs minItems/maxItems for arrays. Every list of strings in a claim
    # (corpora, tokens, kinds) refuses a repeated entry: uniqueItems says so to editors.
    if isinstance(node, dict):
        if node.get("type") == "array":
            for old, new in (("minLength", "minItems"), ("maxLength", "maxItems")):
                if old in node:
                    node[new] = node.pop(old)
            if isinstance(node.get("items"), dict) and node["items"].get("type") == "string":
                node["uniqueItems"] = True
        for value in node.values():
            _array_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _array_bounds(value)


def line_of(lines: dict[str, int], field_name: str | None) -> int | None:
    """The line of ``field_name`` (``predicate[0].baseline[1]``), else of the nearest enclosing key."""
    path = field_name or ""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""


def validate_claim(claim: Claim) -> Claim:
    """Kept for callers of the former hand-written checks: a Claim is valid once built."""
    return claim


__all__ = [
    "ABLATION_KINDS", "AblationHurts", "AblationSpares", "AblationSpecific", "AnyPredicate", "check_site",
    "Claim", "ClaimFileSchema", "EXPECTATIONS", "ExplainedBy", "FiresOn", "FrozenModel", "ID_PATTERN",
    "json_schema", "line_of", "list_only", "Name", "Neuron", "NotExplainedByOneToken", "Polysemantic",
    "Predicate", "PREDICATE_TYPES", "PREDICATES", "SilentOn", "TokenMatched", "TopKPrecision",
    "validate_claim", "VERDICTS", "VERSUS",
]
