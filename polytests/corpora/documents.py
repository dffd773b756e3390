"""Reading corpora from disk.

Layout: ``<root>/<corpus>/CARD.md`` and ``<root>/<corpus>/docs/*.txt``, one
document a file, UTF-8. A corpus name is its folder name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from polytests.corpora.splits import SPLITS, assign_split
from polytests.errors import CorpusError


@dataclass(frozen=True)
class Document:
    corpus: str
    name: str
    text: str
    path: Path
    split: str

    @property
    def id(self) -> str:
        return f"{self.corpus}/{self.name}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Corpus:
    name: str
    root: Path
    card: str
    documents: tuple[Document, ...] = field(repr=False)

    def split(self, split: str) -> tuple[Document, ...]:
        if split not in SPLITS and split != "all":
            raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}, all")
        if split == "all":
            return self.documents
        return tuple(d for d in self.documents if d.split == split)


def _read_corpus(folder: Path) -> Corpus:
    card_path = folder / "CARD.md"
    if not card_path.is_file():
        raise CorpusError(
            f"{folder}: corpus has no CARD.md. Fix: add a card saying what the corpus is, "
            "how it was made and its license"
        )
    docs_dir = folder / "docs"
    paths = sorted(docs_dir.glob("*.txt")) if docs_dir.is_dir() else []
    if not paths:
        raise CorpusError(f"{folder}: no documents in {docs_dir}. Fix: add docs/*.txt files")
    documents = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path}: not valid UTF-8 ({exc}). Fix: re-save as UTF-8") from exc
        doc_id = f"{folder.name}/{path.stem}"
        documents.append(Document(folder.name, path.stem, text, path, assign_split(doc_id)))
    return Corpus(folder.name, folder, card_path.read_text(encoding="utf-8"), tuple(documents))


def load_corpora(root: str | Path, names: list[str] | None = None) -> dict[str, Corpus]:
    """Load every corpus under ``root`` (or only ``names``), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"corpora folder {root} does not exist. Fix: point --polytests-corpora at it")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    available = [p.name for p in folders]
    if names is not None:
        unknown = [n for n in names if n not in available]
        if unknown:
            raise CorpusError(
                f"unknown corpus {unknown[0]!r}; known: {', '.join(available)}"
            )
        folders = [p for p in folders if p.name in names]
    return {p.name: _read_corpus(p) for p in folders}
