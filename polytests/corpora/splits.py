"""Stable assignment of documents to the train / explore / confirm splits.

The split depends only on the document's id (``corpus/name``), never on its
content or on the other documents, so adding a document never moves another one
and editing a document keeps it where it was. This is the guard against double
dipping: the embedded model trains on ``train``, hunts look at ``explore`` and
claims are judged on ``confirm``.
"""

from __future__ import annotations

import hashlib

SPLITS: tuple[str, ...] = ("train", "explore", "confirm")
# Cumulative upper bounds of each split on the unit interval.
_BOUNDS = {"train": 0.40, "explore": 0.60, "confirm": 1.0}


def split_fraction(doc_id: str) -> float:
    """Map a document id to a number in [0, 1) with SHA-256 (stable across platforms)."""
    digest = hashlib.sha256(doc_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(doc_id: str) -> str:
    """The split of a document id: 40% train, 20% explore, 40% confirm."""
    fraction = split_fraction(doc_id)
    for name in SPLITS:
        if fraction < _BOUNDS[name]:
            return name
    raise AssertionError("unreachable: bounds end at 1.0")  # pragma: no cover
