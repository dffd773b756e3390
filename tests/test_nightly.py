"""The nightly job: .ci/nightly run on a tiny project, and the workflow calling only that script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path

import yaml

from tests.test_plugin import claim_toml, neurons  # noqa: F401  (neurons is a fixture)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "nightly"


def nightly(command: str, project: Path, **env) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "POLYTESTS_", "NIGHTLY_"))}
    full.update(POLYTESTS_PROJECT=str(project),
                PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **env)
    return subprocess.run([str(SCRIPT), command], cwd=project, env=full, capture_output=True, text=True,
                          timeout=600)


def test_workflow_only_calls_the_nightly_script():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    steps = workflow["jobs"]["claims"]["steps"]
    commands = [s["run"] for s in steps if "run" in s]
    known = set(re.findall(r"^\s+(\w+)\) \w+ ;;$", SCRIPT.read_text(), re.M))
    assert commands and all(c.split()[0] == ".ci/nightly" and c.split()[1] in known for c in commands), commands
    assert [c.split()[1] for c in commands] == ["install", "key", "run"]
    caches = {s["with"]["path"]: s["with"]["key"] for s in steps if s.get("uses", "").startswith("actions/cache/")}
    assert caches[".polytests_cache"] == "${{ steps.key.outputs.key }}"
    assert caches["reports"].startswith("polytests-ledger-")  # the ledger is kept between nights
    assert os.access(SCRIPT, os.X_OK)


def test_nightly_script_keys_runs_keeps_ledger_and_publishes(tmp_path, tiny_model_dir, tiny_corpora, neurons):  # noqa: F811
    project = tmp_path / "project"
    (project / "hypotheses").mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""
        [tool.polytests]
        model = "{tiny_model_dir}"
        corpora = "{tiny_corpora}"
        resamples = 999
    """))
    (project / "hypotheses" / "claims.toml").write_text(
        claim_toml("alpha-feature", neurons[0], ['kind = "fires_on"\ncorpus = "alpha"']))
    output, summary, publish = tmp_path / "github_output", tmp_path / "step_summary.md", tmp_path / "published"

    keyed = nightly("key", project, GITHUB_OUTPUT=str(output))
    assert keyed.returncode == 0, keyed.stderr
    key = keyed.stdout.strip()
    assert re.fullmatch(r"polytests-activations-[0-9a-f]{16}-[0-9a-f]{16}", key)
    assert output.read_text() == f"key={key}\n"

    env = {"GITHUB_STEP_SUMMARY": str(summary), "NIGHTLY_PUBLISH_DIR": str(publish)}
    for night in (1, 2):
        done = nightly("run", project, **env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"ledger reports/history.jsonl has {night} runs" in done.stdout
    assert summary.read_text().count("## polytests: claims") == 2
    assert (project / ".polytests_cache").is_dir()  # the cache the workflow restores by key
    assert {"claims.html", "summary.md", "history.jsonl", "junit.xml"} <= {p.name for p in publish.iterdir()}
    digest = json.loads((project / "reports" / "claims.json").read_text())["claims"][0]["provenance"]["model_digest"]
    assert key.split("-")[2] == digest[:16]

    # A flip fails the night when the workflow asks it to.
    ledger = project / "reports" / "history.jsonl"
    lines = ledger.read_text().splitlines()
    last = json.loads(lines[-1])
    last["claims"]["alpha-feature"]["verdict"] = "refuted"
    ledger.write_text("\n".join(lines[:-1] + [json.dumps(last)]) + "\n")
    flipped = nightly("run", project, POLYTESTS_ARGS="--polytests-fail-on-flip", **env)
    assert flipped.returncode == 1 and "VERDICT FLIPPED for alpha-feature" in flipped.stdout
    assert "### Verdicts flipped" in summary.read_text()
