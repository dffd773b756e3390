"""Stable assignment of documents to the explore / confirm splits.

The split depends only on the document's id (``corpus/name``), never on its
content or on the other documents, so adding a document never moves another one
and editing a document keeps it where it was. This is the guard against double
dipping: hunts look at ``explore`` and claims are judged on ``confirm``. The
embedded model trains on other, real text (``polytests training-data``), so no
document of the corpora is set aside for training any more.

The hash intervals are those of the first layout (40% train, 20% explore, 40%
confirm) with the former train interval divided between the two: every
document that was in explore or confirm stays there, so results judged on the
old confirm split remain comparable, and no document moves when others are
added.
"""

from __future__ import annotations

import hashlib

SPLITS: tuple[str, ...] = ("explore", "confirm")
# Intervals of the unit interval per split: 40% explore, 60% confirm.
_INTERVALS = {"explore": ((0.0, 0.2), (0.4, 0.6)), "confirm": ((0.2, 0.4), (0.6, 1.0))}


def split_fraction(doc_id: str) -> float:
    """Map a document id to a number in [0, 1) with SHA-256 (stable across platforms)."""
    digest = hashlib.sha256(doc_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(doc_id: str) -> str:
    """The split of a document id: 40% explore, 60% confirm."""
    fraction = split_fraction(doc_id)
    for name in SPLITS:
        if any(low <= fraction < high for low, high in _INTERVALS[name]):
            return name
    raise AssertionError("unreachable: the intervals cover [0, 1)")  # pragma: no cover
