"""On a machine with CUDA: collection and ablation on the GPU agree with the CPU, for the
embedded model and each family of tests/families.py, and ``device = "auto"`` picks the GPU.

Skipped where there is no GPU (CI has none); run on a GPU machine with
``pytest tests/test_cuda.py`` (docs/models.md records where it last ran).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytests.corpora import load_corpora
from polytests.engine.activations import CollectionRequest, collect
from polytests.engine.delta_loss import (
    batched_delta_loss,
    naive_delta_loss,
    received_activations,
    resample_donors,
)
from polytests.engine.models import load_model
from polytests.engine.tokenization import tokenize_documents
from polytests.neurons import NeuronRef

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def models():
    return load_model("embedded", device="cpu"), load_model("embedded", device="cuda")


@pytest.fixture(scope="module")
def tokens(models):
    corpora = load_corpora("corpora")
    docs = [d for c in corpora.values() for d in c.split("confirm")][::6]
    return tokenize_documents(models[0].tokenizer, docs)


def test_collection_on_cuda_matches_cpu(models, tokens):
    request = CollectionRequest(layers=(0, 3), neurons=(NeuronRef(3, 72),), exclude_token_ids=(14,))
    cpu, gpu = (collect(m, tokens, request) for m in models)
    for layer in (0, 3):
        np.testing.assert_array_equal(cpu.stats[layer].count, gpu.stats[layer].count)
        np.testing.assert_allclose(cpu.stats[layer].sum, gpu.stats[layer].sum, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(cpu.masked_stats[layer].sum, gpu.masked_stats[layer].sum, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(cpu.token_acts[NeuronRef(3, 72)], gpu.token_acts[NeuronRef(3, 72)],
                               rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("layer", [1, 3])
@pytest.mark.parametrize("kind", ["zero", "mean", "resample"])
def test_ablation_on_cuda_matches_cpu_and_naive(models, tokens, layer, kind):
    rng = np.random.default_rng(0)
    extra = {"means": rng.normal(size=512).astype(np.float32),
             "received": received_activations(
                 {n: rng.normal(size=tokens.n_tokens).astype(np.float32) for n in (5, 72)},
                 tokens, resample_donors(tokens.n_docs, 0))}
    cpu = batched_delta_loss(models[0], tokens, layer, [5, 72], kind, **extra)
    gpu = batched_delta_loss(models[1], tokens, layer, [5, 72], kind, **extra)
    naive = np.stack([naive_delta_loss(models[1], tokens, layer, n, kind, **extra) for n in (5, 72)])
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(gpu, naive, rtol=1e-3, atol=1e-4)


def test_auto_picks_the_gpu(tiny_model_dir):
    model = load_model(str(tiny_model_dir), device="auto")
    assert next(model.bridge.parameters()).device.type == "cuda"


@pytest.mark.parametrize("family", ["gpt2", "llama", "gguf", "bert"])
def test_each_family_on_cuda_matches_cpu(tiny_families, tiny_corpora, family):
    """The models of tests/families.py: activations (and a decoder's ablation) on the GPU agree with the CPU."""
    docs = [d for c in load_corpora(tiny_corpora).values() for d in c.split("confirm")][::3]
    cpu, gpu = (load_model(str(tiny_families[family]), device=d) for d in ("cpu", "cuda"))
    toks = tokenize_documents(cpu.tokenizer, docs)
    request = CollectionRequest(layers=(0, 1), neurons=(NeuronRef(1, 5),))
    a, b = collect(cpu, toks, request), collect(gpu, toks, request)
    np.testing.assert_allclose(a.token_acts[NeuronRef(1, 5)], b.token_acts[NeuronRef(1, 5)], rtol=1e-3, atol=1e-4)
    if cpu.is_causal_lm:
        np.testing.assert_allclose(batched_delta_loss(gpu, toks, 0, [3, 7], "zero"),
                                   batched_delta_loss(cpu, toks, 0, [3, 7], "zero"), rtol=1e-3, atol=1e-5)
