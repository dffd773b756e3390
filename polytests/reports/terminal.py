"""What the terminal shows: the summary table, and one short block per claim that needs a look.

Rich renderables that know how to draw themselves; the plugin only prints them. Claim ids
never wrap or get cut: at narrow widths the statement is shortened instead, and columns that
do not fit (effect) are dropped before any id is touched.
"""

from __future__ import annotations

import os
import re
import sys

from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from polytests.claims.results import ClaimResult
from polytests.reports.format import (
    claim_effect,
    deciding_predicate,
    effect_of,
    fmt_claim_p,
    fmt_p,
)

PIPED_WIDTH = 160  # columns when output is not a terminal and COLUMNS is not set


def piped_width(isatty: bool, width: int) -> int:
    """The width to draw at: output that is not a terminal (a CI log, a file) has no width to fit,
    and 80 columns would cut tables mid-word, so it gets room for the widest table (COLUMNS rules)."""
    if not isatty and "COLUMNS" not in os.environ:
        return max(width, PIPED_WIDTH)
    return width


def command_console() -> Console:
    """The console of a command (hunt, show): its terminal's width, or PIPED_WIDTH when piped."""
    console = Console()
    return Console(width=piped_width(sys.stdout.isatty(), console.width)) if not sys.stdout.isatty() else console


VERDICT_STYLE = {"confirmed": "bold green", "refuted": "bold red", "inconclusive": "bold yellow"}


def outcome(r: ClaimResult) -> str:
    """The pytest outcome of a claim: passed, FAILED, or skipped (inconclusive)."""
    if r.verdict == "inconclusive":
        return "skipped"
    return "passed" if r.verdict == r.expect else "FAILED"


def needs_explaining(r: ClaimResult) -> bool:
    return r.verdict == "inconclusive" or outcome(r) == "FAILED"


class SummaryTable:
    """One row per claim: id (never wrapped), neuron, verdict, adjusted p, effect, outcome;
    the statement on a dim second line, cut to the width that is left."""

    def __init__(self, results: list[ClaimResult], flipped: set[str] | frozenset = frozenset()) -> None:
        self.results = results
        self.flipped = set(flipped)

    def __rich_console__(self, console, options):
        width = options.max_width
        id_width = max([len("claim")] + [len(r.claim_id) + (2 if r.claim_id in self.flipped else 0)
                                          for r in self.results])
        show_effect = width >= id_width + 70
        table = Table(title="polytests: claims", box=box.SIMPLE_HEAD, pad_edge=False, expand=False,
                      title_justify="left", safe_box=True)
        table.add_column("claim", no_wrap=True, min_width=id_width, overflow="ellipsis")
        table.add_column("neuron", no_wrap=True)
        table.add_column("verdict", no_wrap=True)
        table.add_column("p adj", no_wrap=True, justify="right")
        if show_effect:
            table.add_column("effect [95% CI] vs bound", no_wrap=True, overflow="ellipsis")
        table.add_column("test", no_wrap=True)
        fixed = sum(len(x) + 2 for x in ("L00N0000", "inconclusive", "p adj0", "skipped"))
        statement_width = max(20, width - fixed - 2 - (38 if show_effect else 0))
        for r in self.results:
            claim = Text(r.claim_id + (" !" if r.claim_id in self.flipped else ""), style="bold")
            statement = (r.statement or "")
            if len(statement) > statement_width:
                statement = statement[: statement_width - 1] + "…"
            claim.append("\n" + statement, style="dim")
            row = [claim, r.neuron, Text(r.verdict, style=VERDICT_STYLE.get(r.verdict, "")),
                   fmt_p(r.pvalue_adjusted)]
            if show_effect:
                effect = claim_effect(r)
                row.append(effect.text() if effect else "")
            row.append(Text(outcome(r), style="red" if outcome(r) == "FAILED" else ""))
            table.add_row(*row)
        yield table
        if self.results:
            r0 = self.results[0]
            prov = r0.provenance
            counts = {v: sum(r.verdict == v for r in self.results) for v in VERDICT_STYLE}
            yield Text(f"{len(self.results)} claims: {counts['confirmed']} confirmed, {counts['refuted']} refuted, "
                       f"{counts['inconclusive']} inconclusive; family of {r0.family_size} claims, "
                       f"{r0.correction} correction; model {prov.get('model')} "
                       f"({str(prov.get('model_digest', ''))[:12]}), split {prov.get('split')}, "
                       f"seed {prov.get('seed')}" + ("; ! = verdict flipped" if self.flipped else ""),
                       style="dim")


def decision_hint(r: ClaimResult) -> str:
    """What would decide (or reverse) the claim, in a sentence."""
    pred = deciding_predicate(r)
    if r.verdict == "inconclusive":
        # The reason is printed just above: the hint adds what to do, never the reason again.
        if "cannot reach alpha" in r.reason:
            return r.reason.split("(")[-1].rstrip(")") if "(" in r.reason else r.reason
        needed = re.search(r"about ([\d,]+) documents would decide it at this effect with 80% power \(now (\d+)\)",
                           r.reason)
        if needed:
            return f"add documents: about {needed.group(1)} would decide it at this effect (now {needed.group(2)})"
        if "no number of documents decides" in r.reason:
            return "not more of the same documents: the effect sits on its bound (another bound is another claim)"
        narrow = re.search(r"more (?:resamples|matched null neurons)[^;.]*would narrow it[^;.]*", r.reason)
        if narrow:
            return narrow.group(0)
        reason = pred.inconclusive_reason if pred is not None else None
        if reason and reason not in r.reason:
            return f"more evidence: {reason}"
        return "" if reason else "more documents or resamples"
    if r.verdict == "refuted" and r.expect == "confirmed":
        return "settled against the claim; a new neuron, corpus or bound is a new claim"
    if r.verdict == "confirmed" and r.expect == "refuted":
        return "the claim documented as false now holds: update `expect` or the statement"
    return ""


class Explanation:
    """A short block for a failed or inconclusive claim: predicate, estimate vs bound, the way on."""

    def __init__(self, r: ClaimResult) -> None:
        self.r = r

    def lines(self) -> list[str]:
        r = self.r
        pred = deciding_predicate(r)
        lines = [f"{r.claim_id}: {r.verdict.upper()} (expected {r.expect}) — {r.reason}"]
        if pred is not None:
            effect = effect_of(pred)
            where = f" ({effect.label})" if effect is not None and effect.label else ""
            estimate = f": estimate {effect.text()}" if effect is not None else ""
            below = f", p below the bound {fmt_p(pred.pvalue_refute)}" if pred.pvalue_refute is not None else ""
            lines.append(f"  predicate {pred.kind}{where}{estimate}: p above the bound {fmt_p(pred.pvalue)}{below}")
        hint = decision_hint(r)
        if hint:
            lines.append(f"  to decide: {hint}")
        return lines

    def __rich_console__(self, console, options):
        first, *rest = self.lines()
        yield Text(first, style=VERDICT_STYLE.get(self.r.verdict, ""))
        for line in rest:
            yield Text(line)


def explanations(results: list[ClaimResult]) -> Group:
    return Group(*[Explanation(r) for r in results if needs_explaining(r)])


def explain(r: ClaimResult) -> str:
    """The words of a failed, refuted or inconclusive claim, for pytest's failure section."""
    lines = [
        f"claim {r.claim_id}: {r.statement}",
        f"verdict: {r.verdict.upper()} (expected {r.expect}) — {r.reason}",
        f"neuron {r.neuron} read at {r.site}; p={fmt_claim_p(r)}, "
        f"{r.correction}-adjusted p={fmt_p(r.pvalue_adjusted)} (family of {r.family_size}), "
        f"alpha={r.alpha}",
    ]
    for pr in r.predicates:
        status = ("inconclusive" if pr.pvalue is None else
                  f"p above {fmt_p(pr.pvalue, pr.min_pvalue)}, below {fmt_p(pr.pvalue_refute)}")
        effect = effect_of(pr)
        lines.append(f"  - {pr.kind} [{status}]: {pr.summary}")
        if effect is not None and effect.bound is not None:
            lines.append(f"    estimate {effect.text()}")
    if r.top_tokens:
        tops = ", ".join(f"{t!r} {a:.3g} ({c})" for t, a, c in r.top_tokens[:8])
        lines.append(f"top activating tokens: {tops}")
    prov = r.provenance
    lines.append(f"documents {prov.get('documents')}, tokens {prov.get('tokens')}, model digest "
                 f"{str(prov.get('model_digest', ''))[:12]}, corpus hash {str(prov.get('corpus_hash', ''))[:12]}")
    if prov.get("reference_fixed") is True:
        lines.append(f"scale and null neurons from the reference text {Path(str(prov.get('reference'))).name} "
                     f"(sha256 {str(prov.get('reference_sha256', ''))[:12]}, {prov.get('reference_documents')} documents)")
    elif prov.get("reference_fixed") is False:
        lines.append("scale and null neurons from the run's corpora (no reference text for this model): the bound "
                     "moves when corpora are added or removed; see docs/statistics.md, 'The reference text'")
    return "\n".join(lines)
