"""The shipped corpora: size, variety, cards, originality checks, manifest, splits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from polytests.corpora import assign_split, build_manifest, check_manifest, load_corpora
from polytests.corpora.gibberish import generate_corpus

ROOT = Path(__file__).resolve().parent.parent / "corpora"
REQUIRED = {"fortran", "spanish_poetry", "medical", "gibberish"}


@pytest.fixture(scope="module")
def corpora():
    return load_corpora(ROOT)


def test_at_least_ten_corpora_including_the_original_four(corpora):
    assert len(corpora) >= 10
    assert REQUIRED <= set(corpora)


@pytest.mark.parametrize("name", sorted(p.name for p in ROOT.iterdir() if p.is_dir()))
def test_each_corpus_is_big_enough_and_has_a_card(corpora, name):
    corpus = corpora[name]
    assert len(corpus.documents) >= 40
    assert sum(len(d.text.encode()) for d in corpus.documents) >= 30_000
    for section in ("## What it is", "## How it was made", "## License"):
        assert section in corpus.card, f"{name}/CARD.md lacks '{section}'"
    for split in ("explore", "confirm"):
        assert len(corpus.split(split)) >= 5, f"{name} has too few {split} documents"


def _shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"\S+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@pytest.mark.parametrize("name", sorted(p.name for p in ROOT.iterdir() if p.is_dir()))
def test_no_two_documents_share_most_of_their_8grams(corpora, name):
    docs = corpora[name].documents
    shingles = [(_shingles(d.text), d.id) for d in docs]
    for i, (a, id_a) in enumerate(shingles):
        for b, id_b in shingles[i + 1 :]:
            if a and b:
                overlap = len(a & b) / min(len(a), len(b))
                assert overlap < 0.5, f"{id_a} and {id_b} share {overlap:.0%} of their 8-grams"


def test_the_shingle_check_can_fail():
    text = "one two three four five six seven eight nine ten eleven"
    assert len(_shingles(text) & _shingles(text + " twelve")) / len(_shingles(text)) == 1.0


def test_manifest_matches_the_files(corpora):
    assert check_manifest(corpora, ROOT / "manifest.json") == []


def test_manifest_check_names_an_edited_document(tmp_path, corpora):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(build_manifest(corpora).to_json())
    edited = dict(corpora)
    doc = edited["fortran"].documents[0]
    from dataclasses import replace

    edited["fortran"] = replace(edited["fortran"], documents=(replace(doc, text=doc.text + "!"),)
                                + edited["fortran"].documents[1:])
    problems = check_manifest(edited, manifest)
    assert any(doc.id in p for p in problems) and "write-manifest" in problems[-1]


def test_gibberish_is_exactly_what_its_seeded_generator_writes(corpora):
    expected = generate_corpus()
    on_disk = {d.name: d.text for d in corpora["gibberish"].documents}
    assert on_disk == expected
    assert generate_corpus(seed=2) != expected


def test_splits_are_stable_and_depend_only_on_the_id():
    assert assign_split("fortran/runge_kutta") == assign_split("fortran/runge_kutta")
    counts = {s: 0 for s in ("explore", "confirm")}
    for i in range(5000):
        counts[assign_split(f"c/doc{i}")] += 1
    assert 0.37 < counts["explore"] / 5000 < 0.43 and 0.57 < counts["confirm"] / 5000 < 0.63


def test_documents_of_the_first_layout_keep_their_split():
    # The first layout was 40% train, 20% explore, 40% confirm by the same hash;
    # its explore and confirm documents must not move (old results stay comparable).
    from polytests.corpora.splits import split_fraction

    for i in range(5000):
        f = split_fraction(f"c/doc{i}")
        old = "train" if f < 0.4 else "explore" if f < 0.6 else "confirm"
        if old != "train":
            assert assign_split(f"c/doc{i}") == old


# Corpora whose documents cannot be real text, and why (each CARD.md says it too).
NOT_REAL = {"gibberish": "generated", "spanish_poetry": "authored"}


@pytest.mark.parametrize("name", sorted(p.name for p in ROOT.iterdir() if p.is_dir()))
def test_every_corpus_is_real_text_with_a_source_and_licence_per_document(corpora, name):
    """Issue #23: real documents everywhere real text exists; per document its origin, source and
    licence in the manifest (generated gibberish and authored Spanish poetry are the exceptions)."""
    import json

    entries = json.loads((ROOT / "manifest.json").read_text())["documents"]
    mine = {k: v for k, v in entries.items() if k.startswith(name + "/")}
    assert len(mine) == len(corpora[name].documents)
    origins = {e.get("origin") for e in mine.values()}
    assert origins == {NOT_REAL.get(name, "real")}, f"{name}: {origins}"
    for doc_id, e in mine.items():
        assert e.get("licence", "").strip() and e.get("source", "").strip(), doc_id
    if name not in NOT_REAL:
        assert len(mine) >= 100
        assert all("==" in e["source"] for e in mine.values())  # package==version path


def test_origins_are_counted_per_corpus(corpora):
    counts = build_manifest(corpora).origins()
    assert counts["fortran"] == {"real": len(corpora["fortran"].documents)}
    assert counts["gibberish"] == {"generated": len(corpora["gibberish"].documents)}


@pytest.mark.parametrize(("content", "match"), [
    ("{", "not valid UTF-8 JSON"),
    ('{"documents": {"nope": {"origin": "real", "licence": "MIT", "source": "x"}}}', "'nope' names no document"),
    ('{"default": {"origin": "found", "licence": "MIT", "source": "x"}}', "field 'origin' is 'found'"),
    ('{"default": {"origin": "authored", "source": "x"}}', "field 'licence' is missing"),
    ('{"documents": {}}', "has no entry and there is no 'default'"),
    ('{"default": {"origin": "real", "licence": "MIT", "package": "p"}}', "needs field 'version'"),
])
def test_a_bad_sources_file_names_the_file_field_and_fix(tmp_path, content, match):
    from polytests.corpora.documents import load_corpora as load
    from polytests.errors import CorpusError

    folder = tmp_path / "c"
    (folder / "docs").mkdir(parents=True)
    (folder / "CARD.md").write_text("# c\n")
    (folder / "docs" / "a.txt").write_text("text")
    (folder / "sources.json").write_text(content)
    with pytest.raises(CorpusError, match=match) as info:
        build_manifest(load(tmp_path))
    assert "sources.json" in str(info.value)
    # The corpus hash (cache keys) does not read sources.json, so a run is never stopped by it.
    assert build_manifest(load(tmp_path), with_sources=False).corpus_hash
