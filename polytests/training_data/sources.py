"""Where the embedded model's training text comes from, and in what proportions.

Every source is a package from a registry this project can reach (Debian's
archive or PyPI), pinned to a version and read with a named extractor. The text
is real, licence-clear (public domain, or a free licence that allows
redistribution and derived works) and written by people outside this project.
None of it is committed: ``polytests training-data`` downloads and extracts it
into a cache and writes ``polytests/embedded/training_data.json`` (sources,
versions, licences, archive hashes, sizes) into the repository.

``MIX`` states what share of the training tokens each kind of text gets. The
shares follow the corpora the claims are about (code, prose and poetry in three
languages, LaTeX, HTML, legal and medical text) rather than what happens to be
plentiful; a kind with little text is repeated more often, which the card says.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One package, the files taken from it and how they become text."""

    name: str  # short id, used in document ids
    registry: str  # "debian" or "pypi"
    package: str
    version: str
    licence: str
    kind: str  # key of MIX
    patterns: tuple[str, ...]  # fnmatch patterns on paths inside the package
    extractor: str  # key of polytests.training_data.extract.EXTRACTORS
    sha256: str = ""  # of the downloaded archive; checked when set
    verse_kind: str = ""  # for Bibles: the kind that the books of verse (Psalms, Job...) go to


# Books of a Bible in verse (OSIS ids); their chapters are poetry, not prose.
VERSE_BOOKS = frozenset({"Job", "Ps", "Prov", "Eccl", "Song", "Lam"})


# Share of training tokens per kind of text (sums to 1).
MIX: dict[str, float] = {
    "python_code": 0.13,
    "fortran": 0.12,
    "english_prose": 0.16,
    "english_poetry": 0.04,
    "spanish": 0.13,
    "french": 0.12,
    "latex": 0.09,
    "html": 0.08,
    "legal": 0.04,
    "medical": 0.06,
    "gibberish": 0.03,
}

DEBIAN = "debian"
PYPI = "pypi"

SOURCES: tuple[Source, ...] = (
    Source("scipy-fortran", PYPI, "scipy", "1.10.1",
           "BSD-3-Clause (SciPy) and the public-domain / BSD netlib libraries it bundles",
           "fortran", ("*.f", "*.f90", "*.F", "*.f95"), "plain",
           "2cf9dfb80a7b4589ba4c40ce7588986d6d5cebc5457cad2c2880f6bc2d42f3a5"),
    Source("cpython-stdlib", DEBIAN, "libpython3.11-stdlib", "3.11.2-6+deb12u9",
           "PSF-2.0", "python_code", ("usr/lib/python3.11/*.py",), "plain"),
    Source("python-docs-rst", DEBIAN, "python3.11-doc", "3.11.2-6+deb12u9",
           "PSF-2.0", "english_prose", ("usr/share/doc/python3.11/html/_sources/*.txt",), "plain"),
    Source("python-docs-html", DEBIAN, "python3.11-doc", "3.11.2-6+deb12u9",
           "PSF-2.0", "html", ("usr/share/doc/python3.11/html/*.html",), "plain"),
    Source("debref-en", DEBIAN, "debian-reference-en", "2.100",
           "GPL-2.0-or-later", "english_prose", ("usr/share/debian-reference/*.en.html",), "html_text"),
    Source("debref-en-html", DEBIAN, "debian-reference-en", "2.100",
           "GPL-2.0-or-later", "html", ("usr/share/debian-reference/*.en.html",), "plain"),
    Source("web-bible", DEBIAN, "sword-text-web", "426.0-1",
           "public domain (World English Bible)", "english_prose",
           ("usr/share/sword/modules/texts/ztext/*/*.bzz",), "sword_osis", verse_kind="english_poetry"),
    Source("fortunes-en", DEBIAN, "fortunes", "1:1.99.1-7.3",
           "BSD-4-Clause-UC and public domain quotations", "english_poetry",
           ("usr/share/games/fortunes/songs-poems", "usr/share/games/fortunes/literature",
            "usr/share/games/fortunes/love", "usr/share/games/fortunes/wisdom",
            "usr/share/games/fortunes/platitudes"), "fortune"),
    Source("rv1909-bible", DEBIAN, "sword-text-sparv", "2.60-1",
           "public domain (Reina-Valera 1909)", "spanish",
           ("usr/share/sword/modules/texts/ztext/*/*.bzz",), "sword_osis", verse_kind="spanish"),
    Source("fortunes-es", DEBIAN, "fortunes-es", "1.36",
           "GPL-2.0-or-later", "spanish", ("usr/share/games/fortunes/es/*",), "fortune"),
    Source("manpages-es", DEBIAN, "manpages-es", "4.18.1-1",
           "GPL-3.0-or-later and the licences of the translated pages", "spanish",
           ("usr/share/man/es/*.gz",), "roff"),
    Source("debref-es", DEBIAN, "debian-reference-es", "2.100",
           "GPL-2.0-or-later", "spanish", ("usr/share/debian-reference/*.es.html",), "html_text"),
    Source("manpages-fr", DEBIAN, "manpages-fr", "4.18.1-1",
           "GPL-3.0-or-later and the licences of the translated pages", "french",
           ("usr/share/man/fr/*.gz",), "roff"),
    Source("debref-fr", DEBIAN, "debian-reference-fr", "2.100",
           "GPL-2.0-or-later", "french", ("usr/share/debian-reference/*.fr.html",), "html_text"),
    Source("texlive-latex-extra-doc", DEBIAN, "texlive-latex-extra-doc", "2022.20230122-4",
           "LPPL-1.3c and the licences of each package's documentation", "latex",
           ("usr/share/doc/texlive-doc/*.tex",), "plain"),
    Source("texlive-publishers-doc", DEBIAN, "texlive-publishers-doc", "2022.20230122-4",
           "LPPL-1.3c and the licences of each package's documentation", "latex",
           ("usr/share/doc/texlive-doc/*.tex",), "plain"),
    Source("texlive-science-doc", DEBIAN, "texlive-science-doc", "2022.20230122-4",
           "LPPL-1.3c and the licences of each package's documentation", "latex",
           ("usr/share/doc/texlive-doc/*.tex",), "plain"),
    Source("common-licenses", DEBIAN, "base-files", "12.4+deb12u15",
           "each licence's own terms (verbatim copying permitted)", "legal",
           ("usr/share/common-licenses/*",), "plain"),
    Source("scipy-licences", PYPI, "scipy", "1.10.1",
           "each licence's own terms (verbatim copying permitted)", "legal",
           ("*LICENSE*", "*COPYING*", "*LICENCE*"), "plain",
           "2cf9dfb80a7b4589ba4c40ce7588986d6d5cebc5457cad2c2880f6bc2d42f3a5"),
    Source("texlive-licences", DEBIAN, "texlive-latex-extra-doc", "2022.20230122-4",
           "each licence's own terms (verbatim copying permitted)", "legal",
           ("*/LICENSE*", "*/license*", "*/LICENCE*", "*/COPYING*", "*/copyright"), "plain"),
    Source("debian-copyright", DEBIAN, "texlive-science-doc", "2022.20230122-4",
           "each licence's own terms (verbatim copying permitted)", "legal",
           ("*/LICENSE*", "*/license*", "*/LICENCE*", "*/COPYING*", "*/copyright"), "plain"),
    Source("gnumed-doc", DEBIAN, "gnumed-doc", "1.8.9+dfsg-1",
           "GPL-2.0-or-later", "medical", ("usr/share/doc/gnumed/*.html",), "html_text"),
    Source("pydicom-doc", DEBIAN, "python-pydicom-doc", "2.3.1-1",
           "MIT", "medical", ("usr/share/doc/python-pydicom-doc/html/*.html",), "html_text"),
    Source("fortunes-medicine", DEBIAN, "fortunes", "1:1.99.1-7.3",
           "BSD-4-Clause-UC and public domain quotations", "medical",
           ("usr/share/games/fortunes/medicine",), "fortune"),
    Source("biopython-tutorial", PYPI, "biopython", "1.83",
           "BSD-3-Clause (Biopython License Agreement, dual)", "medical",
           ("*/Doc/Tutorial/*.tex",), "plain",
           "78e6bfb78de63034037afd35fe77cb6e0a9e5b62706becf78a7d922b16ed83f7"),
)
