"""What a researcher looks at first about one neuron, read from an ActivationStore.

Its top contexts (windows of tokens around the most active tokens, one per document, each
token with the neuron's activation), its mean per corpus with a document-level bootstrap CI,
and its top token types with their share of the positive activation. ``polytests show`` adds
Neuroscope's views (:mod:`polytests.commands.neuron_parts`, :mod:`polytests.commands.logit_attribution`):
top and least-activating contexts per corpus, an activation histogram per corpus, the tokens
the neuron promotes and suppresses through the unembedding, and the neuron run on the user's
own text. A :class:`NeuronView` draws itself in the terminal (rich) and as an HTML fragment
(Neuroscope-style heatmaps); every token view of one neuron is shaded on one colour scale.
Pure reads: nothing here feeds a verdict.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polytests.claims.evaluate import EvaluationContext
from polytests.claims.token_level import top_contexts
from polytests.neurons import NeuronRef
from polytests.stats.effects import mean_ci

__all__ = ["Context", "CorpusMean", "NeuronView", "context_window", "context_windows", "neuron_view",
           "shaded_html", "shaded_text", "token_colour"]


@dataclass(frozen=True)
class Context:
    corpus: str
    doc_id: str
    tokens: tuple[str, ...]
    acts: tuple[float, ...]
    peak: int  # index of the most active token in ``tokens``


@dataclass(frozen=True)
class CorpusMean:
    corpus: str
    mean: float
    low: float
    high: float
    n_docs: int


@dataclass(frozen=True)
class NeuronView:
    neuron: NeuronRef
    site: str
    split: str
    model: str
    scale: float
    means: tuple[CorpusMean, ...]
    top_tokens: tuple[tuple[str, float, int], ...]  # (token, share of positive activation, occurrences)
    contexts: tuple[Context, ...]  # the split's top contexts over every corpus (hunt's pages)
    claims: tuple[str, ...] = field(default=())  # lines naming claims about the neuron
    scale_on: str = "split"  # where the scale was measured: "reference" (as claims do), "split" or a longer phrase
    # The parts `show` adds (polytests.commands.neuron_parts, logit_attribution): each draws itself.
    by_corpus: tuple[Any, ...] = field(default=())  # CorpusContexts: top and least-activating contexts per corpus
    histogram: Any = None  # ActivationHistogram
    logits: Any = None  # LogitAttribution
    texts: tuple[Any, ...] = field(default=())  # TextRun: the neuron on the user's own text

    @property
    def shade(self) -> float:
        """The |activation| drawn in full colour: the largest shown in any token view of this neuron,
        so a colour means the same activation in every corpus and in the user's text."""
        acts = [a for c in self.contexts for a in c.acts]
        acts += [a for group in self.by_corpus for c in group.top + group.least for a in c.acts]
        acts += [a for run in self.texts for a in run.acts]
        return max((abs(a) for a in acts), default=0.0)

    def _header(self) -> str:
        return (f"{self.neuron} of {self.model} at {self.site.format(layer=self.neuron.layer)}, {self.split} "
                f"split; scale (99.9th pct |act| on the {self.scale_on}) {self.scale:.4g}")

    def __rich_console__(self, console, options):
        from rich.table import Table
        from rich.text import Text

        yield Text(self._header(), style="bold")
        table = Table(title="mean activation per document, by corpus (95% bootstrap CI over documents)",
                      title_justify="left")
        for col in ("corpus", "docs", "mean", "95% CI", "mean / scale"):
            table.add_column(col, justify="left" if col == "corpus" else "right")
        top = max((m.mean for m in self.means), default=0.0)
        for m in self.means:
            table.add_row(m.corpus, str(m.n_docs), f"{m.mean:.4g}", f"[{m.low:.4g}, {m.high:.4g}]",
                          f"{m.mean / self.scale:+.3f}" if self.scale > 0 else "n/a",
                          style="bold" if m.mean == top else None)
        yield table
        if self.histogram is not None:
            yield self.histogram
        tokens = Table(title="top token types (share of the positive activation on the split)", title_justify="left")
        for col in ("token", "share", "occurrences"):
            tokens.add_column(col, justify="left" if col == "token" else "right")
        for tok, share, count in self.top_tokens:
            tokens.add_row(repr(tok), f"{share:.1%}", f"{count:,}")
        yield tokens
        if self.logits is not None:
            yield self.logits
        shade = self.shade
        if self.contexts:
            yield Text("top contexts (tokens shaded by activation; the peak underlined)", style="bold")
            for c in self.contexts:
                yield Text(f"{c.corpus} · {c.doc_id} · peak {c.acts[c.peak]:.4g}", style="dim")
                yield shaded_text(c.tokens, c.acts, shade, c.peak)
        if self.by_corpus:
            yield Text(f"contexts per corpus (red = positive, blue = negative, full colour = |act| {shade:.3g}; "
                       "the peak underlined)", style="bold")
            for group in self.by_corpus:
                yield group.rich(shade)
        for run in self.texts:
            yield run.rich(shade)
        yield Text("claims naming it: " + ("none" if not self.claims else ""), style="bold")
        for line in self.claims:
            yield Text("  " + line)

    def to_html(self, heading: str = "h2") -> str:
        e = lambda v: html.escape(str(v), quote=True)  # noqa: E731
        rows = "".join(f"<tr><td>{e(m.corpus)}</td><td class='num'>{m.n_docs}</td><td class='num'>{m.mean:.4g}</td>"
                       f"<td class='num'>[{m.low:.4g}, {m.high:.4g}]</td></tr>" for m in self.means)
        toks = "".join(f"<tr><td><code>{e(repr(t))}</code></td><td class='num'>{s:.1%}</td><td class='num'>{n:,}</td>"
                       f"</tr>" for t, s, n in self.top_tokens)
        shade = self.shade
        ctx = "".join(f"<div class='ctxhead'>{e(c.corpus)} · {e(c.doc_id)} · peak {c.acts[c.peak]:.4g}</div>"
                      + shaded_html(c.tokens, c.acts, shade, c.peak) for c in self.contexts)
        parts = [f"<section class='neuron' id='{e(self.neuron)}'><{heading}>{e(self.neuron)}</{heading}>"
                 f"<p class='meta'>{e(self._header())}; red = positive, blue = negative, full colour = "
                 f"{shade:.3g}</p><table><tr><th>corpus</th><th>docs</th><th>mean</th><th>95% CI</th></tr>{rows}"
                 "</table>"]
        if self.histogram is not None:
            parts.append(self.histogram.to_html())
        parts.append(f"<h4>top token types</h4><table><tr><th>token</th><th>share of positive activation</th>"
                     f"<th>occurrences</th></tr>{toks}</table>")
        if self.logits is not None:
            parts.append(self.logits.to_html())
        if self.contexts:
            parts.append(f"<h4>top contexts</h4>{ctx}")
        if self.by_corpus:
            parts.append("<h4>contexts per corpus</h4>" + "".join(g.to_html(shade) for g in self.by_corpus))
        parts += [run.to_html(shade) for run in self.texts]
        claims = "".join(f"<li>{e(line)}</li>" for line in self.claims) or "<li>none</li>"
        parts.append(f"<h4>claims naming it</h4><ul>{claims}</ul></section>")
        return "".join(parts)


def shaded_text(tokens, acts, shade: float, peak: int | None = None):
    """A rich Text of ``tokens``, each on a background of its activation (:func:`token_colour`
    against ``shade``); the ``peak`` token underlined and bold; newlines and tabs made visible."""
    from rich.text import Text

    line = Text()
    for i, (tok, a) in enumerate(zip(tokens, acts, strict=True)):
        style = f"on {token_colour(a, shade, hex_form=True)}" + (" underline bold" if i == peak else "")
        line.append(tok.replace("\n", "↵").replace("\t", "⇥"), style=style)
    return line


def shaded_html(tokens, acts, shade: float, peak: int | None = None) -> str:
    """``tokens`` as spans on a background of their activation, each titled with the token and its
    activation (hover), in a ``ctx`` block."""
    e = lambda v: html.escape(str(v), quote=True)  # noqa: E731
    spans = "".join(
        f"<span class='{'peak' if i == peak else ''}' style='background:{token_colour(a, shade)}' "
        f"title='{e(repr(t))}: {a:.4g}'>{e(t.replace(chr(10), '↵' + chr(10)))}</span>"
        for i, (t, a) in enumerate(zip(tokens, acts, strict=True)))
    return f"<div class='ctx'>{spans}</div>"


def token_colour(act: float, scale: float, *, hex_form: bool = False) -> str:
    """Red for positive, blue for negative, intensity |act| / scale (white at 0)."""
    share = 0.0 if scale <= 0 else max(-1.0, min(1.0, act / scale))
    if hex_form:
        fade = int(round(255 * (1 - abs(share))))
        return f"#ff{fade:02x}{fade:02x}" if share >= 0 else f"#{fade:02x}{fade:02x}ff"
    return f"rgba(214,39,40,{share:.3f})" if share >= 0 else f"rgba(31,119,180,{-share:.3f})"


def context_window(store, vocab: list[str], acts: np.ndarray, peak: int, radius: int = 12) -> Context:
    """The tokens of ``peak``'s document within ``radius`` of it (flat token index), with ``acts``."""
    tokens = store.tokens
    d = int(tokens.doc_index_per_token()[peak])
    start = max(int(tokens.offsets[d]), int(peak) - radius)
    stop = min(int(tokens.offsets[d + 1]), int(peak) + radius + 1)
    return Context(tokens.corpus_of_doc[d], tokens.doc_ids[d],
                   tuple(vocab[int(t)] for t in tokens.token_ids[start:stop]),
                   tuple(float(a) for a in acts[start:stop]), int(peak) - start)


def context_windows(store, vocab: list[str], neuron: NeuronRef, *, corpora=None, k: int = 6,
                    radius: int = 12) -> tuple[Context, ...]:
    """Windows around the ``k`` most active tokens (one per document) of ``corpora`` (default all)."""
    acts = store.token_activations(neuron).astype(np.float64)
    if corpora:
        doc = store.tokens.doc_index_per_token()
        allowed = np.isin(doc, np.concatenate([store.docs_of(c) for c in corpora]))
        acts_for_choice = np.where(allowed, acts, -np.inf)
    else:
        acts_for_choice = acts
    return tuple(context_window(store, vocab, acts, int(peak), radius)
                 for peak in top_contexts(store, acts_for_choice, k, 1) if np.isfinite(acts_for_choice[peak]))


def _top_tokens(store, vocab, neuron, n: int) -> tuple[tuple[str, float, int], ...]:
    acts = np.clip(store.token_activations(neuron).astype(np.float64), 0, None)
    ids = store.tokens.token_ids
    mass = np.bincount(ids, weights=acts, minlength=len(vocab))
    counts = np.bincount(ids, minlength=len(vocab))
    total = mass.sum()
    order = np.argsort(-mass, kind="stable")[:n]
    return tuple((vocab[int(t)], float(mass[t] / total) if total > 0 else 0.0, int(counts[t]))
                 for t in order if mass[t] > 0)


def corpus_means(store, neuron: NeuronRef, *, ci_resamples: int = 999, seed: int = 0) -> tuple[CorpusMean, ...]:
    """Mean over documents per corpus with a document-level bootstrap CI (percentile), highest first."""
    means = store.doc_means(neuron)
    out = []
    for i, c in enumerate(store.corpora):
        x = means[store.docs_of(c)]
        x = x[np.isfinite(x)]
        if len(x) >= 2:
            ci = mean_ci(x, n_resamples=ci_resamples, seed=seed + i)
            low, high = float(ci.low), float(ci.high)
        else:
            low = high = float(x.mean()) if len(x) else float("nan")
        out.append(CorpusMean(c, float(x.mean()) if len(x) else float("nan"), low, high, len(x)))
    return tuple(sorted(out, key=lambda m: -np.nan_to_num(m.mean, nan=-np.inf)))


def neuron_view(store, vocab: list[str], neuron: NeuronRef, *, model: str, k: int = 6, radius: int = 12,
                n_tokens: int = 10, claims=(), ci_resamples: int = 999, seed: int = 0,
                profiles=None, scale: float | None = None, scale_on: str | None = None,
                split_contexts: bool = True) -> NeuronView:
    """The view of ``neuron``. Its scale is the claims' own (:meth:`EvaluationContext.scale_of`): on
    the reference when ``profiles`` (a ReferenceProfiles) is given, else on ``store``'s split; or
    ``scale`` when given (``show.neuron_scales``, the same function on a store of every corpus), measured
    where ``scale_on`` says. ``split_contexts``: the split's top ``k`` contexts (hunt's pages); ``show``
    adds per-corpus contexts and histograms instead (:mod:`polytests.commands.neuron_parts`).
    """
    if scale is None:
        scale = EvaluationContext(store, vocab, profiles=profiles).scale_of(neuron)
    means = corpus_means(store, neuron, ci_resamples=ci_resamples, seed=seed)
    return NeuronView(neuron, store.site, store.split, model, scale, means,
                      _top_tokens(store, vocab, neuron, n_tokens),
                      context_windows(store, vocab, neuron, k=k, radius=radius) if split_contexts else (),
                      tuple(claims), scale_on or ("reference" if profiles is not None else "split"))