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

import inspect
from typing import Any

from polytests.claims.model import Claim
from polytests.claims.parse import claim_from_dict


def _table(kind: str, **fields: Any) -> dict:
    table = {"kind": kind}
    for key, value in fields.items():
        if value is None or value == ():
            continue
        table[key] = list(value) if isinstance(value, tuple) else value
    return table


def claim(*, id: str, statement: str, neuron: str, predicates: list[dict], model: str | None = None,
          split: str | None = None, alpha: float | None = None, expect: str | None = None,
          site: str | None = None) -> Claim:
    """Build and validate a claim (raises ClaimError naming the calling file and line)."""
    raw: dict[str, Any] = {"id": id, "statement": statement, "neuron": neuron, "predicate": list(predicates)}
    for key, value in (("model", model), ("split", split), ("alpha", alpha), ("expect", expect), ("site", site)):
        if value is not None:
            raw[key] = value
    frame = inspect.stack()[1]
    return claim_from_dict(raw, source=frame.filename, lines={"": frame.lineno})


def fires_on(corpus: str, *, baseline=(), exclude_shared_tokens=(), exclude_tokens=(), versus=None) -> dict:
    return _table("fires_on", corpus=corpus, baseline=tuple(baseline),
                  exclude_shared_tokens=tuple(exclude_shared_tokens), exclude_tokens=tuple(exclude_tokens),
                  versus=versus)


def silent_on(corpus: str, *, margin: float, baseline=()) -> dict:
    return _table("silent_on", corpus=corpus, margin=margin, baseline=tuple(baseline))


def polysemantic(*corpora: str, baseline=(), exclude_shared_tokens: bool = False, versus=None) -> dict:
    return _table("polysemantic", corpora=tuple(corpora), baseline=tuple(baseline),
                  exclude_shared_tokens=exclude_shared_tokens, versus=versus)


def token_matched(corpus: str, *, against: str, min_occurrences: int = 50) -> dict:
    return _table("token_matched", corpus=corpus, against=against, min_occurrences=min_occurrences)


def not_explained_by_one_token(corpus: str, *, baseline=(), min_count: int = 5) -> dict:
    return _table("not_explained_by_one_token", corpus=corpus, baseline=tuple(baseline), min_count=min_count)


def top_k_precision(*corpora: str, k: int = 20, min_precision: float = 0.8, max_per_document: int = 1) -> dict:
    return _table("top_k_precision", corpora=tuple(corpora), k=k, min_precision=min_precision,
                  max_per_document=max_per_document)


def explained_by(*, tokens=(), regex: str | None = None, min_correlation: float = 0.3,
                 threshold: float | None = None) -> dict:
    return _table("explained_by", tokens=tuple(tokens), regex=regex, min_correlation=min_correlation,
                  threshold=threshold)


def ablation_hurts(*corpora: str, kinds=("zero",), n_null: int = 199) -> dict:
    return _table("ablation_hurts", corpora=tuple(corpora), kinds=tuple(kinds), n_null=n_null)


def ablation_specific(*corpora: str, baseline=(), kinds=("zero",)) -> dict:
    return _table("ablation_specific", corpora=tuple(corpora), baseline=tuple(baseline), kinds=tuple(kinds))


def ablation_spares(corpus: str, *, margin: float = 0.01, kinds=("zero",)) -> dict:
    return _table("ablation_spares", corpus=corpus, margin=margin, kinds=tuple(kinds))
