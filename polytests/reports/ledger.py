"""The ledger: ``reports/history.jsonl``, one JSON line per run, never rewritten in place.

Each line holds every claim's verdict, p-values, effect and provenance (model digest,
corpus hash, seed, resamples, library versions). A run appends its line by writing the whole
file anew to a temporary file and renaming it over the old one, under the report folder's
lock (see :mod:`polytests.reports.atomic`), so a killed run leaves the previous ledger intact
and two concurrent runs both land. A line that does not parse (a hand edit, a disk error)
is set aside in ``history.rejected.jsonl`` with a warning; it never stops a run.

Flip detection reads the ledger: a claim flips when its verdict differs from its latest
earlier line, and the flip names what changed between the two runs.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from polytests.claims.results import ClaimResult
from polytests.reports.atomic import atomic_write_text, finite_json
from polytests.reports.format import claim_effect, deciding_predicate

LEDGER_NAME = "history.jsonl"
REJECTED_NAME = "history.rejected.jsonl"
SCHEMA = 1
# What a record copies from a result's provenance.
PROVENANCE_KEYS = ("claim_digest", "model", "model_digest", "corpus_hash", "reference_sha256", "seed", "resamples",
                   "split", "min_effect", "min_effect_loss")
# Every record polytests has written carries these; a line whose records lack them was not written by a run.
REQUIRED_KEYS = ("model_digest", "corpus_hash", "seed")
VERDICTS = ("confirmed", "refuted", "inconclusive")
# What, when it differs between two runs, explains a flip (in this order).
EXPLAINING_KEYS = ("claim_digest", "model_digest", "corpus_hash", "reference_sha256", "seed", "resamples", "model", "split", "site", "correction",
                   "family_size", "family_not_computed", "alpha", "min_effect", "min_effect_loss")


@dataclass
class LedgerContents:
    entries: list[dict] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line number, text, why)

    def warnings(self, path: Path) -> list[str]:
        return [f"{path}:{n}: malformed ledger line set aside in {REJECTED_NAME} ({why})"
                for n, _, why in self.rejected]


def _check_entry(entry) -> str | None:
    if not isinstance(entry, dict):
        return "not a JSON object"
    if not isinstance(entry.get("claims"), dict):
        return "no 'claims' object"
    if not all(isinstance(v, dict) and isinstance(v.get("verdict"), str) for v in entry["claims"].values()):
        return "a claim without a verdict"
    for claim_id, record in entry["claims"].items():
        if record["verdict"] not in VERDICTS:
            return f"claim {claim_id!r}: verdict {record['verdict']!r} is none of {', '.join(VERDICTS)}"
        missing = [k for k in REQUIRED_KEYS if k not in record]
        if missing:
            return (f"claim {claim_id!r} has no provenance ({', '.join(missing)}): a line no polytests run wrote; "
                    "it would be compared as if it were one")
    return None


def read_ledger(path: str | Path) -> LedgerContents:
    """Every well-formed line of the ledger, in order, and the lines that are not."""
    path = Path(path)
    out = LedgerContents()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return out
    for n, raw in enumerate(data.splitlines(), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:  # set aside and said, never silently rewritten
            out.rejected.append((n, raw.decode("utf-8", errors="replace"),
                                 f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"))
            continue
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            out.rejected.append((n, line, f"not JSON: {exc.msg}"))
            continue
        problem = _check_entry(entry)
        if problem:
            out.rejected.append((n, line, problem))
        else:
            out.entries.append(entry)
    return out



def claim_record(r: ClaimResult) -> dict:
    """What the ledger keeps of one claim's result."""
    prov = r.provenance
    effect = claim_effect(r)
    pred = deciding_predicate(r)
    record = {"verdict": r.verdict, "expect": r.expect, "pvalue": r.pvalue,
              "pvalue_adjusted": r.pvalue_adjusted, "correction": r.correction,
              "family_size": r.family_size, "family_not_computed": prov.get("family_not_computed", 0),
              "neuron": r.neuron, "site": r.site, "effect": None}
    if effect is not None:
        record["effect"] = {"predicate": pred.kind if pred else None, "label": effect.label,
                            "estimate": effect.estimate, "low": effect.low, "high": effect.high,
                            "bound": effect.bound, "unit": effect.unit,
                            "symmetric_bound": effect.symmetric_bound}
    for key in PROVENANCE_KEYS:
        record[key] = prov.get(key)
    record["alpha"] = r.alpha  # the claim's own alpha (the run's, or the claim file's)
    record["versions"] = prov.get("versions") or {}
    return record


def _previous_record(data: dict) -> dict:
    """The ledger record of a claim in a previous claims.json; one written by another version of
    polytests (other fields) gives its verdict and provenance only."""
    try:
        return claim_record(ClaimResult.from_dict(data))
    except (TypeError, ValueError, KeyError, AttributeError):
        prov = data.get("provenance") if isinstance(data.get("provenance"), dict) else {}
        return {"verdict": data["verdict"], **{key: prov.get(key) for key in PROVENANCE_KEYS},
                "versions": prov.get("versions") or {}}


def ledger_entry(results: list[ClaimResult], generated: str) -> dict:
    return {"schema": SCHEMA, "run": uuid.uuid4().hex[:12], "generated": generated,
            "claims": {r.claim_id: claim_record(r) for r in results}}


def append_entry(path: str | Path, entry: dict, contents: LedgerContents | None = None) -> LedgerContents:
    """Append one line (caller holds the report folder's lock). Malformed earlier lines are
    moved to ``history.rejected.jsonl``; returns what was read before appending (pass it as
    ``contents`` when already read under the same lock)."""
    path = Path(path)
    contents = read_ledger(path) if contents is None else contents
    if contents.rejected:
        rejected_path = path.with_name(REJECTED_NAME)
        old = rejected_path.read_text(encoding="utf-8") if rejected_path.exists() else ""
        moved = "".join(f"{json.dumps({'line': n, 'why': why, 'text': line})}\n" for n, line, why in contents.rejected)
        atomic_write_text(rejected_path, old + moved)
    lines = [json.dumps(finite_json(e), separators=(",", ":"), allow_nan=False) for e in [*contents.entries, entry]]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return contents


def latest_record(entries: list[dict], claim_id: str) -> tuple[dict, dict] | None:
    """(entry, record) of the claim's most recent line in ``entries``."""
    for entry in reversed(entries):
        record = entry["claims"].get(claim_id)
        if record is not None:
            return entry, record
    return None


def what_changed(before: dict, after: dict) -> list[dict]:
    """Provenance that differs between two claim records: each as {what, before, after}."""
    changed = []
    for key in EXPLAINING_KEYS:
        if before.get(key) is not None and after.get(key) is not None and before.get(key) != after.get(key):
            changed.append({"what": key, "before": before[key], "after": after[key]})
    old_v, new_v = before.get("versions") or {}, after.get("versions") or {}
    for lib in sorted(set(old_v) | set(new_v)):
        if old_v.get(lib) != new_v.get(lib) and old_v and new_v:
            changed.append({"what": lib, "before": old_v.get(lib), "after": new_v.get(lib)})
    return changed


def describe_changes(changed: list[dict]) -> str:
    if not changed:
        return "same model, corpora, libraries and seed"

    def short(value) -> str:
        text = str(value)
        return text[:12] if len(text) == 64 else text

    def words(c) -> str:
        if c["what"] == "claim_digest":
            return f"the claim itself was edited (digest {short(c['before'])} -> {short(c['after'])})"
        if c["what"] == "polytests_source":
            return f"polytests' code {short(c['before'])} -> {short(c['after'])}"
        return f"{c['what'].replace('_', ' ')} {short(c['before'])} -> {short(c['after'])}"

    return "; ".join(words(c) for c in changed)


def find_flips(results: list[ClaimResult], entries: list[dict], previous_report: dict | None = None) -> list[dict]:
    """Claims whose verdict differs from their latest earlier record: the ledger first, else
    the previous claims.json (a report folder from before the ledger existed)."""
    previous = {c["claim_id"]: c for c in (previous_report or {}).get("claims", []) if isinstance(c, dict)
                and "claim_id" in c and "verdict" in c}
    flips = []
    for r in results:
        found = latest_record(entries, r.claim_id)
        if found is not None:
            entry, before = found
            source, when = "ledger", entry.get("generated")
        elif r.claim_id in previous:
            before = _previous_record(previous[r.claim_id])
            source, when = "claims.json", (previous_report or {}).get("generated")
        else:
            continue
        if before["verdict"] == r.verdict:
            continue
        changed = what_changed(before, claim_record(r))
        flips.append({"claim_id": r.claim_id, "before": before["verdict"], "after": r.verdict,
                      "changed": changed, "explanation": describe_changes(changed),
                      "previous_run": when, "source": source})
    return flips


def claim_history(entries: list[dict], claim_id: str) -> list[dict]:
    """The claim's records over time, oldest first, each with its run's time and a flip mark."""
    out, last = [], None
    for entry in entries:
        record = entry["claims"].get(claim_id)
        if record is None:
            continue
        out.append(dict(record, generated=entry.get("generated"), run=entry.get("run"),
                        flipped=last is not None and last != record["verdict"]))
        last = record["verdict"]
    return out
