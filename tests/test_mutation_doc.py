"""docs/reliability.md's mutation table is what tools/mutation.py writes from the measured rows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_mutation_table_is_the_tool_s_table_of_docs_mutation_json():
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    rows = json.loads((ROOT / "docs" / "mutation.json").read_text(encoding="utf-8"))
    assert {r["module"] for r in rows} <= set(tool.MODULES)
    for r in rows:  # a row is what one run measured: its counts add up
        assert r["killed"] + r["survived"] + r["no_tests"] == r["mutants"] and len(r["survivors"]) == r["survived"]
    ordered = sorted(rows, key=lambda r: list(tool.MODULES).index(r["module"]))
    doc = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = doc.split(tool.START, 1)[1].split(tool.END, 1)[0]
    assert tool.table(ordered) in section, "run: python tools/mutation.py --json docs/mutation.json --doc-only --write-doc"
