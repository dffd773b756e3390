"""Reports: the terminal summary, report files (JSON, Markdown, HTML, summary.md, PNG) and the
ledger of runs (``history.jsonl``).

Reports only read :class:`~polytests.claims.results.ClaimResult` objects (typed, frozen; a
result from a pytest-xdist worker is read back with ``ClaimResult.from_dict``), so they work the
same whichever process judged a claim, and a renamed field fails where it is read. One module
per concern: ``format`` (numbers and effects in words), ``terminal``, ``figures``, ``html``,
``markdown``, ``ledger``, ``atomic`` (safe writes), ``files`` (the report folder).
"""

from __future__ import annotations

from polytests.reports.files import WrittenReports, detect_flips, write_reports
from polytests.reports.format import Effect, claim_effect, effect_of, fmt_p, fmt_signed
from polytests.reports.ledger import LEDGER_NAME, claim_history, find_flips, read_ledger
from polytests.reports.terminal import (
    Explanation,
    SummaryTable,
    explain,
    explanations,
    needs_explaining,
    outcome,
)

__all__ = [
    "LEDGER_NAME", "Effect", "Explanation", "SummaryTable", "WrittenReports", "claim_effect", "claim_history",
    "detect_flips", "effect_of", "explain", "explanations", "find_flips", "fmt_p", "fmt_signed",
    "needs_explaining", "outcome", "read_ledger", "write_reports",
]
