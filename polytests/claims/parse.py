"""Claim files: TOML in ``hypotheses/``, parsed into :class:`~polytests.claims.model.Claim`.

A file holds one or more ``[[claim]]`` tables; each claim has one or more
``[[claim.predicate]]`` tables with a ``kind``. See docs/claims.md. Errors
name the file, the line, the field and the fix.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from polytests.claims.model import (
    PREDICATES, AblationHurts, AblationSpares, AblationSpecific, Claim, ExplainedBy, FiresOn,
    NotExplainedByOneToken, Polysemantic, Predicate, SilentOn, TokenMatched, TopKPrecision,
    validate_claim,
)
from polytests.errors import ClaimError
from polytests.neurons import NeuronRef

CLAIM_KEYS = {"id", "statement", "neuron", "model", "split", "alpha", "expect", "site", "predicate"}
# Per predicate kind: the keys it accepts, and how TOML names map to dataclass fields.
_RENAMES = {"corpora": "corpora_"}


def _line_index(text: str) -> list[tuple[int, str]]:
    return list(enumerate(text.splitlines(), start=1))


def _claim_lines(text: str) -> list[dict[str, int]]:
    """For each ``[[claim]]`` table, the line of the header and of each key/predicate in it."""
    claims: list[dict[str, int]] = []
    n_pred = 0
    for number, line in _line_index(text):
        stripped = line.strip()
        if re.match(r"^\[\[\s*claim\s*\]\]", stripped):
            claims.append({"": number})
            n_pred = 0
        elif re.match(r"^\[\[\s*claim\.predicate\s*\]\]", stripped) and claims:
            claims[-1][f"predicate[{n_pred}]"] = number
            n_pred += 1
        elif claims:
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=", stripped)
            if m:
                key = m.group(1) if n_pred == 0 else f"predicate[{n_pred - 1}].{m.group(1)}"
                claims[-1].setdefault(key, number)
    return claims


def _predicate(raw: dict, where: str, err) -> Predicate:
    kind = raw.get("kind")
    if kind not in PREDICATES:
        raise err(f"unknown predicate kind {kind!r}; known: {', '.join(PREDICATES)}", f"{where}.kind",
                  "set kind to one of the known predicates (docs/claims.md lists them)")
    cls = PREDICATES[kind]
    allowed = {f for f in cls.__dataclass_fields__}
    args: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "kind":
            continue
        name = _RENAMES.get(key, key)
        if name not in allowed:
            known = sorted(k.rstrip("_") for k in allowed)
            raise err(f"unknown key {key!r} for {kind}; known: {', '.join(known)}", f"{where}.{key}",
                      f"remove it or use one of: {', '.join(known)}")
        if isinstance(value, list):
            value = tuple(value)
        if name == "exclude_shared_tokens" and cls is FiresOn and isinstance(value, str):
            value = (value,)
        args[name] = value
    try:
        return cls(**args)
    except TypeError as exc:
        missing = re.findall(r"'(\w+)'", str(exc))
        field_name = missing[0].rstrip("_") if missing else "?"
        raise err(f"{kind} is missing required key {field_name!r}", f"{where}.{field_name}",
                  f"add {field_name} = ... to this predicate") from exc


def claim_from_dict(raw: dict, *, source: str | None = None, lines: dict[str, int] | None = None) -> Claim:
    """Build and validate a Claim from one ``[[claim]]`` table."""
    lines = lines or {}

    def err(message: str, field_name: str, fix: str) -> ClaimError:
        line = lines.get(field_name) or lines.get(field_name.split(".")[0]) or lines.get("")
        return ClaimError(message, path=source, line=line, field=field_name, fix=fix)

    unknown = sorted(set(raw) - CLAIM_KEYS)
    if unknown:
        raise err(f"unknown key {unknown[0]!r}; known: {', '.join(sorted(CLAIM_KEYS))}", unknown[0],
                  "remove it or check its spelling")
    for required in ("id", "statement", "neuron", "predicate"):
        if required not in raw:
            raise err(f"missing required key {required!r}", required,
                      f"add {required} = ... to the claim" if required != "predicate"
                      else "add a [[claim.predicate]] table with a kind")
    try:
        neuron = NeuronRef.parse(raw["neuron"])
    except ValueError as exc:
        raise err(str(exc), "neuron", 'write neuron = "L2N18"') from exc
    raw_predicates = raw["predicate"]
    if isinstance(raw_predicates, dict):
        raw_predicates = [raw_predicates]
    predicates = tuple(_predicate(p, f"predicate[{i}]", err) for i, p in enumerate(raw_predicates))
    alpha = raw.get("alpha")
    if alpha is not None and (not isinstance(alpha, (int, float)) or isinstance(alpha, bool)):
        raise err(f"alpha must be a number, got {alpha!r}", "alpha", "e.g. alpha = 0.05")
    claim = Claim(
        id=raw["id"], statement=raw["statement"], neuron=neuron, predicates=predicates,
        model=None if raw.get("model") is None else str(raw["model"]), split=raw.get("split", "confirm"),
        alpha=None if alpha is None else float(alpha),
        expect=raw.get("expect", "confirmed"), site=raw.get("site"), source=source,
        line=lines.get(""), lines=dict(lines),
    )
    return validate_claim(claim)


def parse_claim_file(path: str | Path) -> list[Claim]:
    """Every claim in a TOML claim file; raise ClaimError (file, line, field, fix) on a bad one."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ClaimError(f"not valid TOML ({exc})", path=str(path), line=int(m.group(1)) if m else None,
                         fix="fix the TOML syntax at that line") from exc
    claims_raw = data.get("claim")
    if not isinstance(claims_raw, list) or not claims_raw:
        raise ClaimError("no [[claim]] table", path=str(path), field="claim",
                         fix="start each claim with a [[claim]] header")
    lines = _claim_lines(text)
    claims = [claim_from_dict(raw, source=str(path), lines=lines[i] if i < len(lines) else None)
              for i, raw in enumerate(claims_raw)]
    ids = [c.id for c in claims]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ClaimError(f"duplicate claim id {sorted(dupes)[0]!r}", path=str(path), field="id",
                         fix="give every claim its own id")
    return claims


__all__ = ["parse_claim_file", "claim_from_dict", "AblationHurts", "AblationSpares", "AblationSpecific",
           "ExplainedBy", "NotExplainedByOneToken", "Polysemantic", "SilentOn", "TokenMatched",
           "TopKPrecision"]
