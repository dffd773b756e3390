"""Turning documents into model inputs.

A document becomes one or more *windows*: rows that start with the BOS token
and hold at most ``n_ctx - 1`` of the document's tokens. Windows never cross
document boundaries, so no token ever attends to another document. The BOS
position is never recorded as a document token.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch


@dataclass(frozen=True)
class TokenizedDocuments:
    """Token ids of a list of documents, flat, with offsets (CSR layout)."""

    doc_ids: tuple[str, ...]
    corpus_of_doc: tuple[str, ...]
    token_ids: np.ndarray  # int32 [n_tokens]
    offsets: np.ndarray  # int64 [n_docs + 1]

    @property
    def n_docs(self) -> int:
        return len(self.doc_ids)

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    def subset(self, docs: np.ndarray) -> "TokenizedDocuments":
        """The documents ``docs`` (indices, in that order) as their own TokenizedDocuments."""
        docs = np.asarray(docs, dtype=np.int64)
        lengths = self.offsets[docs + 1] - self.offsets[docs]
        offsets = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.concatenate([self.doc_tokens(int(d)) for d in docs]) if len(docs) else self.token_ids[:0]
        return TokenizedDocuments(tuple(self.doc_ids[d] for d in docs), tuple(self.corpus_of_doc[d] for d in docs),
                                  ids, offsets)

    def doc_tokens(self, i: int) -> np.ndarray:
        return self.token_ids[self.offsets[i] : self.offsets[i + 1]]

    @cached_property
    def _doc_index(self) -> np.ndarray:
        index = np.repeat(np.arange(self.n_docs, dtype=np.int32), np.diff(self.offsets))
        index.flags.writeable = False  # shared by every caller
        return index

    def doc_index_per_token(self) -> np.ndarray:
        """The document of every token (computed once, read-only)."""
        return self._doc_index

    def position_per_token(self) -> np.ndarray:
        starts = np.repeat(self.offsets[:-1], np.diff(self.offsets))
        return (np.arange(self.n_tokens) - starts).astype(np.int32)


def tokenize_documents(tokenizer, documents) -> TokenizedDocuments:
    """Tokenize ``Document`` objects without special tokens."""
    texts = [d.text for d in documents]
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    lengths = np.array([len(ids) for ids in encoded], dtype=np.int64)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((t for ids in encoded for t in ids), dtype=np.int32, count=int(offsets[-1]))
    return TokenizedDocuments(
        tuple(d.id for d in documents), tuple(d.corpus for d in documents), flat, offsets
    )


@dataclass(frozen=True)
class Window:
    """``length`` tokens of document ``doc`` starting at token ``start`` (BOS not counted)."""

    doc: int
    start: int
    length: int


def make_windows(tokens: TokenizedDocuments, n_ctx: int) -> list[Window]:
    """Cut every document into windows of at most ``n_ctx - 1`` tokens."""
    if n_ctx < 2:
        raise ValueError(f"n_ctx must be at least 2, got {n_ctx}")
    size = n_ctx - 1
    windows = []
    for doc in range(tokens.n_docs):
        n = int(tokens.offsets[doc + 1] - tokens.offsets[doc])
        for start in range(0, n, size):
            windows.append(Window(doc, start, min(size, n - start)))
    return windows


def batch_windows(windows: list[Window], max_tokens: int) -> list[list[Window]]:
    """Group windows of similar length into batches of at most ``max_tokens`` padded tokens.

    Sorting by length keeps padding small; each batch is padded to its longest row.
    """
    order = sorted(windows, key=lambda w: (w.length, w.doc, w.start))
    batches: list[list[Window]] = []
    current: list[Window] = []
    for window in order:
        width = window.length + 1  # ascending order: the newest row is the longest
        if current and width * (len(current) + 1) > max_tokens:
            batches.append(current)
            current = []
        current.append(window)
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class WindowBatch:
    """A padded batch of windows: ``rows`` [batch, width] start with BOS; ``doc`` and
    ``flat`` give each position's document and flat token index (-1 for BOS and padding)."""

    rows: torch.Tensor
    doc: torch.Tensor
    flat: torch.Tensor
    windows: tuple[Window, ...]


def window_batch(tokens: TokenizedDocuments, batch: list[Window], bos: int) -> WindowBatch:
    width = max(w.length for w in batch) + 1
    rows = torch.full((len(batch), width), bos, dtype=torch.long)
    doc = torch.full((len(batch), width), -1, dtype=torch.long)
    flat = torch.full((len(batch), width), -1, dtype=torch.long)
    for r, w in enumerate(batch):
        start = int(tokens.offsets[w.doc]) + w.start
        rows[r, 1 : 1 + w.length] = torch.from_numpy(tokens.token_ids[start : start + w.length].astype(np.int64))
        doc[r, 1 : 1 + w.length] = w.doc
        flat[r, 1 : 1 + w.length] = torch.arange(start, start + w.length)
    return WindowBatch(rows, doc, flat, tuple(batch))
