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

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    entries: dict[str, dict]  # doc id -> {"split", "sha256", "bytes"}

    @property
    def corpus_hash(self) -> str:
        payload = json.dumps(self.entries, sort_keys=True).encode("utf-8")
        return hashlib.sha256(payload).hexdigest()

    def to_json(self) -> str:
        body = {
            "format_version": FORMAT_VERSION,
            "corpus_hash": self.corpus_hash,
            "documents": self.entries,
        }
        return json.dumps(body, indent=1, sort_keys=True) + "\n"


def build_manifest(corpora: dict[str, Corpus]) -> Manifest:
    entries = {}
    for corpus in corpora.values():
        for doc in corpus.documents:
            entries[doc.id] = {
                "split": doc.split,
                "sha256": doc.sha256,
                "bytes": len(doc.text.encode("utf-8")),
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
