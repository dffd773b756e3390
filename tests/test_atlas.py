"""`polytests atlas` (#26): an index of every neuron of the layers with its per-corpus means and the hunt's
flags, linking to show pages; checked against computations made here, and in headless Chromium (the
index loads, every link resolves, the filter box filters, a neuron page renders its token views)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from polytests.cli import main
from polytests.neurons import NeuronRef
from polytests.settings import Settings
from tests.helpers import explore_excerpts

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ("fortran", "spanish_poetry", "medical")
ASKED = "L3N7"  # a page asked for by name (--neuron), whether or not it responds


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    """The atlas of layer 3 on ten short explore documents of three corpora, at most 3 pages (a small
    bound, so that some neurons respond on so few documents)."""
    base = tmp_path_factory.mktemp("atlas")
    corpora = explore_excerpts(base / "corpora", CORPORA, 10, 1200)
    out = base / "atlas"
    argv = ["atlas", "--out", str(out), "--corpora-dir", str(corpora), "--layers", "3", "--pages", "3",
            "--neuron", ASKED, "--min-effect", "0.02", "--resamples", "99", "--contexts", "1", "--logits", "3", "--bins", "10",
            "--cache-dir", str(base / "cache"), "--hypotheses", str(base / "none")]
    return {"out": out, "corpora": corpora, "cache": base / "cache", "argv": argv}


@pytest.fixture(scope="module")
def built(atlas):
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(atlas["argv"])
    assert code == 0, err.getvalue()
    return {**atlas, "stderr": err.getvalue()}


def _rows(index: Path) -> list[dict]:
    """The index's rows, parsed here with regular expressions (independently of the page's script)."""
    page = index.read_text(encoding="utf-8")
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    rows = []
    for tr in re.findall(r"<tr data-search='([^']*)'>(.*?)</tr>", body):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr[1])
        link = re.search(r"href='([^']+)'>([^<]+)</a>", cells[0])
        rows.append({"search": html.unescape(tr[0]), "neuron": link.group(2) if link else cells[0],
                     "page": html.unescape(link.group(1)) if link else None, "scale": float(cells[1]),
                     "over": [float(c) for c in cells[2:2 + len(CORPORA)]],
                     "responds": html.unescape(cells[2 + len(CORPORA)]), "why": html.unescape(cells[-1])})
    return rows


def test_atlas_indexes_every_neuron_with_its_means_and_links_its_pages(built):
    from polytests.engine.activations import CollectionRequest
    from polytests.engine.models import load_model
    from polytests.engine.reference import settings_profiles
    from polytests.engine.store import open_store

    out = built["out"]
    assert "polytests atlas: scanning 512 neurons (layers 3)" in built["stderr"]
    assert "polytests: the view of" in built["stderr"] and "wrote" in built["stderr"]
    rows = _rows(out / "index.html")
    assert sorted(r["neuron"] for r in rows) == sorted(f"L3N{i}" for i in range(512))
    linked = [r for r in rows if r["page"]]
    assert sum(1 for r in rows if r["responds"] and r["neuron"] != ASKED) > 2  # the cap binds
    assert len(linked) == 3 and ASKED in [r["neuron"] for r in linked]
    assert sorted(p.name for p in (out / "neurons").glob("*.html")) == sorted(f"{r['neuron']}.html" for r in linked)
    for r in rows:
        if r["page"]:
            page = (out / r["page"]).read_text(encoding="utf-8")
            assert f"<section class='neuron' id='{r['neuron']}'>" in page and "href='../index.html'" in page
        elif r["responds"]:
            assert r["why"] == "no page: beyond the 3 pages (--pages)"
        else:
            assert r["why"] == "no page: responds to no corpus (ask with --neuron)"
    # the pages beside the asked one go to the responding neurons (the first rows of the index)
    responding = [r["neuron"] for r in rows if r["responds"]]
    assert [r["neuron"] for r in linked if r["neuron"] != ASKED] == [n for n in responding if n != ASKED][:2]
    # means / scale against a computation made here: document means of the neuron, the claims' scale
    settings = Settings(corpora=str(built["corpora"]), cache_dir=str(built["cache"]), resamples=99, root=str(ROOT),
                        device="cpu")
    model = load_model("embedded", device="cpu")
    profiles = settings_profiles(settings, model, "explore")
    for r in linked:
        neuron = NeuronRef.parse(r["neuron"])
        store = open_store(settings, model, "explore", CollectionRequest(layers=(3,), neurons=(neuron,)),
                           progress=False)
        scale = profiles.scale(neuron, store.site)
        assert r["scale"] == pytest.approx(scale, rel=1e-3)
        doc_means = store.doc_means(neuron)
        for corpus, shown in zip(sorted(CORPORA), r["over"], strict=True):
            docs = store.docs_of(corpus)
            docs = docs[store.tokens.offsets[docs + 1] > store.tokens.offsets[docs]]
            assert shown == pytest.approx(np.mean(doc_means[docs]) / scale, abs=6e-4)


FACTS = """JSON.stringify({
  rows: document.querySelectorAll('#atlas tbody tr').length,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  shown: document.getElementById('shown').textContent,
})"""
FILTER = """((term) => {
  const box = document.getElementById('filter');
  box.value = term;
  box.dispatchEvent(new Event('input'));
  return Array.from(document.querySelectorAll('#atlas tbody tr')).filter(r => !r.hidden)
    .map(r => r.cells[0].textContent);
})(%s)"""
TOKENS = """JSON.stringify(Array.from(document.querySelectorAll('.ctx span')).map(s => getComputedStyle(s).backgroundColor))"""


def test_atlas_in_headless_chromium(built, browser):
    out = built["out"]
    rows = _rows(out / "index.html")
    browser.open(out / "index.html")
    facts = json.loads(browser.evaluate(FACTS))
    assert facts["rows"] == 512 and facts["shown"] == "512 of 512 neurons shown"
    assert facts["links"] and all((out / link).is_file() for link in facts["links"]), facts["links"]
    for term in ("fortran", "L3N7", "l3n18 medical", "no-such-neuron"):
        want = [r["neuron"] for r in rows if all(t in r["search"] for t in term.lower().split())]
        assert browser.evaluate(FILTER % json.dumps(term)) == want, term
    assert browser.evaluate(FILTER % json.dumps("no-such-neuron")) == []
    assert browser.evaluate(FILTER % json.dumps("")) == [r["neuron"] for r in rows]
    assert browser.console_errors() == []
    page = out / facts["links"][0]
    browser.open(page)
    assert browser.evaluate("document.location.pathname").endswith(facts["links"][0])
    backgrounds = json.loads(browser.evaluate(TOKENS))
    assert backgrounds and any(b not in ("rgba(0, 0, 0, 0)", "transparent") for b in backgrounds)
    assert browser.evaluate("document.querySelector('a[href=\"../index.html\"]') !== null")
    assert browser.console_errors() == []
    browser.screenshot(out / "neuron-screenshot.png")
