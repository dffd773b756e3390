"""Malformed claim files, tried as a new user would, each beside valid claims.

Every file in ``tests/bad_claims/`` says in its header what was tried, which field
the error must name and words it must contain; the offending line carries ``# <-``.
All of them go into ONE pytest run (pytester) beside two valid claims, and for each
file we check: exactly one failing item, naming the file, that line, the field and
a fix; the valid claims still get their verdicts, and say which claims the family
was judged without. The run itself must end normally (exit 1: tests failed), never
with an internal error or an interrupted collection.

The table in docs/reliability.md is this test's output: set POLYTESTS_UPDATE_DOCS=1
to rewrite it; otherwise the test fails when the table no longer matches.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import rich.console  # noqa: F401
import rich.table  # noqa: F401

# pytester's in-process runs drop modules first imported inside them: import up front.
import polytests.reports  # noqa: F401
import polytests.verdicts.runner  # noqa: F401
from polytests.corpora import load_corpora
from tests.helpers import alpha_neurons, check_or_write_section

BAD = Path(__file__).parent / "bad_claims"
DOC = Path(__file__).parent.parent / "docs" / "reliability.md"
START, END = "<!-- bad-claims table: start -->", "<!-- bad-claims table: end -->"


@dataclass(frozen=True)
class Expectation:
    source: Path  # in tests/bad_claims
    placed: str  # its name in the run's hypotheses/ folder
    tried: str
    field: str | None
    error: str | None
    line: int | None  # the line marked "# <-"
    accepted: bool


def _text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def expectations() -> list[Expectation]:
    out = []
    for path in sorted(BAD.iterdir()):
        if path.suffix not in (".toml", ".py"):
            continue
        text = _text(path.read_bytes())
        header = dict(re.findall(r"^# (tried|field|error): (.*)$", text, flags=re.M))
        line = next((i for i, t in enumerate(text.splitlines(), 1) if t.rstrip().endswith("# <-")), None)
        placed = path.name if path.suffix == ".toml" else "test_" + path.name.removeprefix("claim_")
        out.append(Expectation(path, placed, header["tried"], header.get("field"), header.get("error"), line,
                               "\n# accepted" in text))
    return out


def test_the_bad_claims_folder_is_well_formed():
    found = expectations()
    assert len(found) >= 60
    for e in found:
        assert e.accepted or e.error, f"{e.source.name}: header needs '# error:' or '# accepted'"
    assert len({e.placed for e in found}) == len(found)


@pytest.fixture
def neurons(tiny_model, tiny_corpora):
    """(strongest alpha neuron, neuron least active on alpha), found from the data."""
    docs = [d for c in load_corpora(tiny_corpora).values() for d in c.split("confirm")]
    return alpha_neurons(tiny_model, docs)


def _valid_claims(strong: str, weak: str) -> str:
    return textwrap.dedent(f"""
        [[claim]]
        id = "valid-alpha-feature"
        statement = "fires on alpha"
        neuron = "{strong}"

        [[claim.predicate]]
        kind = "fires_on"
        corpus = "alpha"

        [[claim]]
        id = "valid-documented-false"
        statement = "fires on alpha (documented false)"
        neuron = "{weak}"
        expect = "refuted"

        [[claim.predicate]]
        kind = "fires_on"
        corpus = "alpha"
    """)


def _first_line(longrepr: str, root: Path) -> str:
    text = longrepr.replace(str(root) + os.sep, "").replace("hypotheses" + os.sep, "")
    return text.strip().splitlines()[0] if text.strip() else ""


def test_every_bad_claim_file_fails_alone_and_the_valid_claims_are_judged(
        pytester, tiny_model_dir, tiny_corpora, neurons):
    pytester.makepyprojecttoml(textwrap.dedent(f"""
        [tool.polytests]
        model = "{tiny_model_dir}"
        corpora = "{tiny_corpora}"
        resamples = 999
        min_effect = 0.02  # as in test_plugin.py: the tiny model's feature is 1.3x the default bound
        cache_dir = "{pytester.path / 'cache'}"
    """))
    hyp = pytester.mkdir("hypotheses")
    (hyp / "claims.toml").write_text(_valid_claims(*neurons))
    cases = expectations()
    for e in cases:
        shutil.copyfile(e.source, hyp / e.placed)

    reprec = pytester.inline_run("hypotheses", "-p", "no:cacheprovider", "-p", "no:randomly")
    assert reprec.ret == pytest.ExitCode.TESTS_FAILED  # not INTERNAL_ERROR, not INTERRUPTED
    assert not [r for r in reprec.getreports("pytest_collectreport") if r.failed], "a collection error"
    reports = [r for r in reprec.getreports("pytest_runtest_logreport") if r.when == "call" or r.failed]
    by_file: dict[str, list] = {}
    for r in reports:
        by_file.setdefault(r.nodeid.split("::")[0].removeprefix("hypotheses/"), []).append(r)

    problems, rows = [], []
    for e in cases:
        # a valid claim beside the bad one may fail on its verdict (its neuron is arbitrary): not an error item
        failed = [r for r in by_file.get(e.placed, []) if r.failed and "\nverdict: " not in r.longreprtext]
        if e.accepted:
            if failed or not by_file.get(e.placed):
                problems.append(f"{e.placed}: expected to be accepted and judged, got {len(failed)} failures")
            outcome = ", ".join(sorted({r.outcome for r in by_file.get(e.placed, [])}))
            rows.append((e, f"accepted; its claim was judged ({outcome})"))
            continue
        if len(failed) != 1:
            problems.append(f"{e.placed}: expected one failing item, got {len(failed)}")
            continue
        text = failed[0].longreprtext
        message = _first_line(text, pytester.path)
        rows.append((e, message))
        wanted = [e.error, "Fix:", f"{e.placed}" + (f":{e.line}" if e.line else "")]
        if e.field:
            wanted.append(f"field '{e.field}'")
        missing = [w for w in wanted if w not in text]
        if missing:
            problems.append(f"{e.placed}: missing {missing} in: {message}")
        if "Traceback" in text or "INTERNALERROR" in text:
            problems.append(f"{e.placed}: a traceback instead of a message: {message}")
    assert not problems, "\n".join(problems)

    data = json.loads((pytester.path / "reports" / "claims.json").read_text())
    claims = {c["claim_id"]: c for c in data["claims"]}
    assert claims["valid-alpha-feature"]["verdict"] == "confirmed"
    assert claims["valid-documented-false"]["verdict"] == "refuted"
    excluded = claims["valid-alpha-feature"]["family_excluded"]
    # claims that parse but fail against the model or corpora are left out of the family, by name
    for cid in ("corpus_unknown", "layer_out_of_range", "index_out_of_range", "model_missing_path",
                "site_unknown_hook"):
        assert cid in excluded, cid
    _check_or_write_doc(rows, claims)


def _check_or_write_doc(rows, claims) -> None:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| file | what was tried | what happened |", "|---|---|---|"]
    for e, message in sorted(rows, key=lambda r: r[0].placed):
        lines.append(f"| `{e.source.name}` | {cell(e.tried)} | {cell(message)} |")
    valid = ", ".join(f"`{k}` {claims[k]['verdict']}" for k in ("valid-alpha-feature", "valid-documented-false"))
    lines += ["", f"{len(rows)} files in one run; the two valid claims beside them: {valid}."]
    check_or_write_section(DOC, START, END, "\n".join(lines), "python -m pytest tests/test_bad_claims.py")
