"""Reports render from result dictionaries alone: terminal table, failure text, files."""

from __future__ import annotations

import io
import json

from rich.console import Console

from polytests.claims.results import ClaimResult, PredicateResult
from polytests.reports import SummaryTable, explain, result_to_dict, write_reports


def result(verdict="refuted", expect="confirmed"):
    pred = PredicateResult("fires_on", "fires_on(corpus='medical')", 0.31, "L0N1 on medical: diff 0.01, p=0.31",
                           {"difference": 0.01})
    return result_to_dict(ClaimResult(
        "c1", "L0N1 fires on medical", "L0N1", "blocks.0.mlp.ln.hook_in", expect, 0.05, (pred,), 0.31, 0.62,
        verdict, "fires_on not supported", "holm", 2, top_tokens=((".", 0.9, "medical"),),
        doc_means={"medical": (0.1, 0.2, 0.3), "legal": (0.0, 0.01)}, corpora=("medical",),
        provenance={"model": "m", "model_digest": "ab" * 32, "split": "confirm", "seed": 1, "documents": 10, "tokens": 99,
         "corpus_hash": "cd" * 32}))


def test_summary_table_renders_each_claim():
    buffer = io.StringIO()
    Console(file=buffer, width=100).print(SummaryTable([result(), result("confirmed")]))
    text = buffer.getvalue()
    assert text.count("c1") == 2 and "refuted" in text and "FAILED" in text and "passed" in text
    assert "family of 2 claims, holm correction" in text


def test_explanation_names_predicate_numbers_and_tokens():
    text = explain(result())
    assert "verdict: REFUTED (expected confirmed)" in text
    assert "fires_on [p=0.31]" in text and "holm-adjusted p=0.62" in text and "'.' 0.9 (medical)" in text


def test_files_are_written(tmp_path):
    paths = write_reports([result()], tmp_path / "reports")
    data = json.loads(paths[0].read_text())
    assert data["claims"][0]["claim_id"] == "c1"
    assert "| c1 | L0N1 | refuted |" in paths[1].read_text()
    assert "<td>c1</td>" in paths[2].read_text() and "<img src='c1.png'" in paths[2].read_text()
    assert paths[3].name == "c1.png" and paths[3].read_bytes()[:4] == b"\x89PNG"
