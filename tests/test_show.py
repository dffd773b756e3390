"""`polytests show` as Neuroscope's page (#26): several neurons, per-corpus top and least-activating
contexts, histograms, direct logit attribution, the user's own text, and the scale hunt and the
claims use. Each check compares against a computation made here, independently of the command."""

from __future__ import annotations

import csv
import io
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
TEXT = ("Patients with fever of unknown origin were admitted.\n      PROGRAM MAIN\n      REAL X\n"
        "Y la luna en el mar riela.")


@pytest.fixture(scope="module")
def small_corpora(tmp_path_factory):
    """Ten explore documents of three corpora (cut short, so the tests stay quick)."""
    return explore_excerpts(tmp_path_factory.mktemp("corpora"), CORPORA, 10, 1200)


@pytest.fixture(scope="module")
def model():
    from polytests.engine.models import load_model

    return load_model("embedded", device="cpu")


def _settings(small_corpora, cache, **changes) -> Settings:
    return Settings(corpora=str(small_corpora), cache_dir=str(cache), resamples=99, root=str(ROOT),
                    hypotheses=(str(cache / "no-hypotheses"),), device="cpu", **changes)


def _views(settings, model, neurons, **request):
    from polytests.commands.show import ShowRequest, show_views

    return list(show_views(settings, model, ShowRequest(tuple(NeuronRef.parse(n) for n in neurons), **request)))


def _direct_activations(model, text: str, neuron: NeuronRef) -> np.ndarray:
    """The neuron's activation on every token of ``text``: one forward pass of the bridge with a
    TransformerLens hook at the model's activation site, the window starting with its BOS."""
    import torch

    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    prefix = list(model.input_format.prefix)
    assert len(prefix) + len(ids) <= model.n_ctx  # one window, as the command reads it
    seen = {}

    def hook(value, hook):
        seen["acts"] = value[0, len(prefix):, neuron.index].detach().to(torch.float64).numpy().copy()

    with torch.no_grad():
        model.bridge.run_with_hooks(torch.tensor([prefix + ids]), fwd_hooks=[(model.activation_site(neuron.layer),
                                                                              hook)], return_type=None)
    return seen["acts"]


def test_logit_attribution_equals_w_out_times_w_u_from_the_safetensors(model):
    from safetensors.numpy import load_file

    from polytests.commands.logit_attribution import logit_attribution
    from polytests.engine.models.loaded import EMBEDDED_MODEL_DIR
    from polytests.engine.tokenization import vocab_of

    weights = load_file(str(EMBEDDED_MODEL_DIR / "model.safetensors"))
    vocab = vocab_of(model)
    for name in ("L0N5", "L3N183"):
        neuron = NeuronRef.parse(name)
        w_out = weights[f"blocks.{neuron.layer}.mlp.out.weight"].astype(np.float64)[:, neuron.index]  # [d_model]
        effects = weights["unembed.weight"].astype(np.float64) @ w_out  # [d_vocab]
        order = np.argsort(-effects, kind="stable")
        got = logit_attribution(model, neuron, vocab, k=8)
        assert got.unavailable is None
        assert [i for i, _, _ in got.promoted] == order[:8].tolist()
        assert [i for i, _, _ in got.suppressed] == order[::-1][:8].tolist()
        np.testing.assert_allclose([v for _, _, v in got.promoted], effects[order[:8]], rtol=1e-6)
        np.testing.assert_allclose([v for _, _, v in got.suppressed], effects[order[::-1][:8]], rtol=1e-6)
        assert [t for _, t, _ in got.promoted] == [vocab[i] for i in order[:8]]
        assert "final LayerNorm ignored" in got.note


def test_logit_attribution_says_why_when_the_model_has_no_readable_weights(model):
    from types import SimpleNamespace

    from polytests.commands.logit_attribution import logit_attribution

    no_out = SimpleNamespace(name="odd", is_causal_lm=True, is_solu_ln=False,
                             bridge=SimpleNamespace(blocks=[SimpleNamespace(mlp=SimpleNamespace())]))
    got = logit_attribution(no_out, NeuronRef(0, 1), [], k=3)
    assert got.promoted == () and "no readable MLP output weights" in got.unavailable
    encoder = SimpleNamespace(name="enc", is_causal_lm=False, bridge=model.bridge)
    assert "not a plain unembedding" in logit_attribution(encoder, NeuronRef(0, 1), [], k=3).unavailable


def test_show_text_shades_the_users_tokens_with_their_activations(small_corpora, model, tmp_path, monkeypatch):
    from polytests.commands.neuron_view import token_colour

    settings = _settings(small_corpora, tmp_path / "cache")
    monkeypatch.setattr("sys.stdin", io.StringIO(TEXT))
    from polytests.commands.show import read_user_text

    views = _views(settings, model, ["L3N183", "L0N5"], text=read_user_text("-"), contexts=1)
    ids = model.tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    for view in views:
        (run,) = view.texts
        direct = _direct_activations(model, TEXT, view.neuron)
        assert run.source == "stdin" and len(run.tokens) == len(ids) == len(direct)
        assert "".join(run.tokens) == model.tokenizer.decode(ids)
        np.testing.assert_allclose(run.acts, direct, atol=1e-4, rtol=1e-4)
        # The terminal: each token on the background of its own activation, on the view's colour scale.
        shaded = run.rich(view.shade).renderables[1]
        assert shaded.plain == "".join(t.replace("\n", "↵") for t in run.tokens)
        for span, a in zip(shaded.spans, direct, strict=True):
            got = str(span.style).split("on #")[1][:6]
            want = token_colour(float(a), view.shade, hex_form=True)[1:]
            assert max(abs(int(got[i:i + 2], 16) - int(want[i:i + 2], 16)) for i in (0, 2, 4)) <= 1
        # The HTML: one titled span per token with its activation.
        block = view.to_html().split("<div class='yourtext'>")[1].split("</div></div>")[0]
        titles = [float(v) for v in re.findall(r"title='[^']*: (-?[0-9.e+-]+)'", block)]
        np.testing.assert_allclose(titles, direct, rtol=1e-3, atol=1e-6)


def test_hunt_and_show_take_the_same_scale_as_the_claims(small_corpora, model, tmp_path):
    from polytests.claims.evaluate import neuron_scale
    from polytests.commands.hunt import scale_top_k, scan_responses
    from polytests.engine.activations import CollectionRequest
    from polytests.engine.reference import settings_profiles
    from polytests.engine.store import open_store, split_documents
    from polytests.engine.tokenization import tokenize_documents

    neuron = NeuronRef(3, 183)
    # The embedded model's fixed reference: hunt's scan (as `polytests hunt` calls it) and show agree exactly.
    settings = _settings(small_corpora, tmp_path / "cache")
    profiles = settings_profiles(settings, model, "explore")
    assert profiles is not None
    store = open_store(settings, model, "explore", CollectionRequest(layers=(3,)), progress=False)
    hunt_scale = scan_responses(store, (3,), min_effect=0.1, n_resamples=99, profiles=profiles).scale[neuron.index]
    (view,) = _views(settings, model, [str(neuron)], contexts=1)
    assert view.scale == hunt_scale and view.scale_on.startswith("reference text, as the claims")
    assert view.scale != pytest.approx(neuron_scale(open_store(
        settings, model, "explore", CollectionRequest(layers=(3,), neurons=(neuron,)), progress=False), neuron))
    # Scales from the corpora (no fixed reference): both take every corpus of the split; show even when
    # it reads only some corpora.
    settings = _settings(small_corpora, tmp_path / "cache", reference="corpora")
    assert settings_profiles(settings, model, "explore") is None
    docs = split_documents(settings, "explore")
    top_k = max(20, scale_top_k(tokenize_documents(model.tokenizer, docs).n_tokens))
    store = open_store(settings, model, "explore", CollectionRequest(layers=(3,), top_k=top_k), documents=docs,
                       progress=False)
    hunt_scale = scan_responses(store, (3,), min_effect=0.1, n_resamples=99).scale[neuron.index]
    (view,) = _views(settings, model, [str(neuron)], contexts=1, names=("fortran",))
    assert view.scale == pytest.approx(hunt_scale, rel=1e-12)
    assert view.scale_on.startswith("explore split, every corpus, as the claims")
    assert [m.corpus for m in view.means] == ["fortran"]
    # ... and `polytests hunt --corpora` with fewer corpora than the split holds (#26): its scan, its CSV
    # and its controls take the scale of every corpus of the split, as the claims' store measures it.
    claims_scale = neuron_scale(open_store(settings, model, "explore",
                                           CollectionRequest(layers=(3,), neurons=(neuron,)), progress=False), neuron)
    assert view.scale == pytest.approx(claims_scale, rel=1e-12)
    subset = ("fortran", "spanish_poetry")
    subset_store = open_store(settings, model, "explore", CollectionRequest(layers=(3,), neurons=(neuron,)),
                              names=subset, progress=False)
    assert neuron_scale(subset_store, neuron) != pytest.approx(claims_scale, rel=1e-3)  # the old hunt's scale
    out = tmp_path / "hunt"
    assert main(["hunt", "--corpora-dir", str(small_corpora), "--corpora", *subset, "--layers", "3", "--k", "1",
                 "--top", "2", "--resamples", "99", "--pictures", "0", "--out", str(out), "--cache-dir",
                 str(tmp_path / "cache"), "--polytests-reference", "corpora"]) == 0
    with (out / "neurons.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["neuron"] == str(neuron)]
    assert sorted(r["corpus"] for r in rows) == sorted(subset)
    assert float(rows[0]["scale"]) == pytest.approx(claims_scale, rel=1e-12)
    for claim in out.glob("*.toml"):  # the controls' scale, written in each candidate's evidence
        (line,) = [x for x in claim.read_text().splitlines() if x.startswith("# smallest gap")]
        name = claim.name.split("-")[0].upper()
        with (out / "neurons.csv").open(newline="") as f:
            scale = next(float(r["scale"]) for r in csv.DictReader(f) if r["neuron"] == name)
        assert f"x scale {scale:.4g}," in line


def test_per_corpus_contexts_are_each_corpus_highest_and_lowest_document_peaks(small_corpora, model, tmp_path):
    from polytests.engine.activations import CollectionRequest
    from polytests.engine.store import open_store

    settings = _settings(small_corpora, tmp_path / "cache")
    neuron = NeuronRef(0, 5)
    (view,) = _views(settings, model, [str(neuron)], contexts=2, bins=12)
    store = open_store(settings, model, "explore", CollectionRequest(layers=(0,), neurons=(neuron,)), progress=False)
    acts = store.token_activations(neuron).astype(np.float64)
    assert [g.corpus for g in view.by_corpus] == [m.corpus for m in view.means]
    for group in view.by_corpus:
        peaks = {}
        for d in store.docs_of(group.corpus):
            start, stop = store.tokens.offsets[d], store.tokens.offsets[d + 1]
            peaks[store.tokens.doc_ids[d]] = acts[start:stop].max()
        ranked = sorted(peaks, key=lambda doc: -peaks[doc])
        assert [c.doc_id for c in group.top] == ranked[:2]
        assert [c.doc_id for c in group.least] == ranked[::-1][:2]
        for c in group.top + group.least:
            assert c.acts[c.peak] == pytest.approx(peaks[c.doc_id]) and c.corpus == group.corpus
    hist = view.histogram
    assert len(hist.edges) == 13 and hist.edges[0] <= acts.min() and hist.edges[-1] == pytest.approx(acts.max())
    for corpus, counts in zip(hist.corpora, hist.counts, strict=True):
        doc = store.tokens.doc_index_per_token()
        values = acts[np.isin(doc, store.docs_of(corpus))]
        assert sum(counts) == len(values)
        assert counts[-1] == int(np.sum(values >= hist.edges[-2]))


def test_show_command_several_neurons_one_model_one_store_and_a_page(small_corpora, tmp_path, capsys, monkeypatch):
    import polytests.engine.store as store_module

    monkeypatch.setenv("COLUMNS", "160")
    calls = {"model": 0, "store": 0}
    load, open_ = store_module.load_settings_model, store_module.open_store

    def counting_load(*a, **k):
        calls["model"] += 1
        return load(*a, **k)

    def counting_open(*a, **k):
        calls["store"] += 1
        return open_(*a, **k)

    monkeypatch.setattr(store_module, "load_settings_model", counting_load)
    monkeypatch.setattr(store_module, "open_store", counting_open)
    text = tmp_path / "mine.txt"
    text.write_text(TEXT, encoding="utf-8")
    page = tmp_path / "show.html"
    code = main(["show", "L0N5", "L3N183", "--corpora-dir", str(small_corpora), "--resamples", "99", "--contexts", "1",
                 "--text", str(text), "--html", str(page), "--cache-dir", str(tmp_path / "cache"),
                 "--hypotheses", str(tmp_path)])
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())
    assert code == 0 and calls == {"model": 1, "store": 1}
    assert "polytests: collecting activations of 2 neuron(s) (layers 0, 3)" in captured.err
    assert "polytests: the view of L3N183 (" in captured.err and "2 neuron view(s) in" in captured.err
    for part in ("L0N5 of", "L3N183 of", "activation histogram per corpus", "least-activating 1 of 10 documents",
                 "direct logit attribution", "final LayerNorm ignored", "your text (mine.txt,", "as the claims and hunt take it"):
        assert part in out, part
    html = page.read_text(encoding="utf-8")
    body = html.split("<body>")[1]
    assert body.count("<section class='neuron'") == 2 and body.count("<img src='data:image/png;base64,") == 2
    assert "<div class='yourtext'>" in body and "promotes" in body and "http" not in body
    for table in re.findall(r"<table>.*?</table>", body):
        assert "<td" in table  # no table without rows (the page opened with an empty header before)
