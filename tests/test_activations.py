"""The activation engine: aggregates pinned against a direct computation, and the cache."""

from __future__ import annotations

import multiprocessing
import warnings

import numpy as np
import pytest
import torch

from polytests.corpora import load_corpora
from polytests.engine.activations import CollectionRequest, collect
from polytests.engine.aggregates import doc_stats_direct
from polytests.engine.cache import ActivationCache, read_entry
from polytests.engine.store import build_store
from polytests.engine.tokenization import make_windows, tokenize_documents
from polytests.errors import CacheError
from polytests.neurons import NeuronRef


@pytest.fixture(scope="module")
def documents(tiny_corpora):
    return [d for c in load_corpora(tiny_corpora).values() for d in c.documents]


def direct_activations(model, tokens, layer):
    """Every document token's activation at the site, one window at a time (no batching)."""
    rows = []
    site = model.activation_site(layer)
    for w in make_windows(tokens, model.n_ctx):
        s = int(tokens.offsets[w.doc]) + w.start
        ids = [model.bos_token_id] + tokens.token_ids[s : s + w.length].tolist()
        _, cache = model.bridge.run_with_cache(torch.tensor([ids]), names_filter=lambda n: n == site)
        rows.append(cache[site][0, 1:].numpy())
    return np.concatenate(rows)


@pytest.mark.parametrize("exclude", [(), ("."," the")])
def test_aggregates_match_direct_computation(tiny_model, documents, exclude):
    tokens = tokenize_documents(tiny_model.tokenizer, documents[:30])
    excluded = tuple(i for s in exclude for i in tiny_model.tokenizer(s, add_special_tokens=False)["input_ids"])
    request = CollectionRequest(layers=(0, 1), neurons=(NeuronRef(1, 5),), exclude_token_ids=excluded)
    col = collect(tiny_model, tokens, request, max_batch_tokens=256)
    doc = tokens.doc_index_per_token()
    for layer in (0, 1):
        acts = direct_activations(tiny_model, tokens, layer)
        ref = doc_stats_direct(acts, doc, tokens.n_docs, request.thresholds)
        got = col.stats[layer]
        np.testing.assert_array_equal(got.count, ref.count)
        # Batched matmuls round differently from one-row ones: float32 noise only.
        np.testing.assert_allclose(got.sum, ref.sum, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got.sumsq, ref.sumsq, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got.max, ref.max, rtol=1e-5, atol=1e-6)
        assert np.abs(got.above - ref.above).sum() <= 2  # a value within 1e-7 of a threshold may flip
        if excluded:
            keep = ~np.isin(tokens.token_ids, excluded)
            ref_m = doc_stats_direct(acts, doc, tokens.n_docs, request.thresholds, keep=keep)
            np.testing.assert_array_equal(col.masked_stats[layer].count, ref_m.count)
            np.testing.assert_allclose(col.masked_stats[layer].sum, ref_m.sum, rtol=1e-5, atol=1e-5)
            assert ref_m.count.sum() < ref.count.sum()
        if layer == 1:
            np.testing.assert_allclose(col.token_acts[NeuronRef(1, 5)], acts[:, 5], rtol=1e-5, atol=1e-6)
        top = np.sort(acts, axis=0)[::-1][: request.top_k]
        np.testing.assert_allclose(col.topk_values[layer], top, rtol=1e-5, atol=1e-6)


def test_windows_never_cross_documents(tiny_model, documents):
    tokens = tokenize_documents(tiny_model.tokenizer, documents[:10])
    windows = make_windows(tokens, 8)
    per_doc = {}
    for w in windows:
        assert 1 <= w.length <= 7
        assert w.start + w.length <= tokens.offsets[w.doc + 1] - tokens.offsets[w.doc]
        per_doc[w.doc] = per_doc.get(w.doc, 0) + w.length
    assert [per_doc[d] for d in range(tokens.n_docs)] == np.diff(tokens.offsets).tolist()


def test_site_is_recorded_and_overridable(tiny_model, documents):
    tokens = tokenize_documents(tiny_model.tokenizer, documents[:4])
    assert collect(tiny_model, tokens, CollectionRequest(layers=(0,))).site == "blocks.{layer}.mlp.ln.hook_in"
    post = collect(tiny_model, tokens, CollectionRequest(layers=(0,), site="blocks.{layer}.mlp.hook_post"))
    assert post.site == "blocks.{layer}.mlp.hook_post"
    with pytest.raises(ValueError, match="layer"):
        collect(tiny_model, tokens, CollectionRequest(layers=(0,), site="blocks.0.mlp.hook_post"))


def test_unknown_neuron_is_a_clear_error(tiny_model, documents):
    tokens = tokenize_documents(tiny_model.tokenizer, documents[:2])
    with pytest.raises(ValueError, match="layer 7 out of range: the model has 2 layers"):
        collect(tiny_model, tokens, CollectionRequest(layers=(), neurons=(NeuronRef(7, 0),)))


def test_second_build_reads_the_cache(tiny_model, documents, tmp_path):
    cache = ActivationCache(tmp_path)
    request = CollectionRequest(layers=(0,), neurons=(NeuronRef(0, 3),))
    first = build_store(tiny_model, documents, "confirm", request, cache=cache)
    second = build_store(tiny_model, documents, "confirm", request, cache=cache)
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(first.doc_means(NeuronRef(0, 3)), second.doc_means(NeuronRef(0, 3)))
    # Asking for a neuron the entry lacks recomputes once and keeps both.
    more = build_store(tiny_model, documents, "confirm",
                       CollectionRequest(layers=(0,), neurons=(NeuronRef(0, 4),)), cache=cache)
    assert not more.from_cache and {NeuronRef(0, 3), NeuronRef(0, 4)} <= set(more.collection.token_acts)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_cache_is_reported_and_recomputed(tiny_model, documents, tmp_path, damage):
    cache = ActivationCache(tmp_path)
    request = CollectionRequest(layers=(0,), neurons=(NeuronRef(0, 3),))
    clean = build_store(tiny_model, documents, "confirm", request, cache=cache)
    path = tmp_path / next(p.name for p in tmp_path.glob("*.safetensors"))
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-10] ^= 0xFF
    else:
        data = bytearray(b"not a safetensors file")
    path.write_bytes(bytes(data))
    with pytest.raises(CacheError):
        read_entry(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = build_store(tiny_model, documents, "confirm", request, cache=cache)
    messages = [str(w.message) for w in caught if "polytests" in str(w.message)]
    assert len(messages) == 1 and str(path) in messages[0] and "recomputing" in messages[0]
    assert not again.from_cache
    np.testing.assert_allclose(again.doc_means(NeuronRef(0, 3)), clean.doc_means(NeuronRef(0, 3)))
    read_entry(path)  # rewritten whole


def _build_in_subprocess(model_dir, corpora_root, cache_dir, queue):
    from polytests.engine.models import load_model

    model = load_model(str(model_dir))
    docs = [d for c in load_corpora(corpora_root).values() for d in c.documents]
    store = build_store(model, docs, "confirm", CollectionRequest(layers=(0, 1), neurons=(NeuronRef(1, 2),)),
                        cache=ActivationCache(cache_dir))
    queue.put(store.doc_means(NeuronRef(1, 2)).tolist())


def test_concurrent_writers_leave_one_valid_entry(tiny_model_dir, tiny_corpora, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_build_in_subprocess, args=(tiny_model_dir, tiny_corpora, tmp_path, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results[0] == results[1]
    entries = list(tmp_path.glob("*.safetensors"))
    assert len(entries) == 1 and not list(tmp_path.glob("*.tmp"))
    read_entry(entries[0])


@pytest.mark.parametrize("site", [None, "blocks.{layer}.mlp.hook_post"])
def test_the_hook_free_forward_collects_what_the_bridge_hooks_read(tiny_model, documents, site, monkeypatch):
    from polytests.engine.models.fast import fast_forward

    tokens = tokenize_documents(tiny_model.tokenizer, documents[:12])
    request = CollectionRequest(layers=(0, 1), neurons=(NeuronRef(1, 3),), site=site)
    assert fast_forward(tiny_model) is not None
    fast = collect(tiny_model, tokens, request, max_batch_tokens=256)
    monkeypatch.setitem(tiny_model.extra, "fast_forward", None)  # the bridge with hooks
    slow = collect(tiny_model, tokens, request, max_batch_tokens=256)
    for layer in (0, 1):
        # Per-document sums of float32 activations cancel (terms near 100 summing to 0.4), so the two
        # implementations' last-bit differences are judged against the size of the terms.
        scale = float(np.abs(slow.stats[layer].sum).max())
        np.testing.assert_allclose(fast.stats[layer].sum, slow.stats[layer].sum, rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(fast.topk_values[layer], slow.topk_values[layer], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fast.token_acts[NeuronRef(1, 3)], slow.token_acts[NeuronRef(1, 3)], rtol=1e-5,
                               atol=1e-6)


def test_fast_forward_follows_the_model_to_another_dtype(tiny_model):
    # The fast forward caches tensors of the weights; a model moved after a first use gets a new one.
    import torch

    from polytests.engine.models.fast import fast_forward

    first = fast_forward(tiny_model)
    if first is None:
        pytest.skip("the tiny model has no fast forward")
    try:
        tiny_model.bridge.to(torch.float64)
        second = fast_forward(tiny_model)
        assert second is not first
        assert all(p.dtype == torch.float64 for p in second.blocks[0].fc_in)
    finally:
        tiny_model.bridge.to(torch.float32)
        fast_forward(tiny_model)
