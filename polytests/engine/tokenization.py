"""Turning documents into model inputs.

A document becomes one or more *windows*: rows that hold at most a model's
context of the document's tokens, wrapped in the special tokens the model was
trained with (its :class:`InputFormat`: ``<|endoftext|>`` or ``<s>`` before a
decoder's window, ``[CLS]`` ... ``[SEP]`` around an encoder's). Windows never
cross document boundaries, so no token ever attends to another document, and
they do not overlap (the stride is the window's length). Special positions are
never recorded as document tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from polytests._lazy import lazy

torch = lazy("torch")


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

    def subset(self, docs: np.ndarray) -> TokenizedDocuments:
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
class InputFormat:
    """How one model reads a window: the tokens before (``prefix``) and after (``suffix``) the
    document's tokens, the context length, and how a batch is padded.

    ``bidirectional`` models (encoders) see padding unless it is masked, so their batches carry
    an attention mask and are padded with ``pad``; a causal model's padding sits after every
    real token and changes nothing, so it is padded with its first prefix token, unmasked.
    """

    prefix: tuple[int, ...]
    n_ctx: int
    suffix: tuple[int, ...] = ()
    pad: int | None = None
    bidirectional: bool = False

    def __post_init__(self) -> None:
        if self.window_size < 1:
            raise ValueError(f"a context of {self.n_ctx} tokens leaves no room for a document token "
                             f"after {len(self.prefix) + len(self.suffix)} special tokens")

    @property
    def window_size(self) -> int:
        """Document tokens per window (and the stride between windows)."""
        return self.n_ctx - len(self.prefix) - len(self.suffix)

    def windows(self, tokens: TokenizedDocuments) -> list[Window]:
        return make_windows(tokens, self.n_ctx, reserved=len(self.prefix) + len(self.suffix))

    def batch(self, tokens: TokenizedDocuments, batch: list[Window]) -> WindowBatch:
        return window_batch(tokens, batch, fmt=self)

    def key(self) -> dict:
        """What a cache key needs to tell inputs of two formats apart."""
        return {"prefix": list(self.prefix), "suffix": list(self.suffix), "n_ctx": self.n_ctx,
                "pad": self.pad, "bidirectional": self.bidirectional}


@dataclass(frozen=True)
class Window:
    """``length`` tokens of document ``doc`` starting at token ``start`` (special tokens not counted)."""

    doc: int
    start: int
    length: int


def make_windows(tokens: TokenizedDocuments, n_ctx: int, reserved: int = 1) -> list[Window]:
    """Cut every document into windows of at most ``n_ctx - reserved`` tokens (``reserved``: the
    special tokens each window carries; one BOS by default)."""
    if n_ctx < reserved + 1:
        raise ValueError(f"n_ctx must be at least {reserved + 1}, got {n_ctx}")
    size = n_ctx - reserved
    windows = []
    for doc in range(tokens.n_docs):
        n = int(tokens.offsets[doc + 1] - tokens.offsets[doc])
        for start in range(0, n, size):
            windows.append(Window(doc, start, min(size, n - start)))
    return windows


def batch_windows(windows: list[Window], max_tokens: int) -> list[list[Window]]:
    """Group windows of similar length into batches of at most ``max_tokens`` padded tokens.

    Sorting by length keeps padding small; each batch is padded to its longest row. The
    budget counts one special token per row (a BOS): exact for decoders, one short for encoders.
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
    """A padded batch of windows: ``rows`` [batch, width] start with the format's prefix (a
    BOS); ``doc`` and ``flat`` give each position's document and flat token index (-1 for
    special tokens and padding); ``attention_mask`` (1 = real, 0 = padding) is set for
    bidirectional models only."""

    rows: torch.Tensor
    doc: torch.Tensor
    flat: torch.Tensor
    windows: tuple[Window, ...]
    attention_mask: torch.Tensor | None = None


def window_batch(tokens: TokenizedDocuments, batch: list[Window], bos: int | None = None, *,
                 fmt: InputFormat | None = None) -> WindowBatch:
    """Rows of ``batch``: ``bos`` + tokens (a decoder), or ``fmt``'s prefix + tokens + suffix."""
    if fmt is None:
        if bos is None:
            raise ValueError("window_batch needs bos or fmt")
        prefix, suffix, pad, masked = (int(bos),), (), int(bos), False
    else:
        prefix, suffix, masked = fmt.prefix, fmt.suffix, fmt.bidirectional
        pad = fmt.pad if fmt.pad is not None else prefix[0]
    p, s = len(prefix), len(suffix)
    width = max(w.length for w in batch) + p + s
    rows = torch.full((len(batch), width), pad, dtype=torch.long)
    doc = torch.full((len(batch), width), -1, dtype=torch.long)
    flat = torch.full((len(batch), width), -1, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long) if masked else None
    for r, w in enumerate(batch):
        start = int(tokens.offsets[w.doc]) + w.start
        rows[r, :p] = torch.tensor(prefix, dtype=torch.long)
        rows[r, p : p + w.length] = torch.from_numpy(tokens.token_ids[start : start + w.length].astype(np.int64))
        if s:
            rows[r, p + w.length : p + w.length + s] = torch.tensor(suffix, dtype=torch.long)
        doc[r, p : p + w.length] = w.doc
        flat[r, p : p + w.length] = torch.arange(start, start + w.length)
        if mask is not None:
            mask[r, : p + w.length + s] = 1
    return WindowBatch(rows, doc, flat, tuple(batch), mask)


def vocab_of(model) -> list[str]:
    """The decoded string of every token id of ``model``."""
    tok = model.tokenizer
    return [tok.decode([i]) for i in range(int(model.cfg.d_vocab))]
