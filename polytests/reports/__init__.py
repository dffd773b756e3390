"""Reports: the terminal summary, report files (JSON, Markdown, HTML, summary.md, PNG) and the
ledger of runs (``history.jsonl``).

Reports only read :class:`~polytests.claims.results.ClaimResult` dictionaries (as serialised
by :func:`result_to_dict`), so they work the same whether the claims ran in this process or in
pytest-xdist workers. One module per concern: ``format`` (numbers and effects in words),
``terminal``, ``figures``, ``html``, ``markdown``, ``ledger``, ``atomic`` (safe writes),
``files`` (the report folder).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from polytests.reports.files import WrittenReports, detect_flips, write_reports
from polytests.reports.format import Effect, claim_effect, effect_of, fmt_p, fmt_signed
from polytests.reports.ledger import LEDGER_NAME, claim_history, find_flips, read_ledger
from polytests.reports.terminal import Explanation, SummaryTable, explain, explanations, needs_explaining, outcome


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def result_to_dict(result) -> dict:
    return _plain(result)


__all__ = [
    "LEDGER_NAME", "Effect", "Explanation", "SummaryTable", "WrittenReports", "claim_effect", "claim_history",
    "detect_flips", "effect_of", "explain", "explanations", "find_flips", "fmt_p", "fmt_signed",
    "needs_explaining", "outcome", "read_ledger", "result_to_dict", "write_reports",
]
