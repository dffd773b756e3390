"""benchmarks/compare_reports.py: identical runs compare equal, and one changed p-value is caught."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import compare_reports  # noqa: E402

from tests.test_reports import ablation_result, result  # noqa: E402


def _write(path: Path, results) -> Path:
    path.write_text(json.dumps({"claims": [r.to_dict() for r in results]}))
    return path


def test_identical_runs_compare_equal_and_a_changed_p_value_does_not(tmp_path, capsys):
    runs = [result(), ablation_result()]
    before = _write(tmp_path / "before.json", runs)
    assert compare_reports.main([str(before), str(_write(tmp_path / "same.json", runs)), "--content"]) == 0
    assert "all verdicts and p-values identical" in capsys.readouterr().out
    pred = dataclasses.replace(runs[1].predicates[0], pvalue=0.9000000001)
    changed = _write(tmp_path / "after.json", [runs[0], dataclasses.replace(runs[1], predicates=(pred,))])
    assert compare_reports.main([str(before), str(changed)]) == 1
    out = capsys.readouterr().out
    assert "abl" in out and "DIFFERENT: ablation_hurts[0].pvalue 0.9 -> 0.9000000001" in out


def test_content_mode_names_any_other_changed_field(tmp_path, capsys):
    before = _write(tmp_path / "before.json", [result()])
    after = _write(tmp_path / "after.json", [dataclasses.replace(result(), reason="another reason")])
    assert compare_reports.main([str(before), str(after)]) == 0  # verdicts and p-values agree
    assert compare_reports.main([str(before), str(after), "--content"]) == 1
    assert ".reason: 'fires_on not supported' -> 'another reason'" in capsys.readouterr().out
