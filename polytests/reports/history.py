"""``polytests history [CLAIM]``: the ledger read back, as plain text.

Without a claim: one line per claim with its verdicts over time as letters (C confirmed,
R refuted, I inconclusive, oldest first) and its latest effect. With a claim: one line per
run with the verdict, adjusted p, effect [CI] vs bound, and what changed where it flipped.
"""

from __future__ import annotations

from pathlib import Path

from polytests.reports.format import Effect, fmt_p
from polytests.reports.ledger import claim_history, describe_changes, read_ledger, what_changed

LETTER = {"confirmed": "C", "refuted": "R", "inconclusive": "I"}


def _effect_text(record: dict) -> str:
    e = record.get("effect")
    if not e or e.get("estimate") is None:
        return ""
    return Effect(e["estimate"], e.get("low"), e.get("high"), e.get("bound"), e.get("unit") or "",
                  symmetric_bound=bool(e.get("symmetric_bound"))).text()


def render_history(ledger: Path, claim: str | None = None) -> tuple[str, int]:
    """The text to print and an exit code (1 when the ledger or the claim is not there)."""
    contents = read_ledger(ledger)
    notes = "".join(f"warning: {w}\n" for w in contents.warnings(ledger))
    if not contents.entries:
        return notes + f"no runs recorded in {ledger}\n", 1
    if claim is None:
        ids = sorted({cid for e in contents.entries for cid in e["claims"]})
        width = max(len(i) for i in ids)
        lines = [f"{len(contents.entries)} runs in {ledger}, {contents.entries[0].get('generated')} .. "
                 f"{contents.entries[-1].get('generated')}; verdicts oldest first (C/R/I)"]
        for cid in ids:
            history = claim_history(contents.entries, cid)
            letters = "".join(LETTER.get(h["verdict"], "?") for h in history)
            flips = sum(h["flipped"] for h in history)
            last = history[-1]
            lines.append(f"{cid:<{width}}  {letters[-30:]:<30}  {last['verdict']:<12} {_effect_text(last)}"
                         + (f"  ({flips} flip{'s' if flips != 1 else ''})" if flips else ""))
        return notes + "\n".join(lines) + "\n", 0
    history = claim_history(contents.entries, claim)
    if not history:
        known = sorted({cid for e in contents.entries for cid in e["claims"]})
        return notes + f"claim {claim!r} is not in {ledger}; known: {', '.join(known)}\n", 1
    lines = [f"{claim}: {len(history)} runs", f"{'run (UTC)':<25} {'verdict':<12} {'p adj':>8}  effect [95% CI] vs bound"]
    previous = None
    for h in history:
        line = f"{str(h.get('generated')):<25} {h['verdict']:<12} {fmt_p(h.get('pvalue_adjusted')):>8}  {_effect_text(h)}"
        if h["flipped"] and previous is not None:
            line += f"   FLIPPED from {previous['verdict']} ({describe_changes(what_changed(previous, h))})"
        lines.append(line)
        previous = h
    return notes + "\n".join(lines) + "\n", 0
