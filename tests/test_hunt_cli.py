"""`polytests hunt` and `polytests show` end to end on the embedded model (a few explore documents)."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytests.claims.parse import parse_claim_file
from polytests.cli import main
from tests.helpers import explore_excerpts

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ("fortran", "spanish_poetry", "medical")


@pytest.fixture(scope="module")
def small_corpora(tmp_path_factory):
    """Twelve explore documents of three corpora."""
    return explore_excerpts(tmp_path_factory.mktemp("corpora"), CORPORA, 12, 1500)


def test_hunt_runs_on_the_embedded_model_and_writes_parsing_candidates(small_corpora, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["hunt", "--corpora-dir", str(small_corpora), "--corpora", *CORPORA, "--layers", "0", "--k", "1",
                 "--min-effect", "0.05", "--top", "3", "--resamples", "99", "--pictures", "1", "--contexts", "2",
                 "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    text = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert code == 0
    assert "512 neurons x 3 corpora" in text
    assert "respond to exactly 1" in text
    files = sorted(out.glob("*.toml"))
    assert files, text
    for f in files:
        (claim,) = parse_claim_file(f)
        assert set(claim.predicates[0].baseline) <= set(CORPORA)  # restricted corpora: the baseline is stated
    page = (out / "hunt.html").read_text()
    assert "<img src='data:image/png;base64," in page and "http" not in page.split("<body>")[1][:2000]
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"


def test_show_prints_a_neuron_and_writes_a_page(small_corpora, tmp_path, capsys, monkeypatch):
    # Wide enough that rich never breaks a long temporary path (as xdist workers' paths are) mid-name.
    monkeypatch.setenv("COLUMNS", "400")
    hyp = tmp_path / "hyp"
    hyp.mkdir()
    (hyp / "a.toml").write_text('[[claim]]\nid = "x"\nstatement = "s"\nneuron = "L0N5"\n\n[[claim.predicate]]\n'
                                'kind = "fires_on"\ncorpus = "fortran"\n')
    (hyp / "broken.toml").write_text('[[claim]]\nid = "y"\nneuron = "L0N5"\n')
    page = tmp_path / "show.html"
    code = main(["show", "L0N5", "--corpora-dir", str(small_corpora), "--hypotheses", str(hyp), "--resamples", "99",
                 "--contexts", "2", "--html", str(page), "--cache-dir", str(tmp_path / "cache")])
    text = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert code == 0
    assert "L0N5" in text and "fortran" in text and "95% CI" in text and "top token types" in text
    assert "a.toml" in text and ": x" in text and "broken.toml" in text and "does not parse" in text
    assert "L0N5" in page.read_text() and "class='ctx'" in page.read_text()


def test_show_names_an_unknown_neuron_and_the_model_shape(small_corpora, capsys):
    assert main(["show", "L9N3", "--corpora-dir", str(small_corpora)]) == 2
    err = capsys.readouterr().err
    assert "'L9N3'" in err and "4 layers x 512 neurons" in err and "L3N511" in err
    assert main(["show", "L1N9999", "--corpora-dir", str(small_corpora)]) == 2
    assert "'L1N9999'" in capsys.readouterr().err


FINDINGS_START = "<!-- readme-hunt: written by tests/test_hunt_cli.py::test_the_readme_hunt_reproduces_the_findings -->"
FINDINGS_END = "<!-- /readme-hunt -->"
README_HUNT = "polytests hunt --k 2 --corpora fortran spanish_poetry medical gibberish --out hunt/"


def test_the_readme_hunt_reproduces_the_findings(tmp_path, capsys, monkeypatch):
    # The README's command, as written, on the embedded model and corpora/: docs/findings.md holds
    # its output (rerun with POLYTESTS_UPDATE_DOCS=1 to rewrite it after a deliberate change).
    from tests.helpers import check_or_write_section

    assert f"`{README_HUNT}`" in (ROOT / "README.md").read_text(encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(ROOT)
    args = README_HUNT.split()[1:]
    code = main([*args[:-1], str(tmp_path / "hunt")])
    assert code == 0
    printed = capsys.readouterr().out
    # "wrote PATH" lines name this run's temporary folder; a long one (xdist's) wraps onto a line of its own
    summary = "\n".join(line.rstrip() for line in printed.splitlines()
                        if not line.startswith(("wrote ", str(tmp_path))))
    assert "neurons responding to exactly 2 corpora" in summary
    block = "\n".join(f"    {line}" if line else "" for line in [f"$ {README_HUNT}", *summary.strip().splitlines()])
    check_or_write_section(ROOT / "docs" / "findings.md", FINDINGS_START, FINDINGS_END, block,
                           "pytest tests/test_hunt_cli.py -k readme_hunt")
