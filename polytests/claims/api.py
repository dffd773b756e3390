"""The Python form of claims, for ordinary ``test_*.py`` files.

Each helper returns the same table a TOML ``[[claim.predicate]]`` holds, and
:func:`claim` goes through the very parser TOML files use, so a claim written
in Python means exactly what the same claim written in TOML means::

    from polytests import claim, polysemantic, not_explained_by_one_token

    spanish_fortran = claim(
        id="l1n40-spanish-fortran",
        statement="L1N40 fires on Spanish poetry and on Fortran",
        neuron="L1N40",
        predicates=[polysemantic("spanish_poetry", "fortran", exclude_shared_tokens=True)],
    )

A module-level ``Claim`` in a collected test file becomes a test item.
"""

from __future__ import annotations

import sys
from typing import Any

from polytests.claims.model import Claim
from polytests.claims.parse import claim_from_dict
from polytests.errors import ClaimError
from polytests.text import in_python

def _python_error(exc: ClaimError) -> ClaimError:
    field = exc.field.replace("predicate[", "predicates[") if exc.field else exc.field
    if field == "predicate":
        field = "predicates"
    return ClaimError(in_python(exc.message) or "", path=exc.path, line=exc.line, field=field,
                      fix=in_python(exc.fix))


class PredicateTable(dict):
    """The table a predicate helper returns: a plain dict that remembers the line it was written on."""

    line: int | None = None


def _caller_line(depth: int = 2) -> tuple[str, int]:
    frame = sys._getframe(depth)
    return frame.f_code.co_filename, frame.f_lineno


def _table(kind: str, **fields: Any) -> PredicateTable:
    # Only what the caller gave: defaults live in the model, in one place. Values are passed
    # as given (a tuple is a list), so the model's type checks see exactly what was written.
    table = PredicateTable(kind=kind)
    for key, value in fields.items():
        table[key] = list(value) if isinstance(value, tuple) else value
    table.line = _caller_line(3)[1]
    return table


def claim(**fields: Any) -> Claim:
    """Build and validate a claim; raise ClaimError naming the calling file, line, field and fix.

    Fields as in a TOML ``[[claim]]`` table: ``id``, ``statement``, ``neuron``, ``predicates``
    (a list of predicate helpers' tables), and optionally ``model``, ``split``, ``alpha``,
    ``expect``, ``site``. A misspelt or missing field is the same error, with the same
    near-miss suggestion, as in a TOML file.
    """
    source, line = _caller_line()
    raw = {k: v for k, v in fields.items() if v is not None}
    predicates = raw.pop("predicates", raw.pop("predicate", None))
    lines = {"": line}
    if predicates is not None:
        raw["predicate"] = list(predicates) if isinstance(predicates, tuple) else predicates
        for i, p in enumerate(predicates if isinstance(predicates, (list, tuple)) else ()):
            if getattr(p, "line", None):
                lines[f"predicate[{i}]"] = p.line
    try:
        return claim_from_dict(raw, source=source, lines=lines)
    except ClaimError as exc:
        raise _python_error(exc) from None


def fires_on(corpus: str, **options: Any) -> dict:
    """fires_on(corpus, baseline=[...], exclude_shared_tokens=[...], exclude_tokens=[...], versus="each")."""
    return _table("fires_on", corpus=corpus, **options)


def silent_on(corpus: str, **options: Any) -> dict:
    """silent_on(corpus, margin=0.05, baseline=[...])."""
    return _table("silent_on", corpus=corpus, **options)


def polysemantic(*corpora: str, **options: Any) -> dict:
    """polysemantic(a, b, ..., baseline=[...], exclude_shared_tokens=True, versus="each")."""
    return _table("polysemantic", corpora=corpora, **options)


def token_matched(corpus: str, **options: Any) -> dict:
    """token_matched(corpus, against="other", min_occurrences=50)."""
    return _table("token_matched", corpus=corpus, **options)


def not_explained_by_one_token(corpus: str, **options: Any) -> dict:
    """not_explained_by_one_token(corpus, baseline=[...], min_count=5)."""
    return _table("not_explained_by_one_token", corpus=corpus, **options)


def top_k_precision(*corpora: str, **options: Any) -> dict:
    """top_k_precision(a, ..., k=20, min_precision=0.8, max_per_document=1)."""
    return _table("top_k_precision", corpora=corpora, **options)


def explained_by(**options: Any) -> dict:
    """explained_by(tokens=[...], regex="...", min_correlation=0.3, threshold=None, over="tokens" | "documents")."""
    return _table("explained_by", **{k: v for k, v in options.items() if v is not None})


def ablation_hurts(*corpora: str, **options: Any) -> dict:
    """ablation_hurts(a, ..., kinds=["zero"], n_null=199)."""
    return _table("ablation_hurts", corpora=corpora, **options)


def ablation_specific(*corpora: str, **options: Any) -> dict:
    """ablation_specific(a, ..., baseline=[...], kinds=["zero"])."""
    return _table("ablation_specific", corpora=corpora, **options)


def ablation_spares(corpus: str, **options: Any) -> dict:
    """ablation_spares(corpus, margin=0.01, kinds=["zero"])."""
    return _table("ablation_spares", corpus=corpus, **options)
