"""Neuroscope's views of one neuron, each a part of a :class:`~polytests.commands.neuron_view.NeuronView`
that draws itself in the terminal (rich) and as an HTML fragment.

- :class:`CorpusContexts`: per corpus, the top and the least-activating contexts. A document's
  *peak* is its highest token activation. The top contexts of a corpus are the ``k`` documents
  with the highest peak, the least-activating the ``k`` documents with the lowest peak (the
  documents where even the neuron's strongest moment is weakest, or most negative when a
  neuron's activations can be negative everywhere in a document), each shown as a window around
  its peak token. One context per document; a document is never in both lists.
- :class:`ActivationHistogram`: every token's activation, per corpus, counted in bins shared by
  all corpora (one x-axis), as a share of the corpus's tokens.
- :class:`TextRun`: the neuron over the user's own text (``show --text``), every token shaded.

Token shading: red for positive, blue for negative, on one colour scale per neuron (the
view's ``shade``), so a colour means the same activation in every corpus and in the text.
Pure reads: nothing here feeds a verdict.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from polytests.commands.neuron_view import Context, context_window, shaded_html, shaded_text
from polytests.neurons import NeuronRef

__all__ = ["ActivationHistogram", "CorpusContexts", "TextRun", "activation_histogram", "corpus_contexts",
           "document_peaks", "histogram_png", "text_run"]

BLOCKS = " ▁▂▃▄▅▆▇█"
LOG_FLOOR = 1e-4  # a bar's height: log10(share of the corpus's tokens), from this share (1 block) to 1 (8)
PNG_FLOOR = 5e-6  # the PNG's y-axis starts here: one token of a 200,000-token corpus still shows


def _e(value) -> str:
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class CorpusContexts:
    """One corpus's top (highest document peaks) and least-activating (lowest document peaks) contexts."""

    corpus: str
    n_docs: int  # documents of the corpus with at least one token
    top: tuple[Context, ...]
    least: tuple[Context, ...]

    def rich(self, shade: float):
        """The corpus's contexts as rich renderables, shaded against ``shade``."""
        from rich.console import Group
        from rich.text import Text

        lines = []
        for label, contexts in (("top", self.top), ("least-activating", self.least)):
            if not contexts:
                continue
            lines.append(Text(f"{self.corpus}: {label} {len(contexts)} of {self.n_docs} documents "
                              f"({'highest' if label == 'top' else 'lowest'} peak)", style="bold"))
            for c in contexts:
                lines.append(Text(f"  {c.doc_id} · peak {c.acts[c.peak]:.4g}", style="dim"))
                lines.append(shaded_text(c.tokens, c.acts, shade, c.peak))
        return Group(*lines)

    def to_html(self, shade: float) -> str:
        parts = [f"<h5>{_e(self.corpus)} ({self.n_docs} documents)</h5>"]
        for label, contexts in (("top (highest peak)", self.top), ("least-activating (lowest peak)", self.least)):
            if contexts:
                parts.append(f"<div class='ctxhead'><b>{label}</b></div>")
            for c in contexts:
                parts.append(f"<div class='ctxhead'>{_e(c.doc_id)} · peak {c.acts[c.peak]:.4g}</div>"
                             + shaded_html(c.tokens, c.acts, shade, c.peak))
        return "".join(parts)


def document_peaks(acts: np.ndarray, offsets: np.ndarray, docs) -> list[tuple[int, int]]:
    """(document, flat index of its highest activation) for each of ``docs`` that has tokens."""
    out = []
    for d in docs:
        start, stop = int(offsets[d]), int(offsets[d + 1])
        if stop > start:
            out.append((int(d), start + int(np.argmax(acts[start:stop]))))
    return out


def corpus_contexts(store, vocab, neuron: NeuronRef, *, k: int = 3, radius: int = 12,
                    order=None) -> tuple[CorpusContexts, ...]:
    """Top and least-activating ``k`` contexts of every corpus (in ``order``, default the store's)."""
    acts = store.token_activations(neuron).astype(np.float64)
    offsets = store.tokens.offsets
    out = []
    for corpus in order or store.corpora:
        peaks = document_peaks(acts, offsets, store.docs_of(corpus))
        ranked = sorted(peaks, key=lambda dp: (-acts[dp[1]], dp[0]))  # highest peak first, ties by document
        top = ranked[:k]
        least = [dp for dp in reversed(ranked) if dp not in top][:k]
        out.append(CorpusContexts(corpus, len(peaks),
                                  tuple(context_window(store, vocab, acts, p, radius) for _, p in top),
                                  tuple(context_window(store, vocab, acts, p, radius) for _, p in least)))
    return tuple(out)


@dataclass(frozen=True)
class ActivationHistogram:
    """Token activations per corpus in shared bins: ``counts[i][b]`` tokens of ``corpora[i]`` in
    ``[edges[b], edges[b + 1])`` (the last bin closed)."""

    neuron: NeuronRef
    split: str
    edges: tuple[float, ...]
    corpora: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    scale: float

    def shares(self, i: int) -> np.ndarray:
        counts = np.asarray(self.counts[i], dtype=np.float64)
        return counts / counts.sum() if counts.sum() else counts

    def sparkline(self, i: int) -> str:
        """One character per bin: blank for no token, else a block whose height is log10 of the share
        of the corpus's tokens in the bin, from LOG_FLOOR (lowest block) to 1 (full block)."""
        chars = []
        for share in self.shares(i):
            if share <= 0:
                chars.append(BLOCKS[0])
                continue
            level = (np.log10(share) - np.log10(LOG_FLOOR)) / -np.log10(LOG_FLOOR)
            chars.append(BLOCKS[int(np.clip(np.ceil(level * 8), 1, 8))])
        return "".join(chars)

    def axis(self) -> str:
        """The shared x-axis under the sparklines: ▲ where the neuron's scale falls (and -scale)."""
        width = len(self.edges) - 1
        marks = [" "] * width
        for x in (self.scale, -self.scale):
            b = self._bin_of(x)
            if b is not None:
                marks[b] = "▲"
        return "".join(marks)

    def _bin_of(self, x: float) -> int | None:
        lo, hi = self.edges[0], self.edges[-1]
        if not lo <= x <= hi or hi <= lo:
            return None
        return min(int((x - lo) / (hi - lo) * (len(self.edges) - 1)), len(self.edges) - 2)

    def caption(self) -> str:
        lo, hi = self.edges[0], self.edges[-1]
        return (f"every token of the {self.split} split, {len(self.edges) - 1} bins from {lo:.4g} to {hi:.4g} shared "
                f"by all corpora (bin width {(hi - lo) / max(len(self.edges) - 1, 1):.3g}); bar height: share of the "
                f"corpus's tokens in the bin, log scale from {LOG_FLOOR:.2%} to 100%; ▲ = ±scale s = "
                f"{self.scale:.4g}; > s/2: share of the corpus's tokens above half the scale")

    def __rich_console__(self, console, options):
        from rich.table import Table
        from rich.text import Text

        table = Table(title="activation histogram per corpus (one shared x-axis)", title_justify="left")
        table.add_column("corpus")
        table.add_column("tokens", justify="right")
        table.add_column(f"{self.edges[0]:.3g} … {self.edges[-1]:.3g}", no_wrap=True, overflow="crop")
        table.add_column("> s/2", justify="right")
        mids = (np.asarray(self.edges[:-1]) + np.asarray(self.edges[1:])) / 2
        for i, corpus in enumerate(self.corpora):
            line = Text()
            for ch, mid in zip(self.sparkline(i), mids, strict=True):
                line.append(ch, style="red" if mid >= 0 else "blue")
            above = float(self.shares(i)[mids > self.scale / 2].sum()) if self.scale > 0 else float("nan")
            table.add_row(corpus, f"{sum(self.counts[i]):,}", line, f"{above:.2%}")
        table.add_row("", "", Text(self.axis(), style="bold"), "")
        yield table
        yield Text(self.caption(), style="dim")

    def to_html(self) -> str:
        from polytests.reports.html import data_uri

        png = histogram_png(self)
        return (f"<h4>activation histogram per corpus</h4><figure><img src='{data_uri(png)}' "
                f"alt='{_e(self.neuron)} activation histogram per corpus'><figcaption>{_e(self.caption())}"
                "</figcaption></figure>")


def activation_histogram(store, neuron: NeuronRef, *, scale: float, bins: int = 40,
                         order=None) -> ActivationHistogram:
    """Every token's activation per corpus (in ``order``, default the store's) in ``bins`` bins
    spanning the smallest to the largest activation of the split (0 always inside)."""
    acts = store.token_activations(neuron).astype(np.float64)
    lo, hi = min(0.0, float(acts.min(initial=0.0))), max(0.0, float(acts.max(initial=0.0)))
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    doc = store.tokens.doc_index_per_token()
    corpora = tuple(order or store.corpora)
    counts = []
    for corpus in corpora:
        values = acts[np.isin(doc, store.docs_of(corpus))]
        counts.append(tuple(int(n) for n in np.histogram(values, bins=edges)[0]))
    return ActivationHistogram(neuron, store.split, tuple(float(x) for x in edges), corpora, tuple(counts),
                               float(scale))


def histogram_png(hist: ActivationHistogram) -> bytes:
    """Small multiples, one row per corpus, one shared x-axis (activation) and log y-axis (share of
    the corpus's tokens); dashed lines at ±scale."""
    from polytests.reports.figures import png_bytes, pyplot

    plt = pyplot()
    n = len(hist.corpora)
    fig, axes = plt.subplots(n, 1, sharex=True, sharey=True, figsize=(7.5, 0.55 * n + 1.1), dpi=100, squeeze=False)
    edges = np.asarray(hist.edges)
    width = np.diff(edges)
    for i, (ax, corpus) in enumerate(zip(axes[:, 0], hist.corpora, strict=True)):
        shares = hist.shares(i)
        colours = ["#d62728" if x >= 0 else "#1f77b4" for x in edges[:-1] + width / 2]
        ax.bar(edges[:-1], np.where(shares > 0, shares, np.nan), width=width, align="edge", color=colours,
               linewidth=0)
        ax.set_yscale("log")
        ax.set_ylim(PNG_FLOOR, 1.0)
        ax.set_ylabel(corpus, rotation=0, ha="right", va="center", fontsize=7)
        ax.tick_params(labelsize=6)
        for x in (hist.scale, -hist.scale):
            if edges[0] <= x <= edges[-1]:
                ax.axvline(x, color="black", lw=0.7, ls="--")
    axes[-1, 0].set_xlabel(f"activation of {hist.neuron} (dashed: ±scale {hist.scale:.3g})", fontsize=8)
    axes[0, 0].set_title(f"{hist.neuron}: activation histogram per corpus ({hist.split} split, every token; "
                         "share of the corpus's tokens, log)", fontsize=8)
    fig.tight_layout(h_pad=0.1)
    return png_bytes(fig)


@dataclass(frozen=True)
class TextRun:
    """The neuron's activation on every token of the user's own text."""

    neuron: NeuronRef
    source: str  # the file name, or "stdin"
    tokens: tuple[str, ...]
    acts: tuple[float, ...]

    def _summary(self) -> str:
        if not self.tokens:
            return f"your text ({self.source}): no tokens"
        order = np.argsort(-np.asarray(self.acts), kind="stable")[:5]
        best = ", ".join(f"{self.tokens[i]!r} {self.acts[i]:.4g}" for i in order)
        return f"your text ({self.source}, {len(self.tokens):,} tokens); most active: {best}"

    def rich(self, shade: float):
        from rich.console import Group
        from rich.text import Text

        peak = int(np.argmax(self.acts)) if self.acts else None
        return Group(Text(self._summary(), style="bold"), shaded_text(self.tokens, self.acts, shade, peak))

    def to_html(self, shade: float) -> str:
        peak = int(np.argmax(self.acts)) if self.acts else None
        return (f"<h4>your text</h4><div class='ctxhead'>{_e(self._summary())}</div>"
                f"<div class='yourtext'>{shaded_html(self.tokens, self.acts, shade, peak)}</div>")


def text_run(store, vocab, neuron: NeuronRef, source: str) -> TextRun:
    """The TextRun of ``neuron`` from a store built over the user's text (one document)."""
    acts = store.token_activations(neuron).astype(np.float64)
    return TextRun(neuron, source, tuple(vocab[int(t)] for t in store.tokens.token_ids),
                   tuple(float(a) for a in acts))
