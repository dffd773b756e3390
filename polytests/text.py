"""Words for error messages: TOML spelling of values and the nearest known word."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

_TOML_TYPES = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array", tuple: "array",
               dict: "table", type(None): "nothing"}


def toml_type(value: Any) -> str:
    return _TOML_TYPES.get(type(value), type(value).__name__)


def toml_literal(value: Any) -> str:
    """``value`` as it would be written in a claim file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def near_miss(word: str, known: list[str]) -> str | None:
    """The known word ``word`` was probably meant to be, if one is close enough."""
    found = difflib.get_close_matches(str(word), known, n=1, cutoff=0.6)
    return found[0] if found else None


# The claim schema's messages speak TOML; a claim written in Python gets them in Python.
_IN_PYTHON = (
    ("add at least one [[claim.predicate]] table with a kind", 'pass predicates=[fires_on("corpus"), ...] to claim()'),
    ("add a [[claim.predicate]] table with a kind", 'pass predicates=[fires_on("corpus"), ...] to claim()'),
    ('write each predicate as a [[claim.predicate]] table with kind = "..."',
     'pass predicates as a list of predicate helpers: predicates=[fires_on("corpus"), ...]'),
    ("predicate must be [[claim.predicate]] tables", "predicates must be a list of predicate helpers"),
    ("must be a table with a kind", "must be a predicate helper's result (fires_on(...), silent_on(...), ...)"),
)


def in_python(text: str | None) -> str | None:
    """A message or fix worded for a TOML claim file, reworded for a claim written in Python."""
    if text is None:
        return None
    for toml, python in _IN_PYTHON:
        text = text.replace(toml, python)
    return re.sub(r"^(?:write|add) (\w+) = ", r"pass \1=", text)
