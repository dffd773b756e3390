"""Reports render from typed results alone: terminal table, explanations, files, ledger."""

from __future__ import annotations

import dataclasses
import io
import json
import re

import numpy as np
from rich.console import Console

from polytests.claims.results import ClaimResult, PredicateResult, null_summary
from polytests.reports import (
    SummaryTable,
    claim_effect,
    effect_of,
    explain,
    explanations,
    fmt_signed,
    read_ledger,
    write_reports,
)

LONG_ID = "l0n202-medical-beyond-periods-and-more"


def result(verdict="refuted", expect="confirmed", claim_id="c1", digest="ab" * 32, difference=0.01,
           statement="L0N1 fires on medical"):
    null = null_summary(np.random.default_rng(0).normal(size=999), 2.5, "Welch t, documents relabelled")
    pred = PredicateResult("fires_on", "fires_on(corpus='medical')", 0.31, "L0N1 on medical: diff 0.01, p=0.31",
                           {"difference": difference, "ci": (-0.02, 0.04), "null": null})
    return ClaimResult(
        claim_id, statement, "L0N1", "blocks.0.mlp.ln.hook_in", expect, 0.05, (pred,), 0.31, 0.62,
        verdict, "fires_on not supported", "holm", 2, top_tokens=((".", 0.9, "medical"),),
        doc_means={"medical": (0.1, 0.2, 0.3), "legal": (0.0, 0.01)}, corpora=("medical",),
        contexts=({"corpus": "medical", "doc_id": "medical/a", "claimed": True, "peak": 1,
                   "tokens": ["The", " fever", "<b>"], "acts": [0.1, 0.9, -0.2]},
                  {"corpus": "legal", "doc_id": "legal/b", "claimed": False, "peak": 0,
                   "tokens": [" court"], "acts": [0.3]}),
        provenance={"model": "m", "model_digest": digest, "split": "confirm", "seed": 1, "documents": 10,
                    "tokens": 99, "corpus_hash": "cd" * 32, "resamples": 999,
                    "versions": {"torch": "2.13.0", "polytests": "0.1.0"}})


def ablation_result(delta=-0.0018):
    per_kind = {"zero": {"delta_loss": delta, "pvalue": 0.9, "null_evaluated": 20, "null_exceeding": 17,
                         "null": null_summary(np.linspace(-0.01, 0.01, 20), delta, "zero-ablation delta loss")}}
    pred = PredicateResult("ablation_hurts", "ablation_hurts(...)", 0.9, "ablating L0N1", {"per_kind": per_kind})
    return dataclasses.replace(result(claim_id="abl"), predicates=(pred,))


def render(renderable, width) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True).print(renderable)
    return buffer.getvalue()


def test_summary_table_renders_each_claim():
    text = render(SummaryTable([result(), result("confirmed", claim_id="c2")]), 100)
    assert "c1" in text and "c2" in text and "refuted" in text and "FAILED" in text and "passed" in text
    assert "family of 2 claims, holm correction" in text


def test_summary_table_keeps_long_ids_whole_at_80_columns():
    statement = "a statement long enough that it cannot fit on one line of an 80-column terminal, by far"
    text = render(SummaryTable([result(claim_id=LONG_ID, statement=statement), result(claim_id="c2")]), 80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert LONG_ID in text  # on one line, not wrapped or cut
    assert "…" in text and statement not in text  # the statement is shortened instead


def test_negative_effects_have_one_sign():
    assert fmt_signed(-0.0018) == "-0.0018" and fmt_signed(0.064) == "+0.064"
    effect = claim_effect(ablation_result(-0.0018))
    assert effect.estimate == -0.0018 and effect.unit == "nats/token" and effect.label == "zero"
    block = render(explanations([ablation_result(-0.0018)]), 100)
    assert "-0.0018 nats/token" in block and "+-" not in block


def test_effect_is_read_from_bound_fields_when_present():
    pred = PredicateResult("fires_on", "", 0.01, "", {}, estimate=0.2, ci=(0.1, 0.3), bound=0.05)
    assert effect_of(pred).text() == "+0.2 [+0.1, +0.3] vs +0.05"
    assert effect_of(PredicateResult("x", "", 0.5, "", {})) is None
    silent = PredicateResult("silent_on", "", 0.01, "", {"difference": -0.01, "margin": 0.05})
    assert effect_of(silent).text() == "-0.01 vs ±0.05"


def test_explanation_blocks_only_for_failed_or_inconclusive():
    r_ok = result("confirmed", claim_id="fine")
    r_bad = result(claim_id="bad")
    r_inc = result("inconclusive", claim_id="unsure")
    r_inc = dataclasses.replace(r_inc, predicates=(dataclasses.replace(
        r_inc.predicates[0], pvalue=None, inconclusive_reason="too few documents: 1 in medical"),))
    text = render(explanations([r_ok, r_bad, r_inc]), 120)
    assert "fine" not in text
    assert "bad: REFUTED (expected confirmed)" in text and "predicate fires_on: estimate +0.01 [-0.02, +0.04]" in text
    assert "unsure: INCONCLUSIVE" in text and "to decide: more evidence: too few documents" in text


def test_explanation_names_predicate_numbers_and_tokens():
    text = explain(result())
    assert "verdict: REFUTED (expected confirmed)" in text
    assert "fires_on [p above 0.31, below" in text and "holm-adjusted p=0.62" in text and "'.' 0.9 (medical)" in text


def test_files_are_written_and_html_is_self_contained(tmp_path):
    written = write_reports([result(), ablation_result()], tmp_path / "reports")
    names = {p.name for p in written.paths}
    assert {"claims.json", "claims.md", "claims.html", "summary.md", "history.jsonl", "c1.png"} <= names
    data = json.loads((tmp_path / "reports" / "claims.json").read_text())
    assert data["claims"][0]["claim_id"] == "c1"
    assert "| c1 | L0N1 | refuted |" in (tmp_path / "reports" / "claims.md").read_text()
    page = (tmp_path / "reports" / "claims.html").read_text()
    # No network: every src is a data URI, no external links, scripts or styles.
    assert not re.search(r"""(src|href)=['"](?!data:|#)""", page)
    assert page.count("<img src='data:image/png;base64,") == 4  # strip + null for each claim
    assert "id='claim-c1'" in page and "id='claim-abl'" in page
    assert "title='&#x27; fever&#x27;: 0.9'" in page and "&lt;b&gt;" in page  # heatmap tokens, escaped
    assert "data-verdict='inconclusive'" in page  # the filter
    assert (tmp_path / "reports" / "c1.png").read_bytes()[:4] == b"\x89PNG"
    summary = (tmp_path / "reports" / "summary.md").read_text()
    assert "2 claims: **0 confirmed**, **2 refuted**" in summary and "### Needs a look" in summary


def test_ledger_gets_one_line_per_run_and_flips_name_what_changed(tmp_path):
    folder = tmp_path / "reports"
    write_reports([result("confirmed"), result(claim_id="c2")], folder)
    second = write_reports([result("refuted", digest="ef" * 32), result(claim_id="c2")], folder)
    assert [f["claim_id"] for f in second.flips] == ["c1"]
    assert second.flips[0]["explanation"] == "model digest abababababab -> efefefefefef"
    third = write_reports([result("refuted", digest="ef" * 32), result(claim_id="c2")], folder)
    assert third.flips == []
    ledger = read_ledger(folder / "history.jsonl")
    assert len(ledger.entries) == 3 and not ledger.rejected
    assert [e["claims"]["c1"]["verdict"] for e in ledger.entries] == ["confirmed", "refuted", "refuted"]
    assert ledger.entries[0]["claims"]["c1"]["effect"]["estimate"] == 0.01
    page = (folder / "claims.html").read_text()
    assert page.count("<img") == 6  # a history plot per claim from the second run on


def test_the_history_figure_shows_changes_and_a_rerun_that_changed_nothing_draws_nothing(tmp_path, monkeypatch):
    from polytests.reports import figures
    from polytests.reports.ledger import claim_history

    folder, cache = tmp_path / "reports", tmp_path / "figures"
    cache.mkdir()
    drawn = []
    draw = figures._draw_history
    monkeypatch.setattr(figures, "_draw_history", lambda cid, points: drawn.append((cid, len(points))) or draw(cid, points))
    write_reports([result("confirmed")], folder, figure_cache=cache)
    write_reports([result("confirmed")], folder, figure_cache=cache)  # a history of two alike runs: one point
    assert drawn == [("c1", 1)]
    write_reports([result("confirmed")], folder, figure_cache=cache)  # nothing changed: the cached PNG
    assert drawn == [("c1", 1)]
    write_reports([result("refuted", digest="ef" * 32)], folder, figure_cache=cache)
    assert drawn[-1] == ("c1", 2)
    changes = figures.history_changes(claim_history(read_ledger(folder / "history.jsonl").entries, "c1"))
    assert [(c["verdict"], c["runs"], c["flipped"]) for c in changes] == [("confirmed", 3, False), ("refuted", 1, True)]
    assert "<img" in (folder / "claims.html").read_text()


def test_library_version_change_is_named(tmp_path):
    folder = tmp_path / "reports"
    write_reports([result("confirmed")], folder)
    r = result("refuted")
    r = dataclasses.replace(r, provenance={**r.provenance, "versions": {"torch": "2.14.0", "polytests": "0.1.0"}})
    flips = write_reports([r], folder).flips
    assert flips[0]["explanation"] == "torch 2.13.0 -> 2.14.0"


def test_malformed_ledger_line_and_claims_json_are_set_aside(tmp_path):
    folder = tmp_path / "reports"
    write_reports([result("confirmed")], folder)
    with open(folder / "history.jsonl", "a") as f:
        f.write('{"claims": {"c1": {"verdict": "ref\n')  # a torn line
    (folder / "claims.json").write_text("{not json")
    written = write_reports([result("refuted")], folder)
    assert any("malformed ledger line" in w and "history.jsonl:2" in w for w in written.warnings)
    assert any("claims.json is malformed" in w for w in written.warnings)
    assert [f["claim_id"] for f in written.flips] == ["c1"]  # still found from the good ledger line
    assert len(read_ledger(folder / "history.jsonl").entries) == 2
    assert "ref" in (folder / "history.rejected.jsonl").read_text()
    assert list(folder.glob("claims.json.malformed-*"))
    assert json.loads((folder / "claims.json").read_text())["claims"][0]["verdict"] == "refuted"


def test_flips_fall_back_to_claims_json_without_a_ledger(tmp_path):
    folder = tmp_path / "reports"
    write_reports([result("confirmed")], folder)
    (folder / "history.jsonl").unlink()
    flips = write_reports([result("refuted", digest="ef" * 32)], folder).flips
    assert flips[0]["source"] == "claims.json" and "model digest" in flips[0]["explanation"]


def test_null_summary_marks_observed_inside_its_range():
    s = null_summary(np.arange(100.0), 250.0, "t")
    assert sum(s["counts"]) == 100 and s["edges"][0] == 0 and s["edges"][-1] == 250 and s["observed"] == 250


def test_p_values_at_the_design_floor_read_as_at_most_the_floor():
    from polytests.reports.format import fmt_claim_p, fmt_p

    assert fmt_p(1e-4, 1e-4) == "<= 1.0e-04" and fmt_p(2e-4, 1e-4) == "2.0e-04" and fmt_p(0.5) == "0.5"
    floor = (PredicateResult("fires_on", "", 1e-4, "", {}, min_pvalue=1e-4),)
    confirmed = dataclasses.replace(result("confirmed"), pvalue=1e-4, pvalue_refute=1.0, predicates=floor)
    refuted = dataclasses.replace(result("refuted"), pvalue=1.0, pvalue_refute=0.002, predicates=floor)
    assert fmt_claim_p(confirmed) == "<= 1.0e-04 (above)" and fmt_claim_p(refuted) == "0.002 (below)"


def test_figures_are_reused_by_content_and_redrawn_when_it_changes(tmp_path, monkeypatch):
    from polytests.reports import figures as figs

    drawn = []
    real = figs.strip_plot
    monkeypatch.setattr(figs, "strip_plot", lambda r: drawn.append(r.claim_id) or real(r))
    cache = tmp_path / "figures"
    first = write_reports([result()], tmp_path / "a", figure_cache=cache)
    again = write_reports([result()], tmp_path / "b", figure_cache=cache)
    assert len(drawn) == 1  # the second run read the figure
    png = [p for p in first.paths if p.suffix == ".png"]
    assert png and png[0].read_bytes() == [p for p in again.paths if p.suffix == ".png"][0].read_bytes()
    write_reports([result("confirmed")], tmp_path / "c", figure_cache=cache)
    assert len(drawn) == 2  # a changed verdict is a new figure
    for entry in cache.glob("strip-*.png"):
        entry.write_bytes(b"not a png")  # damaged: not read, drawn again
    write_reports([result()], tmp_path / "d", figure_cache=cache)
    assert len(drawn) == 3


def test_each_recorded_null_is_one_panel_under_its_most_specific_label():
    from polytests.reports.format import null_of

    decisive = {"statistic": "t", "observed": 2.0, "n": 99, "edges": [0.0, 1.0, 2.0], "counts": [50, 49]}
    other = {**decisive, "observed": 0.5}
    pred = PredicateResult("ablation_hurts", "", 0.5, "", {"null": decisive, "per_kind": {
        "zero": {"null": dict(decisive)}, "mean": {"null": other}}})
    assert null_of(pred) == [("zero", decisive), ("mean", other)]
    assert null_of(PredicateResult("fires_on", "", 0.5, "", {"null": decisive})) == [("", decisive)]


def test_figures_drawn_ahead_by_a_worker_are_the_ones_the_reports_use(tmp_path, monkeypatch):
    """Under xdist a worker draws its claims' figures into the figure cache; the controller's
    write_reports then draws none of them."""
    import json
    from types import SimpleNamespace

    from polytests.items import draw_figures_ahead
    from polytests.reports import figures as figs

    state = SimpleNamespace(settings=SimpleNamespace(cache_dir="cache", path=lambda p: tmp_path / p))
    config = SimpleNamespace(getoption=lambda name: False)
    r = ClaimResult.from_dict(json.loads(json.dumps(result().to_dict())))  # as the controller receives it
    draw_figures_ahead(config, state, r)
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "cache" / "figures").glob("*.png")) == ["null", "strip"]

    def no_drawing(r):
        raise AssertionError("the controller drew a figure the worker had drawn")

    monkeypatch.setattr(figs, "strip_plot", no_drawing)
    monkeypatch.setattr(figs, "null_plot", no_drawing)
    written = write_reports([r], tmp_path / "reports", figure_cache=tmp_path / "cache" / "figures")
    assert any(p.suffix == ".png" for p in written.paths)
    # With reports switched off the worker draws nothing.
    draw_figures_ahead(SimpleNamespace(getoption=lambda name: True), state, result("confirmed"))
    assert len(list((tmp_path / "cache" / "figures").glob("strip-*.png"))) == 1


def test_results_read_back_from_json_are_the_same_objects_and_a_renamed_field_fails():
    """claims.json and xdist workers carry ``ClaimResult.to_dict``; ``from_dict`` gives the reports
    the same typed object, and a field it does not know fails there, not inside a report."""
    import pytest

    r = ablation_result()
    data = json.loads(json.dumps(r.to_dict()))
    assert ClaimResult.from_dict(data).to_dict() == data and "family_excluded" not in data
    again = ClaimResult.from_dict(data)
    assert again.predicates[0].numbers == data["predicates"][0]["numbers"] and again.corpora == ("medical",)
    renamed = {("verdict_text" if k == "verdict" else k): v for k, v in data.items()}
    with pytest.raises(TypeError, match="verdict"):
        ClaimResult.from_dict(renamed)
    excluded = dataclasses.replace(r, family_excluded={"x": "unknown corpus"})
    assert excluded.to_dict()["family_excluded"] == {"x": "unknown corpus"}


def test_an_inconclusive_explanation_says_its_reason_once_and_then_what_would_decide_it():
    # #26: the reason was printed twice, on the verdict line and again after "to decide:".
    reason = ("neither shown above nor below the bound: fires_on: estimate +0.0112 vs bound +0.00808 activation; "
              "p above 0.008 (adjusted 0.224), p below 1 (adjusted 1), holm over the family's 44 one-sided "
              "hypotheses (22 claims): neither <= alpha 0.05; about 119 documents would decide it at this effect "
              "with 80% power (now 121).")
    r = dataclasses.replace(result("inconclusive", claim_id="near"), reason=reason)
    text = render(explanations([r]), 400)
    assert text.count("neither shown above nor below") == 1
    assert "to decide: add documents: about 119 would decide it at this effect (now 121)" in text
    mc = dataclasses.replace(r, reason="undecided by Monte Carlo resolution: the adjusted p above the bound is "
                             "0.05, but its 99.9% Monte Carlo range [0.04, 0.06] straddles alpha 0.05; more "
                             "resamples (now 19,999: --polytests-resamples) would narrow it")
    assert "to decide: more resamples (now 19,999: --polytests-resamples) would narrow it" in render(
        explanations([mc]), 400)
