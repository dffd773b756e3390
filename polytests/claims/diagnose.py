"""Turning schema violations into one-line errors: file, line, field path, what is wrong, the fix.

pydantic reports *where* (a ``loc`` such as ``('predicate', 0, 'fires_on', 'corpus')``)
and *what* (an error type). This module renames the place into the project's field
path (``predicate[0].corpus``), words the problem in claim-file terms (TOML type
names, the allowed values, "did you mean" for near misses) and builds the fix from
the field's own example in the schema, so a new field gets good errors for free.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from polytests.claims.model import PREDICATES, Claim, line_of
from polytests.errors import ClaimError
from polytests.text import near_miss, toml_literal, toml_type


def _key_name(model: type[BaseModel], name: str) -> str:
    info = model.model_fields.get(name)
    return info.alias if info is not None and info.alias else name


def keys_of(model: type[BaseModel]) -> list[str]:
    """The keys a table of ``model`` accepts, as written in claim files."""
    return [_key_name(model, n) for n in model.model_fields]


def _field(model: type[BaseModel] | None, key: str) -> FieldInfo | None:
    if model is None:
        return None
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _metadata(info: FieldInfo) -> list:
    """Constraint objects of a field, including those inside ``Annotated[...] | None``."""
    found = list(info.metadata)
    stack = [info.annotation]
    while stack:
        tp = stack.pop()
        found.extend(getattr(tp, "__metadata__", ()))
        for meta in getattr(tp, "__metadata__", ()):
            found.extend(getattr(meta, "metadata", ()))
        stack.extend(a for a in get_args(tp) if a is not type(None))
    return found


def _bounds(info: FieldInfo | None) -> str | None:
    """The allowed range of a numeric field, e.g. '(0, 1)' or '>= 1'."""
    if info is None:
        return None
    low = high = None
    for meta in _metadata(info):
        for attr, side in (("gt", "("), ("ge", "[")):
            if getattr(meta, attr, None) is not None:
                low = (side, getattr(meta, attr))
        for attr, side in (("lt", ")"), ("le", "]")):
            if getattr(meta, attr, None) is not None:
                high = (side, getattr(meta, attr))
    if low and high:
        return f"{low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f"{'>' if low[0] == '(' else '>='} {low[1]:g}"
    if high:
        return f"{'<' if high[0] == ')' else '<='} {high[1]:g}"
    return None


def _example(info: FieldInfo | None) -> str | None:
    if info is not None and info.examples:
        return toml_literal(info.examples[0])
    return None


def _walk(loc: tuple, raw: Any) -> tuple[str, type[BaseModel] | None, str | None, Any]:
    """(field path, model owning the last key, that key, the raw table holding that key)."""
    path = ""
    model: type[BaseModel] | None = Claim
    key: str | None = None
    table = node = raw
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, (list, tuple)) and -len(node) <= part < len(node) else None
            if model is Claim and key == "predicate":
                if i + 1 < len(loc) and loc[i + 1] in PREDICATES:
                    i += 1  # the discriminator tag pydantic puts in the location
                kind = node.get("kind") if isinstance(node, dict) else None
                model = PREDICATES.get(kind) if isinstance(kind, str) else None
                table, key = node, None
        else:
            key = str(part)
            path += ("." if path else "") + key
            table = node
            node = node.get(key) if isinstance(node, dict) else None
        i += 1
    return path, model, key, table


def _describe(err: dict, model: type[BaseModel] | None, key: str | None, table: Any) -> tuple[str, str]:
    """(message, fix) for one pydantic error."""
    kind = err["type"]
    value = err.get("input")
    info = _field(model, key) if key else None
    example = _example(info)
    write = f"write {key} = {example}" if key and example else None
    got = f"{toml_literal(value)} ({toml_type(value)})" if not isinstance(value, dict) else "a table"
    if kind == "extra_forbidden":
        known = keys_of(model) if model is not None else []
        if model is not None and model is not Claim:
            known = [k for k in known if k != "kind"]
        guess = near_miss(key or "", known)
        where = f"for {table.get('kind')}" if model is not Claim and isinstance(table, dict) else "in a claim"
        if guess:
            return (f"unknown key {key!r} {where}; did you mean {guess!r}?", f"rename {key} to {guess}")
        return (f"unknown key {key!r} {where}; known: {', '.join(known)}",
                f"remove {key}, or use one of: {', '.join(known)}")
    if kind == "missing":
        if key == "predicate":
            return "missing required key 'predicate'", "add a [[claim.predicate]] table with a kind"
        return f"missing required key {key!r}", f"add {key} = {example or '...'}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        kinds = ", ".join(PREDICATES)
        if kind == "union_tag_not_found":
            return "the predicate has no kind", f"add kind = \"fires_on\" (one of: {kinds})"
        tag = err.get("ctx", {}).get("tag")
        guess = near_miss(str(tag), list(PREDICATES))
        hint = f"; did you mean {guess!r}?" if guess else f"; known: {kinds}"
        return f"unknown predicate kind {table.get('kind')!r}{hint}", f"set kind to one of: {kinds} (docs/claims.md)"
    if model is Claim and key == "predicate" and kind in ("list_not_string", "list_expected"):
        return (f"predicate must be [[claim.predicate]] tables, got {got}",
                "write each predicate as a [[claim.predicate]] table with kind = \"...\"")
    if kind in ("model_attributes_type", "model_type", "dict_type", "is_instance_of"):
        return (f"must be a table with a kind, got {got}",
                "write each predicate as a [[claim.predicate]] table with kind = \"...\"")
    if kind == "too_short" and key == "predicate":
        return "the claim asserts no predicate", "add at least one [[claim.predicate]] table with a kind"
    if kind == "too_short":
        need = err.get("ctx", {}).get("min_length")
        what = ("corpus" if need == 1 else "corpora") if key == "corpora" else ("item" if need == 1 else "items")
        return (f"needs at least {need} {what}, got {len(value) if hasattr(value, '__len__') else value}",
                write or f"list {need} or more")
    if kind == "list_not_string":
        return (f"must be a list, not the string {toml_literal(value)}",
                f"write {key} = [{toml_literal(value)}]")
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "")
        if key == "kinds":
            return f"unknown ablation kind {value!r}; known: zero, mean, resample", 'e.g. kinds = ["zero", "mean"]'
        return f"{key} {value!r} is not one of {allowed}", write or f"use one of {allowed}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bounds = _bounds(info) or err["msg"].lower().replace("input should be ", "")
        word = "in" if "," in bounds else ""
        return (f"{key} {toml_literal(value)} is not {word} {bounds}".replace("  ", " "),
                write or f"use a value {bounds}")
    if kind == "finite_number":
        return f"{key} must be a finite number, got {toml_literal(value)}", write or "use a finite number"
    if kind == "string_pattern_mismatch":
        if key == "id":
            return (f"id {value!r} is not a simple identifier",
                    "use letters, digits, '_', '-', '.'; start with a letter or digit")
        if key in ("statement", "model"):
            return f"{key} is empty", write or "write some words"
        return (f"{toml_literal(value)} is not a corpus name (a folder of corpora/: no spaces or slashes)",
                write or "use a corpus folder's name")
    if kind == "string_too_short":
        return f"{key} is an empty string", write or "write a non-empty string"
    simple = {"string_type": "must be a string", "int_type": "must be a whole number",
              "float_type": "must be a number", "bool_type": "must be true or false",
              "list_expected": "must be a list", "tuple_type": "must be a list"}
    if kind in simple:
        return f"{simple[kind]}, got {got}", write or f"write {key} with the right type"
    if kind == "baseline_overlap" and isinstance(value, (list, tuple)) and isinstance(table, dict):
        claimed = {table.get("corpus")} | set(table.get("corpora") or ())
        rest = [c for c in value if c not in claimed]
        return err["msg"], (f"write {key} = {toml_literal(rest)}" if rest
                            else f"remove {key} (it lists only corpora this predicate claims)")
    if kind == "explanation_missing":
        return err["msg"], 'write tokens = [" the", "."] or regex = "^\\d+$"'
    # custom errors from the model's validators carry their own words
    return err["msg"], write or "see docs/claims.md for this field"


def claim_error(exc: ValidationError, raw: Any, *, path: str | None, lines: dict[str, int],
                default_line: int | None = None) -> ClaimError:
    """One ClaimError for a claim that failed validation (its first problem, with a count of the rest)."""
    problems = []
    for err in exc.errors(include_url=False):
        field_path, model, key, table = _walk(err["loc"], raw)
        message, fix = _describe(err, model, key, table)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            field_path += ".kind"
        # a misspelt key is the cause of the "missing" error for the key it meant: report it first
        first = err["type"] == "extra_forbidden" and "did you mean" in message
        problems.insert(0 if first else len(problems), (field_path, message, fix))
    field_path, message, fix = problems[0]
    if len(problems) > 1:
        others = ", ".join(p[0] or "claim" for p in problems[1:4]) + (", ..." if len(problems) > 4 else "")
        message += f" (and {len(problems) - 1} more: {others})"
    return ClaimError(message, path=path, line=line_of(lines, field_path) or default_line,
                      field=field_path or None, fix=fix)
