"""Compare two runs' claims.json claim by claim: verdicts and p-values must be identical.

    python benchmarks/compare_reports.py BEFORE/claims.json AFTER/claims.json

Prints one row per claim (verdict, p above, adjusted p, p below, adjusted p below, and every
predicate's two p-values, before -> after) and exits 1 on any difference. ``--content`` also
compares every other field of every claim, ignoring only what names where a run happened: the
claim file's folder (``source``) and the activation cache's path (``provenance.cache``).
Identical means ==, not close: the restructuring of issue #22 moved code, not arithmetic.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CLAIM_P = ("pvalue", "pvalue_adjusted", "pvalue_refute", "pvalue_refute_adjusted")
PREDICATE_P = ("pvalue", "pvalue_refute")


def load(path: Path) -> dict[str, dict]:
    return {c["claim_id"]: c for c in json.loads(path.read_text(encoding="utf-8"))["claims"]}


def numbers(claim: dict) -> dict[str, object]:
    """The verdict and every p-value of a claim, by name."""
    out: dict[str, object] = {"verdict": claim["verdict"]}
    out.update({key: claim.get(key) for key in CLAIM_P})
    for i, pred in enumerate(claim.get("predicates", [])):
        out.update({f"{pred['kind']}[{i}].{key}": pred.get(key) for key in PREDICATE_P})
    return out


def normalised(claim: dict) -> dict:
    """The claim without what only says where the run happened."""
    claim = json.loads(json.dumps(claim))
    if claim.get("source"):
        claim["source"] = Path(claim["source"]).name
    claim.get("provenance", {}).pop("cache", None)
    return claim


def differences(before: dict, after: dict, path: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            out += differences(before.get(key, "<absent>"), after.get(key, "<absent>"), f"{path}.{key}")
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [d for i, (b, a) in enumerate(zip(before, after, strict=True))
                for d in differences(b, a, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]


def compare(before: dict[str, dict], after: dict[str, dict], content: bool) -> tuple[list[str], int]:
    lines, problems = [], 0
    for cid in sorted(set(before) - set(after)):
        lines.append(f"{cid}: only before")
        problems += 1
    for cid in sorted(set(after) - set(before)):
        lines.append(f"{cid}: only after")
        problems += 1
    for cid in sorted(set(before) & set(after)):
        b, a = numbers(before[cid]), numbers(after[cid])
        changed = [k for k in sorted(set(b) | set(a)) if b.get(k) != a.get(k)]
        p = b.get("pvalue_adjusted")
        lines.append(f"{cid:45s} {b['verdict']:12s} p adj {p!s:24s} "
                     + ("identical" if not changed else "DIFFERENT: " + ", ".join(
                         f"{k} {b.get(k)!r} -> {a.get(k)!r}" for k in changed)))
        problems += bool(changed)
        if content:
            rest = differences(normalised(before[cid]), normalised(after[cid]))
            if rest:
                lines += [f"    {d}" for d in rest]
                problems += 1
    return lines, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--content", action="store_true", help="also every other field of each claim")
    args = parser.parse_args(argv)
    before, after = load(args.before), load(args.after)
    lines, problems = compare(before, after, args.content)
    print("\n".join(lines))
    n_p = sum(len(numbers(c)) - 1 for c in before.values())
    print(f"{len(before)} claims before, {len(after)} after; {n_p} p-values compared; "
          + ("all verdicts and p-values identical" if not problems else f"{problems} claim(s) differ")
          + (" (and every other field)" if args.content and not problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
