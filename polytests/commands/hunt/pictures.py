"""Pictures of a hunt: the neurons x corpora heatmap, token heatmaps, and one HTML page.

PNG through matplotlib (Agg); the page is self-contained (inline CSS, data-URI images),
like the suite's HTML report, so it opens from disk alone.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from polytests.reports.figures import (  # one Agg backend setup for every figure
    png_bytes,
    pyplot,
)
from polytests.reports.html import CSP, STYLE, data_uri

__all__ = ["Heatmap", "heatmap_of", "hunt_page", "response_heatmap", "token_heatmap"]


def _e(value) -> str:
    return html.escape(str(value), quote=True)


ROWS_PER_FIGURE = 60  # rows of one heatmap PNG: at 0.16 inch a row, every label stays legible
MAX_ROWS = 240  # responding neurons drawn (largest effect first; neurons.csv has every neuron)


def heatmap_rows(responses, labelled, max_rows: int = MAX_ROWS) -> list[int]:
    """The rows drawn: the labelled neurons, then the other responding neurons by effect."""
    chosen = [i for i in labelled]
    for i in np.argsort(-responses.effect, kind="stable"):
        if len(chosen) >= max_rows:
            break
        if responses.n_responding[i] > 0 and int(i) not in chosen:
            chosen.append(int(i))
    return chosen


@dataclass(frozen=True)
class Heatmap:
    """Responding neurons (rows, clustered) x corpora: each corpus mean minus the neuron's lowest corpus
    mean, in units of the neuron's scale. Every row is labelled with its neuron (near-silent ones say
    so); the PNGs hold ``rows_per_figure`` rows each so that labels stay legible at any count; the
    HTML table links every row to the neuron's section of the page (``#L3N183``)."""

    rows: tuple[int, ...]  # indices into the scan's neurons, in drawn (clustered) order
    neurons: tuple[str, ...]
    corpora: tuple[str, ...]
    values: np.ndarray  # [rows, corpora], x scale
    responding: np.ndarray  # [rows, corpora] bool
    silent: np.ndarray  # [rows] bool
    n_responding: int  # responding neurons in the scan (the rows are at most MAX_ROWS of them)
    rows_per_figure: int = ROWS_PER_FIGURE

    def label(self, r: int) -> str:
        return self.neurons[r] + (" (near-silent)" if self.silent[r] else "")

    def title(self) -> str:
        shown = (f"{len(self.rows)} responding neurons" if len(self.rows) >= self.n_responding else
                 f"{len(self.rows)} of {self.n_responding} responding neurons (largest effect)")
        return f"{shown} x corpora (clustered; outlined: responds)"

    def pngs(self) -> list[bytes]:
        """One PNG per ``rows_per_figure`` rows, on one colour scale."""
        return [self._png(start) for start in range(0, len(self.rows), self.rows_per_figure)]

    def _png(self, start: int) -> bytes:
        stop = min(start + self.rows_per_figure, len(self.rows))
        values = self.values[start:stop]
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(1.1 * len(self.corpora) + 3.0, 0.16 * (stop - start) + 1.8), dpi=100)
        im = ax.imshow(values, aspect="auto", cmap="Reds", vmin=0, vmax=max(float(self.values.max()), 1e-12))
        ax.set_yticks(range(stop - start), [self.label(r) for r in range(start, stop)], fontsize=7)
        for tick, r in zip(ax.get_yticklabels(), range(start, stop), strict=True):
            if self.silent[r]:
                tick.set_color("#8c959f")
                tick.set_style("italic")
        ax.set_xticks(range(len(self.corpora)), self.corpora, rotation=35, ha="right", fontsize=8)
        for r in range(start, stop):
            if self.silent[r]:  # near-silent: hatched, its colours are ratios of tiny numbers
                ax.add_patch(plt.Rectangle((-0.5, r - start - 0.5), len(self.corpora), 1, fill=False, lw=0,
                                           hatch="////", edgecolor="#8c959f"))
            for c in np.flatnonzero(self.responding[r]):
                ax.add_patch(plt.Rectangle((c - 0.5, r - start - 0.5), 1, 1, fill=False, lw=0.8, color="black"))
        fig.colorbar(im, ax=ax, label="corpus mean - lowest corpus mean (x scale)", shrink=0.6)
        part = "" if len(self.rows) <= self.rows_per_figure else f"; rows {start + 1}-{stop} of {len(self.rows)}"
        ax.set_title(self.title() + part, fontsize=9)
        fig.tight_layout()
        return png_bytes(fig)

    def to_html(self) -> str:
        """The heatmap as a table: a row per neuron linking to its section, cells shaded like the PNG."""
        top = max(float(self.values.max()), 1e-12)
        head = "".join(f"<th>{_e(c)}</th>" for c in self.corpora)
        rows = []
        for r, name in enumerate(self.neurons):
            cells = "".join(
                f"<td class='num' style='background:rgba(214,39,40,{min(v / top, 1.0):.3f});"
                f"{'outline:2px solid #1f2328;outline-offset:-2px;' if self.responding[r, c] else ''}' "
                f"title='{_e(name)} on {_e(self.corpora[c])}: {v:.3g} x scale'>{v:.2f}</td>"
                for c, v in enumerate(self.values[r]))
            silent = " <span class='silent'>near-silent</span>" if self.silent[r] else ""
            row_class = " class='silent-row'" if self.silent[r] else ""
            rows.append(f"<tr id='heat-{_e(name)}'{row_class}>"
                        f"<th><a href='#{_e(name)}'>{_e(name)}</a>{silent}</th>{cells}</tr>")
        return (f"<h2>heatmap</h2><p class='meta'>{_e(self.title())}: corpus mean - lowest corpus mean, x the "
                "neuron's scale; outlined: the corpora it responds to; each neuron links to its section below."
                f"</p><table class='heat'><tr><th>neuron</th>{head}</tr>{''.join(rows)}</table>")


def heatmap_of(responses, labelled: list[int], silent=None, *, max_rows: int = MAX_ROWS,
               rows_per_figure: int = ROWS_PER_FIGURE) -> Heatmap | None:
    """The :class:`Heatmap` of the responding neurons (the ``labelled`` ones always among them)."""
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
    drawn = [rows[r] for r in order]
    responding = np.zeros((len(drawn), len(responses.corpora)), dtype=bool)
    for r, i in enumerate(drawn):
        responding[r, responses.order[i, : responses.n_responding[i]]] = True
    flags = np.zeros(len(responses.neurons), bool) if silent is None else np.asarray(silent, bool)
    return Heatmap(tuple(drawn), tuple(str(responses.neurons[i]) for i in drawn), tuple(responses.corpora),
                   values[order], responding, flags[drawn], int(np.sum(responses.n_responding > 0)),
                   rows_per_figure)


def response_heatmap(responses, labelled: list[int], *, max_rows: int = MAX_ROWS) -> bytes | None:
    """The first PNG of :func:`heatmap_of` (every row labelled)."""
    heat = heatmap_of(responses, labelled, max_rows=max_rows)
    return heat.pngs()[0] if heat else None


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


HUNT_STYLE = """
table.heat td{min-width:5em} .silent{color:#8c959f;font-style:italic;font-size:.85em}
tr.silent-row th a{color:#8c959f} section.brief{border-top:1px solid #d0d7de;margin-top:1em}
p.none{font-weight:600}
"""


def _candidate_table(result) -> str:
    """The candidates with their controls, or one sentence when there are none."""
    from polytests.commands.hunt.controls import control_cell

    if not result.candidates:
        return (f"<p class='none'>no candidates: no neuron responds to exactly {result.k} of the "
                f"{len(result.responses.corpora)} corpora.</p>")
    index = {n: i for i, n in enumerate(result.responses.neurons)}
    rows = []
    for c in result.candidates:
        i = index[c.neuron]
        silent = " <span class='silent'>near-silent</span>" if result.silent(i) else ""
        cells = [", ".join(c.corpora), f"{c.effect:.3g}", f"{c.qvalue:.2g}"]
        for ctl in (c.response, c.shared, c.one_token, c.token_matched):
            cells.append(control_cell(c, ctl, named=True) + (f" p={ctl.p_above:.2g}" if ctl.p_above is not None else ""))
        cls = "v-refuted" if c.is_artifact else "v-confirmed" if c.verdict == "finding" else "v-inconclusive"
        rows.append(f"<tr><td><a href='#{_e(c.neuron)}'>{_e(c.neuron)}</a>{silent}</td>"
                    + "".join(f"<td>{_e(x)}</td>" for x in cells)
                    + f"<td class='{cls}'>{_e(c.verdict)}</td><td>{_e(c.reason)}</td></tr>")
    return (f"<h2>neurons responding to exactly {result.k} corpora: what survives</h2>"
            "<table><tr><th>neuron</th><th>responds to</th><th>gap / scale</th><th>q</th><th>response</th>"
            "<th>without shared tokens</th><th>without top token</th><th>token-matched</th><th>verdict</th>"
            "<th>why</th></tr>" + "".join(rows) + "</table><p class='meta'>A control's number is the effect (x scale) "
            "of the weaker responding corpus under it (named when there are several), the same corpus at every "
            "bound; p: the control's p-value for 'above the bound'.</p>")


def _more_table(result) -> str:
    """Every neuron responding to more than k corpora, linked to its section."""
    r = result.responses
    more = result.more_than_k()
    if not more:
        return f"<p>No neuron responds to more than {result.k} corpora.</p>"
    rows = "".join(f"<tr><td><a href='#{_e(r.neurons[i])}'>{_e(r.neurons[i])}</a>"
                   f"{' <span class=silent>near-silent</span>' if result.silent(i) else ''}</td>"
                   f"<td class='num'>{int(r.n_responding[i])}</td><td>{_e(', '.join(r.responding(i)))}</td>"
                   f"<td class='num'>{r.effect[i]:.3g}</td><td class='num'>{r.q_of(i):.2g}</td></tr>" for i in more)
    return (f"<h2>neurons responding to more than {result.k} corpora ({len(more)})</h2><table><tr><th>neuron</th>"
            f"<th>corpora</th><th>responds to</th><th>gap / scale</th><th>q</th></tr>{rows}</table>")


def _brief(result, i: int) -> str:
    """A short section of a neuron without a full view: its means per corpus and the scan's flags."""
    r = result.responses
    name = str(r.neurons[i])
    scale = float(r.scale[i])
    order = r.order[i]
    responding = set(order[: r.n_responding[i]].tolist())
    rows = "".join(f"<tr><td>{_e(r.corpora[c])}{' (responds)' if c in responding else ''}</td>"
                   f"<td class='num'>{r.corpus_means[i, c]:.4g}</td>"
                   f"<td class='num'>{(r.corpus_means[i, c] / scale if scale > 0 else float('nan')):+.3f}</td></tr>"
                   for c in order)
    silent = (f" Near-silent: its scale is below {result.silent_below:g} x the median scale of layer "
              f"{r.neurons[i].layer}." if result.silent(i) else "")
    responds = ", ".join(r.responding(i)) or "none"
    return (f"<section class='neuron brief' id='{_e(name)}'><h3>{_e(name)}</h3><p class='meta'>scale {scale:.4g}; "
            f"responds to {_e(responds)} (q {r.q_of(i):.2g}).{_e(silent)} Full view: <code>polytests show "
            f"{_e(name)}</code>.</p><table><tr><th>corpus</th><th>mean</th><th>mean / scale</th></tr>{rows}"
            "</table></section>")


def hunt_page(result, heat: Heatmap | None, views, token_pngs: dict, heat_pngs: list[bytes] | None = None) -> str:
    """One self-contained HTML page: summary, candidates (or "no candidates"), the neurons responding
    to more than k corpora, the heatmap with a link on every row, each chosen neuron's view, and a
    short section for every other neuron linked from the page. ``heat_pngs``: ``heat.pngs()`` if drawn already."""
    title = f"polytests hunt: exactly {result.k} of {len(result.responses.corpora)} corpora"
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\"><title>{_e(title)}</title>"
             f"<style>{STYLE}{HUNT_STYLE}</style></head><body><h1>{_e(title)}</h1><p class='meta'>{_e(result.summary())}"
             "</p>", _candidate_table(result), _more_table(result)]
    if heat:
        parts.append(heat.to_html())
        parts.append("<details><summary>the heatmap as pictures (heatmap*.png)</summary>" + "".join(
            f"<figure><img src='{data_uri(png)}' alt='neurons x corpora heatmap {n}'></figure>"
            for n, png in enumerate(heat_pngs if heat_pngs is not None else heat.pngs(), 1)) + "</details>")
    shown = set()
    for view in views:
        png = token_pngs.get(str(view.neuron))
        parts.append(view.to_html())
        shown.add(str(view.neuron))
        if png:
            parts.append(f"<figure><img src='{data_uri(png)}' alt='{_e(view.neuron)} token heatmap'></figure>")
    index = {n: i for i, n in enumerate(result.responses.neurons)}
    linked = [index[c.neuron] for c in result.candidates] + result.more_than_k() + list(heat.rows if heat else ())
    briefs = [_brief(result, i) for i in dict.fromkeys(linked) if str(result.responses.neurons[i]) not in shown]
    if briefs:
        parts.append("<h2>the other neurons on this page</h2>" + "".join(briefs))
    parts.append("</body></html>\n")
    return "".join(parts)
