"""Corpora: folders of documents, their explore/confirm/train split and manifest."""

from polytests.corpora.documents import Corpus, Document, load_corpora
from polytests.corpora.manifest import Manifest, build_manifest, check_manifest
from polytests.corpora.splits import SPLITS, assign_split

__all__ = [
    "SPLITS",
    "Corpus",
    "Document",
    "Manifest",
    "assign_split",
    "build_manifest",
    "check_manifest",
    "load_corpora",
]
