"""The HTML report in a real browser: every claim there, every image loads, no console errors.

Runs on a report written here from result dictionaries; with ``POLYTESTS_HTML_REPORT`` set
(``.ci/run`` sets it after ``pytest hypotheses/``) it also checks that report. A screenshot
is kept beside the report checked (the test's tmp dir, or the report folder).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from polytests.reports import write_reports
from tests.chromium import Chromium
from tests.test_reports import ablation_result, result

PAGE_FACTS = """JSON.stringify({
  sections: Array.from(document.querySelectorAll('section.claim')).map(s => s.dataset.claimId),
  rows: Array.from(document.querySelectorAll('#overview tr[data-claim-verdict]')).map(r => r.cells[0].textContent),
  images: Array.from(document.images).map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0})),
  heat: document.querySelectorAll('.ctx span').length,
})"""
HIDE_REFUTED = """(() => {
  document.querySelector("input[data-verdict='refuted']").click();
  return Array.from(document.querySelectorAll('#overview tr[data-claim-verdict]'))
    .filter(r => !r.classList.contains('hidden')).map(r => r.dataset.claimVerdict);
})()"""


def check_report(browser: Chromium, page: Path, expected_ids: list[str], screenshot: Path) -> dict:
    browser.open(page)
    facts = json.loads(browser.evaluate(PAGE_FACTS))
    browser.screenshot(screenshot)
    assert sorted(facts["sections"]) == sorted(expected_ids)
    assert sorted(facts["rows"]) == sorted(expected_ids)
    assert facts["images"] and all(i["ok"] for i in facts["images"]), [i for i in facts["images"] if not i["ok"]]
    assert browser.console_errors() == []
    assert screenshot.read_bytes()[:4] == b"\x89PNG"
    return facts


def test_html_report_in_headless_chromium(browser, tmp_path):
    folder = tmp_path / "reports"
    results = [result("confirmed"), result(claim_id="c2"), ablation_result()]
    write_reports(results, folder)
    results[0] = dataclasses.replace(results[0], verdict="refuted")  # a flip, and a second run for the history plots
    write_reports(results, folder)
    facts = check_report(browser, folder / "claims.html", ["c1", "c2", "abl"], tmp_path / "claims-screenshot.png")
    assert len(facts["images"]) == 9  # strip, null and history plot per claim
    assert facts["heat"] == 3 * 4  # token spans of each claim's two contexts
    assert browser.evaluate(HIDE_REFUTED) == []  # every claim is refuted now: the filter hides them all


def test_generated_report_in_headless_chromium(browser):
    page = os.environ.get("POLYTESTS_HTML_REPORT")
    if not page:
        pytest.skip("set POLYTESTS_HTML_REPORT to a claims.html written by `pytest hypotheses/` to check it")
    page = Path(page)
    claims = json.loads((page.parent / "claims.json").read_text())["claims"]
    check_report(browser, page, [c["claim_id"] for c in claims], page.parent / "claims-screenshot.png")
