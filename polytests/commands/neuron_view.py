"""What a researcher looks at first about one neuron, read from an ActivationStore.

Its top contexts (windows of tokens around the most active tokens, one per document, each
token with the neuron's activation), its mean per corpus with a document-level bootstrap CI,
and its top token types with their share of the positive activation. A :class:`NeuronView`
draws itself in the terminal (rich) and as an HTML fragment (Neuroscope-style heatmaps).
Pure reads: nothing here feeds a verdict.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

from polytests.claims.evaluate import neuron_scale
from polytests.claims.token_level import top_contexts
from polytests.neurons import NeuronRef
from polytests.stats.effects import mean_ci

__all__ = ["Context", "CorpusMean", "NeuronView", "context_windows", "neuron_view", "token_colour"]


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
    contexts: tuple[Context, ...]
    claims: tuple[str, ...] = field(default=())  # lines naming claims about the neuron
    scale_on: str = "split"  # where the scale was measured: "reference" (as claims do) or "split"

    def __rich_console__(self, console, options):
        from rich.table import Table
        from rich.text import Text

        yield Text(f"{self.neuron} of {self.model} at {self.site.format(layer=self.neuron.layer)}, {self.split} "
                   f"split; scale (99.9th pct |act| on the {self.scale_on}) {self.scale:.4g}", style="bold")
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
        tokens = Table(title="top token types (share of the positive activation on the split)", title_justify="left")
        for col in ("token", "share", "occurrences"):
            tokens.add_column(col, justify="left" if col == "token" else "right")
        for tok, share, count in self.top_tokens:
            tokens.add_row(repr(tok), f"{share:.1%}", f"{count:,}")
        yield tokens
        yield Text("top contexts (tokens shaded by activation; the peak underlined)", style="bold")
        shade = max((abs(a) for c in self.contexts for a in c.acts), default=0.0)
        for c in self.contexts:
            yield Text(f"{c.corpus} · {c.doc_id} · peak {c.acts[c.peak]:.4g}", style="dim")
            line = Text()
            for i, (tok, a) in enumerate(zip(c.tokens, c.acts, strict=True)):
                style = f"on {token_colour(a, shade, hex_form=True)}" + (" underline bold" if i == c.peak else "")
                line.append(tok.replace("\n", "↵").replace("\t", "⇥"), style=style)
            yield line
        yield Text("claims naming it: " + ("none" if not self.claims else ""), style="bold")
        for line in self.claims:
            yield Text("  " + line)

    def to_html(self, heading: str = "h2") -> str:
        e = lambda v: html.escape(str(v), quote=True)  # noqa: E731
        rows = "".join(f"<tr><td>{e(m.corpus)}</td><td class='num'>{m.n_docs}</td><td class='num'>{m.mean:.4g}</td>"
                       f"<td class='num'>[{m.low:.4g}, {m.high:.4g}]</td></tr>" for m in self.means)
        toks = "".join(f"<tr><td><code>{e(repr(t))}</code></td><td class='num'>{s:.1%}</td><td class='num'>{n:,}</td>"
                       f"</tr>" for t, s, n in self.top_tokens)
        shade = max((abs(a) for c in self.contexts for a in c.acts), default=0.0)
        ctx = []
        for c in self.contexts:
            spans = "".join(
                f"<span class='{'peak' if i == c.peak else ''}' style='background:{token_colour(a, shade)}' "
                f"title='{e(repr(t))}: {a:.4g}'>{e(t.replace(chr(10), '↵' + chr(10)))}</span>"
                for i, (t, a) in enumerate(zip(c.tokens, c.acts, strict=True)))
            ctx.append(f"<div class='ctxhead'>{e(c.corpus)} · {e(c.doc_id)} · peak {c.acts[c.peak]:.4g}</div>"
                       f"<div class='ctx'>{spans}</div>")
        claims = "".join(f"<li>{e(line)}</li>" for line in self.claims) or "<li>none</li>"
        return (f"<section class='neuron' id='{e(self.neuron)}'><{heading}>{e(self.neuron)}</{heading}>"
                f"<p class='meta'>{e(self.model)} at {e(self.site.format(layer=self.neuron.layer))}, {e(self.split)} "
                f"split; scale (99.9th pct |act| on the {self.scale_on}) {self.scale:.4g}; red = positive, blue = negative, full colour = "
                f"{shade:.3g}</p><table><tr><th>corpus</th><th>docs</th><th>mean</th><th>95% CI</th></tr>{rows}"
                f"</table><h4>top token types</h4><table><tr><th>token</th><th>share of positive activation</th>"
                f"<th>occurrences</th></tr>{toks}</table><h4>top contexts</h4>{''.join(ctx)}"
                f"<h4>claims naming it</h4><ul>{claims}</ul></section>")


def token_colour(act: float, scale: float, *, hex_form: bool = False) -> str:
    """Red for positive, blue for negative, intensity |act| / scale (white at 0)."""
    share = 0.0 if scale <= 0 else max(-1.0, min(1.0, act / scale))
    if hex_form:
        fade = int(round(255 * (1 - abs(share))))
        return f"#ff{fade:02x}{fade:02x}" if share >= 0 else f"#{fade:02x}{fade:02x}ff"
    return f"rgba(214,39,40,{share:.3f})" if share >= 0 else f"rgba(31,119,180,{-share:.3f})"


def context_windows(store, vocab: list[str], neuron: NeuronRef, *, corpora=None, k: int = 6,
                    radius: int = 12) -> tuple[Context, ...]:
    """Windows around the ``k`` most active tokens (one per document) of ``corpora`` (default all)."""
    acts = store.token_activations(neuron).astype(np.float64)
    tokens = store.tokens
    doc = tokens.doc_index_per_token()
    if corpora:
        allowed = np.isin(doc, np.concatenate([store.docs_of(c) for c in corpora]))
        acts_for_choice = np.where(allowed, acts, -np.inf)
    else:
        acts_for_choice = acts
    out = []
    for peak in top_contexts(store, acts_for_choice, k, 1):
        if not np.isfinite(acts_for_choice[peak]):
            continue
        d = int(doc[peak])
        start = max(int(tokens.offsets[d]), int(peak) - radius)
        stop = min(int(tokens.offsets[d + 1]), int(peak) + radius + 1)
        out.append(Context(tokens.corpus_of_doc[d], tokens.doc_ids[d],
                           tuple(vocab[int(t)] for t in tokens.token_ids[start:stop]),
                           tuple(float(a) for a in acts[start:stop]), int(peak) - start))
    return tuple(out)


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
                profiles=None) -> NeuronView:
    """``profiles`` (a ReferenceProfiles): the scale is the reference's, as claims use; else the split's."""
    scale = profiles.scale(neuron, store.site) if profiles is not None else neuron_scale(store, neuron)
    return NeuronView(neuron, store.site, store.split, model, scale,
                      corpus_means(store, neuron, ci_resamples=ci_resamples, seed=seed),
                      _top_tokens(store, vocab, neuron, n_tokens),
                      context_windows(store, vocab, neuron, k=k, radius=radius), tuple(claims),
                      "reference" if profiles is not None else "split")
