"""The corpus manifest: every document's split and content hash, in one JSON file.

``corpora/manifest.json`` is written by ``polytests corpora --write-manifest``
and checked by the tests: if a document is edited, added or removed without the
manifest following, the check names the document. Its ``corpus_hash`` keys the
activation cache, so any change to any text invalidates cached activations.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from polytests.corpora.documents import Corpus
from polytests.corpora.document_sources import read_sources

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


HASHED = ("split", "sha256", "bytes")  # what the corpus hash (and so every cache key) depends on


@dataclass(frozen=True)
class Manifest:
    entries: dict[str, dict]  # doc id -> {"split", "sha256", "bytes"[, "origin", "licence", "source"]}

    @property
    def corpus_hash(self) -> str:
        """Of the texts and their splits only: a licence or source corrected in sources.json does not
        invalidate cached activations."""
        hashed = {doc: {k: e[k] for k in HASHED if k in e} for doc, e in self.entries.items()}
        payload = json.dumps(hashed, sort_keys=True).encode("utf-8")
        return hashlib.sha256(payload).hexdigest()

    def origins(self) -> dict[str, dict[str, int]]:
        """Per corpus: how many documents are real, authored, generated (or of unknown origin)."""
        out: dict[str, dict[str, int]] = {}
        for doc, e in self.entries.items():
            row = out.setdefault(doc.split("/", 1)[0], {})
            row[e.get("origin", "unknown")] = row.get(e.get("origin", "unknown"), 0) + 1
        return out

    def to_json(self) -> str:
        body = {
            "format_version": FORMAT_VERSION,
            "corpus_hash": self.corpus_hash,
            "documents": self.entries,
        }
        return json.dumps(body, indent=1, sort_keys=True) + "\n"


def build_manifest(corpora: dict[str, Corpus], with_sources: bool = True) -> Manifest:
    """The manifest of ``corpora``; ``with_sources``: each document's origin, licence and source from
    its corpus's sources.json (a broken sources.json then raises CorpusError naming it)."""
    entries = {}
    for corpus in corpora.values():
        sources = read_sources(corpus.root, [d.name for d in corpus.documents]) if with_sources else {}
        for doc in corpus.documents:
            entries[doc.id] = {
                "split": doc.split,
                "sha256": doc.sha256,
                "bytes": len(doc.text.encode("utf-8")),
                **sources.get(doc.name, {}),
            }
    return Manifest(entries)


def read_manifest(path: str | Path) -> Manifest:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Manifest(data["documents"])


def check_manifest(corpora: dict[str, Corpus], path: str | Path) -> list[str]:
    """Differences between the manifest file and the documents on disk (empty if none)."""
    path = Path(path)
    if not path.is_file():
        return [f"{path} is missing. Fix: run `polytests corpora --write-manifest`"]
    recorded = read_manifest(path).entries
    actual = build_manifest(corpora).entries
    problems = []
    for doc_id in sorted(set(recorded) | set(actual)):
        if doc_id not in actual:
            problems.append(f"{doc_id}: in the manifest but not on disk")
        elif doc_id not in recorded:
            problems.append(f"{doc_id}: on disk but not in the manifest")
        elif recorded[doc_id] != actual[doc_id]:
            problems.append(f"{doc_id}: manifest says {recorded[doc_id]}, disk has {actual[doc_id]}")
    if problems:
        problems.append("Fix: run `polytests corpora --write-manifest` and commit the result")
    return problems
