"""Claim files: TOML in ``hypotheses/``, validated into :class:`~polytests.claims.model.Claim`.

A file holds one or more ``[[claim]]`` tables; each claim has one or more
``[[claim.predicate]]`` tables with a ``kind``. See docs/claims.md.

:func:`read_claim_file` never raises: it returns the claims that are valid and one
:class:`ClaimProblem` per claim (or per file-level fault) that is not, each a
:class:`ClaimError` naming the file, the line, the field and the fix. So one bad
claim costs only itself; a file that cannot be read at all costs only its claims.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from polytests.claims.diagnose import claim_error
from polytests.claims.model import (
    AblationHurts,
    AblationSpares,
    AblationSpecific,
    Claim,
    ClaimFileSchema,
    ExplainedBy,
    NotExplainedByOneToken,
    Polysemantic,
    SilentOn,
    TokenMatched,
    TopKPrecision,
)
from polytests.errors import ClaimError
from polytests.text import near_miss, toml_type

_BOM = b"\xef\xbb\xbf"
_HEADER = re.compile(r"""^\[\[?\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_. -])+?)\s*\]\]?""")  # quoted parts: any text
_KEY = re.compile(r"""^("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|=)""")


@dataclass(frozen=True)
class ClaimProblem:
    """A claim (or a whole file) that could not be built, and why."""

    name: str  # the claim's id when it has a usable one, else "claim[i]" or the file name
    error: ClaimError


@dataclass(frozen=True)
class ClaimFileContents:
    path: str
    claims: tuple[Claim, ...]
    problems: tuple[ClaimProblem, ...]


@dataclass
class _Lines:
    """Where things are in a TOML claim file: per claim, the line of each key; top-level names."""

    claims: list[dict[str, int]]
    top: dict[str, int]


def _scan_strings(line: str, state: dict) -> None:
    """Advance the string/bracket state of the TOML scanner over one line."""
    i = 0
    while i < len(line):
        quote = state["quote"]
        if quote is not None:
            if quote in ('"', '"""') and line[i] == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                state["quote"] = None
                i += len(quote)
                continue
            i += 1
            continue
        ch = line[i]
        if ch == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            state["quote"] = line[i:i + 3]
            i += 3
            continue
        if ch in "\"'":
            state["quote"] = ch
        elif ch in "[{":
            state["depth"] += 1
        elif ch in "]}":
            state["depth"] = max(0, state["depth"] - 1)
        i += 1
    if state["quote"] in ('"', "'"):
        state["quote"] = None  # single-line strings end with the line (else TOML reports the error)


def locate(text: str) -> _Lines:
    """Line numbers of tables and keys, aware of multi-line strings and arrays (a ``[[claim]]``
    inside a multi-line statement is text, not a header)."""
    out = _Lines([], {})
    state = {"quote": None, "depth": 0}
    section: str | None = None  # "claim", "predicate" or "other"
    n_pred = 0
    for number, line in enumerate(text.splitlines(), start=1):
        at_start = state["quote"] is None and state["depth"] == 0
        stripped = line.strip()
        if at_start and stripped.startswith("["):
            m = _HEADER.match(stripped)
            name = m.group(1).replace('"', "").replace("'", "").replace(" ", "") if m else ""
            if stripped.startswith("[[") and name == "claim":
                out.claims.append({"": number})
                section, n_pred = "claim", 0
            elif stripped.startswith("[[") and name == "claim.predicate" and out.claims:
                out.claims[-1][f"predicate[{n_pred}]"] = number
                section, n_pred = "predicate", n_pred + 1
            else:
                out.top.setdefault(name.split(".")[0], number)
                if name.startswith("claim.") and out.claims:
                    out.claims[-1].setdefault(name.split(".")[1], number)
                section = "other"
            continue  # the rest of a header line is a comment at most
        if at_start:
            m = _KEY.match(stripped)
            if m:
                key = m.group(1).strip("\"'")
                if section is None:
                    out.top.setdefault(key, number)
                elif section == "claim":
                    out.claims[-1].setdefault(key, number)
                elif section == "predicate":
                    out.claims[-1].setdefault(f"predicate[{n_pred - 1}].{key}", number)
        _scan_strings(line, state)
    return out


def claim_from_dict(raw: Any, *, source: str | None = None, lines: dict[str, int] | None = None) -> Claim:
    """Validate one ``[[claim]]`` table (or the Python form's dict); raise ClaimError on a bad one."""
    lines = dict(lines or {})
    try:
        try:
            return Claim.located(raw, source=source, line=lines.get(""), lines=lines)
        except ValidationError as exc:  # describing a deeply nested value recurses too
            raise claim_error(exc, raw, path=source, lines=lines) from None  # line_of falls back to lines[""]
    except RecursionError:
        raise ClaimError("values are nested too deeply", path=source, line=lines.get(""),
                         fix="claim fields are strings, numbers or flat lists") from None


def _decode(data: bytes, path: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ClaimError("the file is UTF-16 (it starts with a UTF-16 byte-order mark)", path=path, line=1,
                         fix="save the file as UTF-8")
    if data.startswith(_BOM):
        data = data[len(_BOM):]  # a UTF-8 byte-order mark carries no meaning: ignore it
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ClaimError(f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line} cannot be decoded", path=path,
                         line=line, fix="save the file as UTF-8") from None


def _load_toml(text: str, path: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ClaimError(f"not valid TOML ({exc})", path=path, line=int(m.group(1)) if m else None,
                         fix="fix the TOML syntax at that line") from None
    except RecursionError:
        raise ClaimError("arrays or tables are nested too deeply to read", path=path,
                         fix="claim fields are strings, numbers or flat lists") from None


def read_claim_file(path: str | Path) -> ClaimFileContents:
    """The valid claims of a TOML claim file and one problem for each claim (or file fault) that is not."""
    source = str(path)
    name = Path(path).name
    try:
        text = _decode(Path(path).read_bytes(), source)
        data = _load_toml(text, source)
    except ClaimError as exc:
        return ClaimFileContents(source, (), (ClaimProblem(name, exc),))
    except OSError as exc:
        return ClaimFileContents(source, (), (ClaimProblem(name, ClaimError(
            f"cannot read the file ({exc.strerror or exc})", path=source, fix="check the file's permissions")),))
    where = locate(text)
    problems: list[ClaimProblem] = []
    known = list(ClaimFileSchema.model_fields)
    for key in data:
        if key not in known:
            guess = near_miss(key, known)
            hint = f"; did you mean [[{guess}]]?" if guess else ""
            problems.append(ClaimProblem(name, ClaimError(
                f"unknown top-level table or key {key!r}{hint}", path=source, line=where.top.get(key), field=key,
                fix=f"rename it to [[{guess}]]" if guess else "a claim file holds only [[claim]] tables")))
    raw_claims = data.get("claim")
    if raw_claims is None:
        misspelt = [k for k in data if near_miss(k, known)]
        if not misspelt:  # else the misspelt table (e.g. [[claims]]) is the reason, reported above
            found = f" (found: {', '.join(sorted(data))})" if data else ""
            problems = [ClaimProblem(name, ClaimError(
                f"no [[claim]] table{found}", path=source, field="claim",
                fix="start each claim with a [[claim]] header"))]
        raw_claims = []
    elif not isinstance(raw_claims, list):
        problems.append(ClaimProblem(name, ClaimError(
            f"claim must be [[claim]] tables, got {toml_type(raw_claims)}", path=source,
            line=where.top.get("claim"), field="claim", fix="start each claim with [[claim]] (double brackets)")))
        raw_claims = []
    not_tables = [i for i, raw in enumerate(raw_claims) if not isinstance(raw, dict)]
    if not_tables:
        i = not_tables[0]
        problems.append(ClaimProblem(name, ClaimError(
            f"claim must be [[claim]] tables; claim[{i}] is {toml_type(raw_claims[i])}", path=source,
            line=where.top.get("claim"), field=f"claim[{i}]", fix="start each claim with a [[claim]] header")))
    claims: list[Claim] = []
    seen: dict[str, Claim] = {}
    for i, raw in enumerate(raw_claims):
        if i in not_tables:
            continue
        lines = where.claims[i] if i < len(where.claims) else {"": where.top.get("claim")}
        label = raw["id"] if isinstance(raw.get("id"), str) else f"claim[{i}]"
        try:
            claim = claim_from_dict(raw, source=source, lines=lines)
        except ClaimError as exc:
            problems.append(ClaimProblem(label, exc))
            continue
        if claim.id in seen:
            problems.append(ClaimProblem(f"{label}[{i}]", claim.error(
                f"duplicate claim id {claim.id!r}, also used at line {seen[claim.id].line}", "id",
                "give every claim its own id")))
            continue
        seen[claim.id] = claim
        claims.append(claim)
    return ClaimFileContents(source, tuple(claims), tuple(problems))


def parse_claim_file(path: str | Path) -> list[Claim]:
    """Every claim in a TOML claim file; raise the first ClaimError (file, line, field, fix) if any."""
    contents = read_claim_file(path)
    if contents.problems:
        raise contents.problems[0].error
    return list(contents.claims)


__all__ = ["parse_claim_file", "read_claim_file", "claim_from_dict", "ClaimProblem", "ClaimFileContents",
           "AblationHurts", "AblationSpares", "AblationSpecific", "ExplainedBy", "NotExplainedByOneToken",
           "Polysemantic", "SilentOn", "TokenMatched", "TopKPrecision"]
