"""``polytests atlas --out DIR``: one static, self-contained HTML atlas of a model's neurons.

``index.html`` lists every neuron of the chosen layers with its mean per corpus in units of its
scale and the hunt's flags (the corpora it responds to, by the hunt's scan, and near-silent),
with a filter box (inline JavaScript, no network) over the neuron's name and the corpora it
responds to. Each neuron with a page links to ``neurons/<neuron>.html``: the ``show`` view
(:func:`polytests.commands.show.show_views`), built for the neurons that respond to at least one
corpus (largest effect first) and every ``--neuron`` asked for, at most ``pages`` of them; the
other rows say why they have none. Every file opens from disk alone (inline CSS and scripts,
images as data URIs).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polytests.neurons import NeuronRef

__all__ = ["PAGES", "AtlasRow", "atlas_rows", "build_atlas", "choose_pages", "index_page"]

PAGES = 50  # neuron pages by default: each is a show view (a histogram PNG, contexts of every corpus)

FILTER_SCRIPT = """
const box = document.getElementById('filter');
const rows = Array.from(document.querySelectorAll('#atlas tbody tr'));
function applyFilter() {
  const terms = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const row of rows) {
    const keep = terms.every(t => row.dataset.search.includes(t));
    row.hidden = !keep;
    shown += keep ? 1 : 0;
  }
  document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' neurons shown';
}
box.addEventListener('input', applyFilter);
applyFilter();
"""

ATLAS_STYLE = """
#filter{font-size:1em;padding:.3em .5em;width:28em;max-width:100%} td.nopage{color:#8c959f;font-size:.85em}
.silent{color:#8c959f;font-style:italic} td.resp{font-weight:600}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class AtlasRow:
    """One neuron of the index: its means per corpus in units of its scale and the hunt's flags."""

    neuron: NeuronRef
    scale: float
    over_scale: tuple[float, ...]  # mean / scale per corpus, in the scan's corpus order
    responds: tuple[str, ...]  # the corpora it responds to (the hunt's scan), strongest first
    effect: float  # the scan's smallest gap / scale over those corpora (0: none)
    near_silent: bool
    page: str | None  # relative path of its page
    why_no_page: str = ""


def choose_pages(responses, extra=(), cap: int = PAGES) -> list[NeuronRef]:
    """The neurons that get a page: every one of ``extra`` (asked for by name), then the neurons that
    respond to at least one corpus, most corpora first then largest effect, up to ``cap`` in all."""
    chosen = list(dict.fromkeys(extra))
    found = np.flatnonzero(responses.n_responding > 0)
    ranked = found[np.lexsort((-responses.effect[found], -responses.n_responding[found]))]
    for i in ranked:
        if len(chosen) >= cap:
            break
        if responses.neurons[i] not in chosen:
            chosen.append(responses.neurons[i])
    return chosen


def atlas_rows(responses, silent, pages, cap: int) -> list[AtlasRow]:
    """Every scanned neuron's row: responding neurons first (most corpora, then largest effect), then the
    rest by layer and index; ``pages`` (the neurons with a page) get a link, the others the reason."""
    pages = set(pages)
    rows = []
    for i, neuron in enumerate(responses.neurons):
        scale = float(responses.scale[i])
        over = tuple(float(m / scale) if scale > 0 else float("nan") for m in responses.corpus_means[i])
        responding = responses.responding(i)
        if neuron in pages:
            page, why = f"neurons/{neuron}.html", ""
        elif responding:
            page, why = None, f"no page: beyond the {cap} pages (--pages)"
        else:
            page, why = None, "no page: responds to no corpus (ask with --neuron)"
        rows.append(AtlasRow(neuron, scale, over, responding, float(responses.effect[i]), bool(silent[i]), page, why))
    return sorted(rows, key=lambda r: (-len(r.responds), -r.effect if r.responds else 0.0, r.neuron.layer,
                                       r.neuron.index))


def index_page(rows: list[AtlasRow], corpora, meta: str, title: str = "polytests atlas") -> str:
    """``index.html``: the filter box and one table row per neuron (see the module docstring)."""
    from polytests.reports.html import CSP, STYLE

    head = "".join(f"<th>{_e(c)}</th>" for c in corpora)
    body = []
    for r in rows:
        name = str(r.neuron)
        link = f"<a href='{_e(r.page)}'>{_e(name)}</a>" if r.page else _e(name)
        search = " ".join([name.lower(), *r.responds, "near-silent" if r.near_silent else ""]).strip()
        cells = "".join(f"<td class='num{' resp' if c in r.responds else ''}'>{v:+.3f}</td>"
                        for c, v in zip(corpora, r.over_scale, strict=True))
        silent = "<span class='silent'>near-silent</span>" if r.near_silent else ""
        body.append(f"<tr data-search='{_e(search)}'><td>{link}</td><td class='num'>{r.scale:.4g}</td>{cells}"
                    f"<td>{_e(', '.join(r.responds))}</td><td>{silent}</td>"
                    f"<td class='nopage'>{_e(r.why_no_page)}</td></tr>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
            f"content=\"{CSP}\"><title>{_e(title)}</title><style>{STYLE}{ATLAS_STYLE}</style></head><body>"
            f"<h1>{_e(title)}</h1><p class='meta'>{_e(meta)}</p>"
            "<p><input id='filter' type='search' placeholder='filter: neuron or corpus, e.g. L3N183 or medical' "
            "aria-label='filter neurons'> <span id='shown' class='meta'></span></p>"
            f"<table id='atlas'><thead><tr><th>neuron</th><th>scale</th>{head}<th>responds to</th>"
            f"<th>flags</th><th>page</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<script>{FILTER_SCRIPT}</script></body></html>\n")


def _with_back_link(page: str) -> str:
    return page.replace("<body>", "<body><p><a href='../index.html'>← atlas index</a></p>", 1)


def build_atlas(settings, model, responses, silent, *, out: str | Path, names=None, split: str = "explore",
                extra=(), pages: int = PAGES, contexts: int = 3, logits: int = 10, bins: int = 40,
                hypotheses=(), write: Callable[[str], None] | None = None, silent_below: float | None = None
                ) -> list[Path]:
    """Write the atlas of ``responses`` (the hunt's scan of the layers) into ``out``: the neuron pages
    (show views of :func:`choose_pages`), then ``index.html``; the paths written."""
    from polytests.commands.show import ShowRequest, show_page, show_views

    say = write or (lambda line: None)
    out = Path(out)
    (out / "neurons").mkdir(parents=True, exist_ok=True)
    chosen = choose_pages(responses, extra, pages)
    written = []
    if chosen:
        say(f"polytests atlas: {len(chosen)} neuron page(s) (of {int(np.sum(responses.n_responding > 0))} "
            f"responding neurons; --pages {pages})")
        request = ShowRequest(tuple(chosen), split, tuple(names) if names else None, contexts, logits, bins,
                              tuple(hypotheses))
        for view in show_views(settings, model, request, write=write):
            path = out / "neurons" / f"{view.neuron}.html"
            path.write_text(_with_back_link(show_page(f"{view.neuron}: polytests atlas",
                                                      f"{model.name}, {split} split", [view])), encoding="utf-8")
            written.append(path)
    rows = atlas_rows(responses, silent, chosen, pages)
    r = responses
    meta = (f"{model.name}, {split} split: {len(r.neurons):,} neurons x {len(r.corpora)} corpora. Columns per corpus: "
            f"mean activation per document / the neuron's scale. 'responds to': the corpora whose documents exceed "
            f"the pooled documents of the others by more than {r.min_effect:g} x scale (the hunt's scan, BH q <= "
            f"{r.q:g}); near-silent: scale below {'a fraction' if silent_below is None else f'{silent_below:g} x'} "
            f"the median scale of its layer (docs/hunt.md). "
            f"{len(chosen)} neurons have a page.")
    index = out / "index.html"
    index.write_text(index_page(rows, r.corpora, meta), encoding="utf-8")
    say(f"polytests atlas: wrote {index}")
    return [*written, index]
