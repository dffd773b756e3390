"""polytests training-data: extraction, the overlap check, the reserved share and the manifest.

The pipeline runs here on archives built in the test (a .deb made with dpkg-deb and an sdist
tarball), so it needs no network; one test downloads a real small package and is skipped,
saying why, where the package archive cannot be reached.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import struct
import subprocess
import tarfile
import zlib
from pathlib import Path

import pytest

from polytests.corpora import load_corpora
from polytests.training_data import extract, gather
from polytests.training_data.sources import DEBIAN, PYPI, Source

LONG = "The quick brown fox jumps over the lazy dog near the river bank today. " * 8


def _sdist(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _deb(folder: Path, package: str, version: str, files: dict[str, bytes]) -> Path:
    root = folder / f"build-{package}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n")
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    out = folder / f"{package}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(out)], check=True,
                   capture_output=True)
    shutil.rmtree(root)
    return out


def _sword(chapters: dict[str, str]) -> tuple[bytes, bytes]:
    xml = "".join(f'<chapter osisID="{c}" sID="{c}"/><w lemma="x">{t}</w>' for c, t in chapters.items())
    block = zlib.compress(xml.encode())
    return block, struct.pack("<III", 0, len(block), len(xml))


needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")


@needs_dpkg
def test_gather_extracts_filters_reserves_and_records(tmp_path, tiny_corpora):
    archives = tmp_path / "cache" / "archives"
    archives.mkdir(parents=True)
    corpus_doc = next(d for c in load_corpora(tiny_corpora).values() for d in c.documents)
    bzz, bzs = _sword({"Gen.1": LONG, "Ps.23": "The Lord is my shepherd, I shall not want. " * 10})
    _deb(archives, "texts", "1.0", {
        "usr/share/doc/texts/a.txt": LONG.encode(),
        "usr/share/doc/texts/copy.txt": LONG.encode(),  # an exact duplicate: kept once
        "usr/share/doc/texts/leak.txt": (corpus_doc.text * 3).encode(),  # a corpora/ document: dropped
        "usr/share/doc/texts/page.html": f"<html><script>x()</script><h1>Page</h1><p>{LONG}</p></html>".encode(),
        "usr/share/man/es/man1/ls.1.gz": gzip.compress(f'.TH LS 1\n.SH NOMBRE\n\\fBls\\fR {LONG}\n'.encode()),
        "usr/share/sword/modules/texts/ztext/web/ot.bzz": bzz,
        "usr/share/sword/modules/texts/ztext/web/ot.bzs": bzs,
    })
    _sdist(archives / "pkg-2.0.tar.gz", {"pkg-2.0/src/a.f90": "program p\n" + "  x = x + 1\n" * 40 + "end\n"})
    sources = (
        Source("plain", DEBIAN, "texts", "1.0", "CC0", "english_prose", ("usr/share/doc/texts/*.txt",), "plain"),
        Source("html", DEBIAN, "texts", "1.0", "CC0", "english_prose", ("*.html",), "html_text"),
        Source("man", DEBIAN, "texts", "1.0", "CC0", "spanish", ("usr/share/man/es/*.gz",), "roff"),
        Source("bible", DEBIAN, "texts", "1.0", "PD", "english_prose", ("*/ztext/*/*.bzz",), "sword_osis",
               verse_kind="english_poetry"),
        Source("f", PYPI, "pkg", "2.0", "MIT", "fortran", ("*.f90",), "plain"),
    )
    manifest = gather.gather(tmp_path / "cache", tiny_corpora, sources, manifest_path=tmp_path / "m.json",
                             gibberish_count=5)
    rows = {r["name"]: r for r in manifest["sources"]}
    assert rows["plain"]["dropped_overlap"] == 1 and rows["plain"]["duplicates"] == 1
    assert rows["html"]["duplicates"] == 0 and rows["man"]["documents"] + rows["man"]["reserved"] == 1
    text = {}
    for kind in ("english_prose", "english_poetry", "spanish", "fortran", "gibberish", "reserved"):
        lines = (tmp_path / "cache" / "text" / f"{kind}.jsonl").read_text().splitlines()
        text[kind] = [json.loads(line) for line in lines]
    everything = [r for rows_ in text.values() for r in rows_]
    assert not any(corpus_doc.text[:200] in r["text"] for r in everything)  # the leak is gone
    assert all("x()" not in r["text"] for r in everything)  # scripts are not text
    assert any("shepherd" in r["text"] for r in text["english_poetry"] + text["reserved"])  # Psalms are verse
    assert any("NOMBRE" in r["text"] and "\\fB" not in r["text"] for r in text["spanish"] + text["reserved"])
    assert {r["id"] for r in text["reserved"]} == {r["id"] for r in everything if gather.is_reserved(r["id"])}
    assert json.loads((tmp_path / "m.json").read_text()) == manifest
    assert all(v["sha256"] for v in manifest["files"].values())


def test_a_pinned_hash_that_does_not_match_is_refused(tmp_path):
    archives = tmp_path / "archives"
    archives.mkdir()
    _sdist(archives / "pkg-2.0.tar.gz", {"pkg-2.0/a.f": "x\n"})
    bad = Source("f", PYPI, "pkg", "2.0", "MIT", "fortran", ("*.f",), "plain", sha256="0" * 64)
    with pytest.raises(gather.TrainingDataError, match="expected 0000.*Fix: delete"):
        gather.download(bad, archives)


def test_chunks_respect_the_size_and_keep_all_text():
    text = "\n".join(f"line {i} " + "w" * (i % 50) for i in range(2000))
    pieces = extract.chunk(text, max_chars=1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert "".join(p.replace("\n", "") for p in pieces) == text.replace("\n", "")


def test_fortune_files_become_pages_of_entries():
    data = "\n%\n".join(f"entry {i} " + "x" * 300 for i in range(40)).encode()
    pages = list(extract.fortune("songs-poems", data))
    assert len(pages) > 3 and all("%" not in text for _, text in pages)
    assert list(extract.fortune("songs-poems.dat", data)) == []


def test_missing_text_says_which_command_makes_it(tmp_path):
    with pytest.raises(gather.TrainingDataError, match="polytests training-data"):
        gather.read_kind(tmp_path, "fortran")


@needs_dpkg
def test_a_real_package_from_the_archive(tmp_path, tiny_corpora):
    """One real, small Debian package, downloaded and read (skipped where the archive is unreachable)."""
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not available")
    source = next(s for s in gather.SOURCES if s.name == "fortunes-es")
    try:
        gather.download(source, tmp_path / "cache" / "archives")
    except gather.TrainingDataError as exc:
        pytest.skip(f"the Debian archive could not be reached: {exc}")
    manifest = gather.gather(tmp_path / "cache", tiny_corpora, (source,), manifest_path=None, gibberish_count=0)
    (row,) = manifest["sources"]
    assert row["documents"] > 100 and row["chars"] > 500_000 and row["licence"].startswith("GPL")
