"""The benchmarks run end to end at tiny sizes (their figures are checked by running them, not here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300, **kwargs)


def test_bench_permutation_agrees_with_scipy_at_tiny_size():
    proc = _run([str(REPO / "benchmarks" / "bench_permutation.py"), "--resamples", "199", "--repeats", "1",
                 "--no-loop"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| test | alternative | polytests (ms) | scipy vectorized (ms) |" in proc.stdout
    assert "All 15 p-values agree" in proc.stdout


@pytest.mark.slow
def test_bench_notebook_gives_the_same_verdict_on_a_tiny_claim(tmp_path, tiny_model_dir, tiny_corpora):
    hypotheses = tmp_path / "hypotheses"
    hypotheses.mkdir()
    (hypotheses / "tiny.toml").write_text(
        '[[claim]]\nid = "tiny-alpha"\nstatement = "L1N3 fires on alpha"\nneuron = "L1N3"\n\n'
        '[[claim.predicate]]\nkind = "fires_on"\ncorpus = "alpha"\n\n'
        '[[claim]]\nid = "tiny-beta-silent"\nstatement = "L0N5 is silent on beta"\nneuron = "L0N5"\n\n'
        '[[claim.predicate]]\nkind = "silent_on"\ncorpus = "beta"\nmargin = 0.5\n', encoding="utf-8")
    proc = _run([str(REPO / "benchmarks" / "bench_notebook.py"), "--hypotheses", str(hypotheses), "--claims", "all",
                 "--model", str(tiny_model_dir), "--corpora", str(tiny_corpora), "--resamples", "199",
                 "--repeats", "1"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| claim | polytests verdict | notebook verdict |" in proc.stdout
    assert "| tiny-alpha |" in proc.stdout and "| tiny-beta-silent |" in proc.stdout
    assert "| polytests warm (pytest, same cache dir again) |" in proc.stdout
    assert "All 2 verdicts agree." in proc.stdout


def test_benchmarks_doc_holds_the_last_run_all_output():
    """docs/benchmarks.md embeds docs/benchmarks-output.md verbatim (headings two levels down),
    as run_all.py writes it: no figure in the document can drift from the command's output."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import run_all
    finally:
        sys.path.pop(0)
    doc = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    output = (REPO / "docs" / "benchmarks-output.md").read_text(encoding="utf-8")
    assert run_all.BEGIN in doc and run_all.END in doc
    embedded = doc.split(run_all.BEGIN, 1)[1].split(run_all.END, 1)[0].strip()
    expected = "\n".join(("##" + line) if line.startswith("#") else line for line in output.strip().splitlines())
    assert embedded == expected


def test_embed_output_replaces_only_the_marked_section(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import run_all
    finally:
        sys.path.pop(0)
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\n\nnarrative\n\n{run_all.BEGIN}\nold\n{run_all.END}\n\nafter\n")
    run_all.embed_output(doc, "# Benchmark output\n\n## bench_x.py\n\n| a |\n")
    assert doc.read_text() == (f"# Title\n\nnarrative\n\n{run_all.BEGIN}\n\n### Benchmark output\n\n#### bench_x.py"
                               f"\n\n| a |\n\n{run_all.END}\n\nafter\n")
    doc.write_text("no markers")
    with pytest.raises(SystemExit, match="markers"):
        run_all.embed_output(doc, "x")
