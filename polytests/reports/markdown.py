"""Markdown: ``claims.md`` (the full report, figures as files beside it) and ``summary.md``
(short, for a CI job summary such as GitHub's ``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

from polytests.claims.results import ClaimResult
from polytests.reports.format import claim_effect, fmt_claim_p, fmt_p, not_judged, reference_words
from polytests.reports.terminal import Explanation, explain, needs_explaining, outcome


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _flip_cell(flip: dict | None) -> str:
    return f"{flip['before']} → {flip['after']} ({flip['explanation']})" if flip else ""


def claims_markdown(results: list[ClaimResult], stamp: str, flips: list[dict], figure_names: dict[str, str]) -> str:
    flip_of = {f["claim_id"]: f for f in flips}
    missing = not_judged(results)
    rows = ["# polytests report", "", f"Generated {stamp}. {len(results)} claims judged"
            + (f", {len(missing)} not judged (below)." if missing else "."), "",
            "| claim | neuron | verdict | expect | effect [95% CI] vs bound | p | p adj | test | flip |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        effect = claim_effect(r)
        rows.append(f"| {_cell(r.claim_id)} | {r.neuron} | {r.verdict} | {r.expect} "
                    f"| {_cell(effect.text() if effect else '')} | {_cell(fmt_claim_p(r))} "
                    f"| {fmt_p(r.pvalue_adjusted)} | {outcome(r)} | {_cell(_flip_cell(flip_of.get(r.claim_id)))} |")
    for r in results:
        rows += ["", f"## {r.claim_id}", "", "```", explain(r), "```"]
        if r.claim_id in figure_names:
            rows += ["", f"![{r.claim_id}]({figure_names[r.claim_id]})"]
    rows += _not_judged_rows(missing, "##")
    return "\n".join(rows) + "\n"


def _not_judged_rows(missing: dict[str, str], level: str) -> list[str]:
    if not missing:
        return []
    return ["", f"{level} Not judged ({len(missing)})", "", "| claim | why |", "|---|---|",
            *[f"| {_cell(cid)} | {_cell(why)} |" for cid, why in missing.items()]]


def summary_markdown(results: list[ClaimResult], stamp: str, flips: list[dict], warnings: list[str] = ()) -> str:
    """A CI job summary: counts, flips, one row per claim, a short block per claim that failed
    or stayed inconclusive."""
    counts = {v: sum(r.verdict == v for r in results) for v in ("confirmed", "refuted", "inconclusive")}
    failed = sum(outcome(r) == "FAILED" for r in results)
    r0 = results[0] if results else {}
    prov = r0.provenance
    missing = not_judged(results)
    lines = ["## polytests: claims", "",
             f"{len(results)} claims: **{counts['confirmed']} confirmed**, **{counts['refuted']} refuted**, "
             f"**{counts['inconclusive']} inconclusive**; {failed} failed their expectation. "
             f"Model `{prov.get('model')}` (`{str(prov.get('model_digest', ''))[:12]}`), corpus hash "
             f"`{str(prov.get('corpus_hash', ''))[:12]}`, {reference_words(prov)}, seed {prov.get('seed')}, "
             f"{stamp}." + (f" {len(missing)} claims not judged (listed below)." if missing else ""), ""]
    if flips:
        lines += ["### Verdicts flipped", ""]
        lines += [f"- **{f['claim_id']}**: {f['before']} → {f['after']} ({f['explanation']})" for f in flips]
        lines.append("")
    for w in warnings:
        lines += [f"> warning: {w}", ""]
    flipped = {f["claim_id"] for f in flips}
    lines += ["| claim | verdict | expected | effect [95% CI] vs bound | p adj | test |", "|---|---|---|---|---|---|"]
    for r in results:
        effect = claim_effect(r)
        mark = " (flipped)" if r.claim_id in flipped else ""
        lines.append(f"| {_cell(r.claim_id)}{mark} | {r.verdict} | {r.expect} "
                     f"| {_cell(effect.text() if effect else '')} | {fmt_p(r.pvalue_adjusted)} | {outcome(r)} |")
    blocks = [r for r in results if needs_explaining(r)]
    if blocks:
        lines += ["", "### Needs a look", ""]
        for r in blocks:
            lines += ["```", *Explanation(r).lines(), "```"]
    lines += _not_judged_rows(missing, "###")
    return "\n".join(lines) + "\n"

