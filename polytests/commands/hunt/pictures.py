"""Pictures of a hunt: the neurons x corpora heatmap, token heatmaps, and one HTML page.

PNG through matplotlib (Agg); the page is self-contained (inline CSS, data-URI images),
like the suite's HTML report, so it opens from disk alone.
"""

from __future__ import annotations

import html

import numpy as np

from polytests.reports.figures import (  # one Agg backend setup for every figure
    png_bytes,
    pyplot,
)
from polytests.reports.html import CSP, STYLE, data_uri

__all__ = ["hunt_page", "response_heatmap", "token_heatmap"]


def heatmap_rows(responses, labelled, max_rows: int = 80) -> list[int]:
    """The rows drawn: the labelled neurons, then the other responding neurons by effect."""
    chosen = [i for i in labelled]
    for i in np.argsort(-responses.effect, kind="stable"):
        if len(chosen) >= max_rows:
            break
        if responses.n_responding[i] > 0 and int(i) not in chosen:
            chosen.append(int(i))
    return chosen


def response_heatmap(responses, labelled: list[int], *, max_rows: int = 80) -> bytes | None:
    """Neurons (rows, clustered) x corpora: each corpus mean minus the neuron's lowest corpus mean, in
    units of the neuron's scale; the labelled neurons named on the axis, responding cells outlined."""
    rows = heatmap_rows(responses, labelled, max_rows)
    if not rows:
        return None
    values = responses.corpus_means[rows]
    scale = np.where(responses.scale[rows] > 0, responses.scale[rows], 1.0)[:, None]
    values = (values - values.min(1, keepdims=True)) / scale
    if len(rows) > 2:
        from scipy.cluster.hierarchy import leaves_list, linkage

        order = leaves_list(linkage(values, method="average", metric="euclidean"))
    else:
        order = np.arange(len(rows))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.1 * len(responses.corpora) + 2.5, 0.16 * len(rows) + 1.8), dpi=100)
    im = ax.imshow(values[order], aspect="auto", cmap="Reds", vmin=0)
    names = {i: str(responses.neurons[i]) for i in labelled}
    ax.set_yticks(range(len(rows)), [names.get(rows[r], "") for r in order], fontsize=7)
    ax.set_xticks(range(len(responses.corpora)), responses.corpora, rotation=35, ha="right", fontsize=8)
    for r, row in enumerate(order):
        for c in responses.order[rows[row], : responses.n_responding[rows[row]]]:
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, lw=0.8, color="black"))
    fig.colorbar(im, ax=ax, label="corpus mean - lowest corpus mean (x scale)", shrink=0.6)
    ax.set_title(f"{len(rows)} responding neurons x corpora (clustered; outlined: responds)", fontsize=9)
    fig.tight_layout()
    return png_bytes(fig)


def token_heatmap(view, *, width: int = 90) -> bytes | None:
    """The view's top contexts as lines of text, each token on a background shaded by activation."""
    if not view.contexts:
        return None
    from polytests.commands.neuron_view import token_colour

    shade = max((abs(a) for c in view.contexts for a in c.acts), default=0.0)
    lines: list[list[tuple[str, float, bool]]] = []
    for c in view.contexts:
        lines.append([(f"{c.corpus} · {c.doc_id}", float("nan"), False)])
        current, used = [], 0
        for i, (tok, a) in enumerate(zip(c.tokens, c.acts, strict=True)):
            text = tok.replace("\n", "↵").replace("\t", "⇥") or " "
            if used + len(text) > width and current:
                lines.append(current)
                current, used = [], 0
            current.append((text, a, i == c.peak))
            used += len(text)
        lines.append(current)
    plt = pyplot()
    char_w, line_h = 0.075, 0.22
    fig = plt.figure(figsize=(width * char_w + 0.4, line_h * len(lines) + 0.6), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width * char_w + 0.4)
    ax.set_ylim(line_h * len(lines) + 0.6, 0)
    ax.axis("off")
    ax.text(0.2, 0.25, f"{view.neuron}: top contexts ({view.split}), red = activation up to {shade:.3g}",
            fontsize=8, weight="bold", va="center")
    for r, line in enumerate(lines):
        y = 0.55 + r * line_h
        x = 0.2
        for text, a, peak in line:
            if np.isnan(a):
                ax.text(x, y, text, fontsize=6.5, color="#57606a", va="center")
                continue
            w = len(text) * char_w
            ax.add_patch(plt.Rectangle((x, y - line_h / 2), w, line_h * 0.95, lw=0.8 if peak else 0,
                                       edgecolor="black", facecolor=token_colour(a, shade, hex_form=True)))
            ax.text(x, y, text, fontsize=7, family="monospace", va="center")
            x += w
    return png_bytes(fig)


def _table(candidates) -> str:
    e = lambda v: html.escape(str(v), quote=True)  # noqa: E731
    rows = []
    for c in candidates:
        cells = [c.neuron, ", ".join(c.corpora), f"{c.effect:.3g}", f"{c.qvalue:.2g}"]
        for ctl in (c.response, c.shared, c.one_token, c.token_matched):
            cells.append(ctl.mark() + (f" p={ctl.p_above:.2g}" if ctl.p_above is not None else ""))
        cls = "v-refuted" if c.is_artifact else "v-confirmed" if c.verdict == "finding" else "v-inconclusive"
        rows.append("<tr>" + "".join(f"<td>{e(x)}</td>" for x in cells)
                    + f"<td class='{cls}'>{e(c.verdict)}</td><td>{e(c.reason)}</td></tr>")
    return ("<table><tr><th>neuron</th><th>responds to</th><th>gap / scale</th><th>q</th><th>response</th>"
            "<th>without shared tokens</th><th>without top token</th><th>token-matched</th><th>verdict</th>"
            "<th>why</th></tr>" + "".join(rows) + "</table>")


def hunt_page(title: str, summary: str, candidates, heatmap: bytes | None, views, token_pngs: dict) -> str:
    """One self-contained HTML page: summary, candidate table, heatmap, then each chosen neuron."""
    e = lambda v: html.escape(str(v), quote=True)  # noqa: E731
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\"><title>{e(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{e(title)}</h1><p class='meta'>{e(summary)}</p>",
             _table(candidates)]
    if heatmap:
        parts.append(f"<figure><img src='{data_uri(heatmap)}' alt='neurons x corpora heatmap'><figcaption>"
                     "Neurons x corpora (rows clustered; candidates labelled; outlined cells: the corpora a neuron "
                     "responds to).</figcaption></figure>")
    for view in views:
        png = token_pngs.get(str(view.neuron))
        parts.append(view.to_html())
        if png:
            parts.append(f"<figure><img src='{data_uri(png)}' alt='{e(view.neuron)} token heatmap'></figure>")
    parts.append("</body></html>\n")
    return "".join(parts)
