"""Ablation: the batched cheap path equals the naive full forward, and the predicates can fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytests.claims.causal import evaluate_ablation
from polytests.claims.model import (
    AblationHurts,
    AblationSpares,
    AblationSpecific,
    Claim,
)
from polytests.corpora import load_corpora
from polytests.engine.ablation import AblationEngine
from polytests.engine.delta_loss import (
    batched_delta_loss,
    naive_delta_loss,
    received_activations,
    resample_donors,
)
from polytests.engine.tokenization import tokenize_documents
from polytests.neurons import NeuronRef
from polytests.stats.nulls import besag_clifford, matched_null_neurons


@pytest.fixture(scope="module")
def docs(tiny_corpora):
    corpora = load_corpora(tiny_corpora)
    return {s: [d for c in corpora.values() for d in c.split(s)] for s in ("explore", "confirm")}


@pytest.mark.parametrize("kind", ["zero", "mean", "resample"])
@pytest.mark.parametrize("layer", [0, 1])
def test_batched_equals_naive(tiny_model, docs, kind, layer):
    tokens = tokenize_documents(tiny_model.tokenizer, docs["confirm"][:12])
    rng = np.random.default_rng(0)
    extra = {"means": rng.normal(size=tiny_model.d_mlp).astype(np.float32),
             "received": received_activations(
                 {n: rng.normal(size=tokens.n_tokens).astype(np.float32) for n in (3, 7, 11)},
                 tokens, resample_donors(tokens.n_docs, 0))}
    batched = batched_delta_loss(tiny_model, tokens, layer, [3, 7, 11], kind, chunk=2, max_batch_tokens=128, **extra)
    naive = np.stack([naive_delta_loss(tiny_model, tokens, layer, n, kind, **extra) for n in (3, 7, 11)])
    assert np.abs(naive).max() > 1e-4  # the ablation does something
    np.testing.assert_allclose(batched, naive, rtol=1e-4, atol=2e-6)


def test_resample_donors_are_other_documents():
    donors = resample_donors(50, 3)
    assert (donors != np.arange(50)).all() and ((0 <= donors) & (donors < 50)).all()


def test_matched_nulls_are_random_neurons_of_similar_rate_and_never_the_target():
    rate = np.linspace(0, 1, 101)
    nulls = matched_null_neurons(rate, rate.copy(), target=50, k=10, seed=0)
    assert 50 not in nulls and len(set(nulls)) == 10
    assert np.abs(nulls - 50).max() <= 25  # from the half of the layer nearest in firing rate...
    assert np.abs(nulls - 50).max() > 5  # ...drawn at random, not the 10 nearest
    assert len(matched_null_neurons(rate, rate.copy(), target=50, k=499, seed=0)) == 50  # the pool, not the layer
    other = matched_null_neurons(rate, rate.copy(), target=50, k=10, seed=1)
    assert set(other) != set(nulls)


def test_besag_clifford_stops_at_the_h_th_exceedance():
    # Exceedances at positions 2, 5 and 9 (1-based): with h=3, sampling stops at L=9, p = 3/9.
    null = np.array([0, 5, 0, 0, 5, 0, 0, 0, 5, 5, 5], dtype=float)
    assert besag_clifford(null, 4.0, h=3) == (3 / 9, 3, 9)
    # Fewer than h exceedances among all K: the ordinary (1 + exceed) / (K + 1).
    assert besag_clifford(null[:8], 4.0, h=3) == ((1 + 2) / 9, 2, 8)


def _engine(model, docs):
    return AblationEngine(model, docs["confirm"], docs["explore"], cache=None)


def test_zeroed_output_row_has_no_effect(tiny_model_dir, docs):
    from polytests.engine.models import load_model

    model = load_model(str(tiny_model_dir))
    with torch.no_grad():
        model.bridge.blocks[0].mlp.out.weight[:, 9] = 0.0
    engine = _engine(model, docs)
    for kind in ("zero", "mean", "resample"):
        assert np.abs(engine.deltas(0, [9], kind, seed=0)).max() < 1e-6
    claim = Claim("z", "s", NeuronRef(0, 9), (AblationSpares("alpha", margin=0.001),))
    spares = evaluate_ablation(engine, claim, claim.predicates[0], seed=0, n_resamples=999)
    assert spares.pvalue <= 0.01
    hurts = evaluate_ablation(engine, claim, AblationHurts(("alpha",), n_null=19), seed=0, n_resamples=999)
    assert hurts.pvalue > 0.5


@pytest.mark.parametrize("layer", [0, 1])
def test_neuron_made_important_is_detected(tiny_model_dir, docs, layer):
    from polytests.engine.models import load_model

    model = load_model(str(tiny_model_dir))
    engine = _engine(model, docs)
    counts = np.bincount(engine.tokens.token_ids, minlength=int(model.cfg.d_vocab)) + 1.0
    unigram = np.log(counts / counts.sum())
    with torch.no_grad():
        # Neuron 9 is made constant (its LayerNorm weight 0, bias 1) and writes, large, the
        # residual direction whose unembedding best matches the corpus's unigram log-frequencies:
        # the model leans on it for every prediction, so removing it hurts every document.
        mlp = model.bridge.blocks[layer].mlp
        mlp.ln.weight[9], mlp.ln.bias[9] = 0.0, 1.0
        direction = model.bridge.unembed.weight.T @ torch.tensor(unigram - unigram.mean(), dtype=torch.float32)
        mlp.out.weight[:, 9] = 30.0 * torch.nn.functional.normalize(direction, dim=0)
    engine = _engine(model, docs)
    claim = Claim("i", "s", NeuronRef(layer, 9), (AblationHurts(("alpha", "beta"), n_null=39),))
    hurts = evaluate_ablation(engine, claim, claim.predicates[0], seed=0, n_resamples=999)
    assert hurts.numbers["n_null"] == 31  # the half of the layer's other 63 neurons nearest in firing rate
    assert hurts.pvalue == pytest.approx(1 / 32)  # none of them is as important: the rank p floor
    assert hurts.numbers["per_kind"]["zero"]["delta_loss"] > 0.1
    specific = evaluate_ablation(engine, claim, AblationSpecific(("alpha",)), seed=0, n_resamples=999)
    zero = specific.numbers["per_kind"]["zero"]
    # Removing it hurts every document, claimed or not: large, but not specific to alpha.
    assert zero["share_docs_hurt"] == 1.0 and zero["claimed"] > 0.1 and zero["baseline"] > 0.1


def test_ablation_on_an_encoder_is_a_clear_error(tmp_path, tiny_corpora):
    from polytests.claims.api import ablation_hurts, claim
    from polytests.errors import ClaimError
    from polytests.settings import Settings
    from polytests.verdicts.runner import ClaimRunner
    from tests.helpers import write_tiny_native_model

    encoder = write_tiny_native_model(tmp_path / "enc", tiny_corpora, attention_dir="bidirectional")
    runner = ClaimRunner(Settings(model=str(encoder), corpora=str(tiny_corpora), cache_dir=str(tmp_path / "c")))
    c = claim(id="enc", statement="s", neuron="L0N1", model=str(encoder), predicates=[ablation_hurts("alpha")])
    with pytest.raises(ClaimError, match="no causal language-model head.*activation predicates still work"):
        runner.check_claim(c)
    fires = claim(id="enc2", statement="s", neuron="L0N1", model=str(encoder),
                  predicates=[{"kind": "fires_on", "corpus": "alpha"}])
    runner.check_claim(fires)
    assert runner.evaluate_family([fires])["enc2"].verdict in ("confirmed", "refuted", "inconclusive")


def test_mean_ablation_uses_the_baseline_documents_of_explore(tiny_model, docs):
    engine = _engine(tiny_model, docs)
    everything = engine.mean_values(0)
    baseline = engine.mean_values(0, ("alpha",))
    store = engine._post_store(docs["explore"], "explore", 0)
    per_doc = store.collection.stats[0].mean
    others = ~np.isin(np.asarray(store.tokens.corpus_of_doc), ["alpha"])
    np.testing.assert_allclose(baseline, np.nanmean(per_doc[others], axis=0))
    assert not np.allclose(baseline, everything)


def test_subset_of_documents_gives_the_same_deltas(tiny_model, docs):
    engine = _engine(tiny_model, docs)
    subset = engine.docs_of(["beta"])
    for kind in ("zero", "mean", "resample"):
        everything = engine.deltas(1, [4, 8], kind, seed=5, claimed=("beta",))
        some = engine.deltas(1, [4, 8], kind, seed=5, claimed=("beta",), docs=subset)
        np.testing.assert_allclose(some[:, subset], everything[:, subset], rtol=1e-4, atol=1e-6)
        assert np.isnan(np.delete(some, subset, axis=1)).all()


def test_clean_passes_are_kept_between_chunks_and_change_nothing(tiny_model, docs, monkeypatch):
    """Null neurons come chunk by chunk: the clean pass of each batch runs once per (layer,
    documents), and the deltas equal those computed with nothing kept."""
    from polytests.engine import delta_loss as ablation

    tokens = tokenize_documents(tiny_model.tokenizer, docs["confirm"][:10])
    fresh = np.vstack([batched_delta_loss(tiny_model, tokens, 1, part, "zero", max_batch_tokens=128)
                       for part in ([2, 5], [9])])
    calls = []
    real = ablation._clean_pass
    monkeypatch.setattr(ablation, "_clean_pass", lambda *a: calls.append(1) or real(*a))
    kept = ablation.CleanPasses()
    first = batched_delta_loss(tiny_model, tokens, 1, [2, 5], "zero", max_batch_tokens=128, clean_passes=kept)
    n_batches = len(calls)
    assert n_batches > 1
    second = batched_delta_loss(tiny_model, tokens, 1, [9], "zero", max_batch_tokens=128, clean_passes=kept)
    assert len(calls) == n_batches  # the second call ran no clean pass
    np.testing.assert_array_equal(np.vstack([first, second]), fresh)
    # With no room to keep them, every call recomputes; the numbers are the same.
    calls.clear()
    tight = ablation.CleanPasses(max_bytes=0)
    again = batched_delta_loss(tiny_model, tokens, 1, [9], "zero", max_batch_tokens=128, clean_passes=tight)
    batched_delta_loss(tiny_model, tokens, 1, [9], "zero", max_batch_tokens=128, clean_passes=tight)
    assert len(calls) == 2 * n_batches
    np.testing.assert_array_equal(again, second)
    # Kept passes are never read for other documents or another layer: recomputed, same numbers.
    calls.clear()
    other = tokenize_documents(tiny_model.tokenizer, docs["confirm"][10:16])
    np.testing.assert_array_equal(
        batched_delta_loss(tiny_model, other, 1, [9], "zero", max_batch_tokens=128, clean_passes=kept),
        batched_delta_loss(tiny_model, other, 1, [9], "zero", max_batch_tokens=128))
    assert len(calls) > 0
    np.testing.assert_array_equal(
        batched_delta_loss(tiny_model, tokens, 0, [9], "zero", max_batch_tokens=128, clean_passes=kept),
        batched_delta_loss(tiny_model, tokens, 0, [9], "zero", max_batch_tokens=128))


def test_engine_keeps_clean_passes_only_for_the_latest_layer_and_documents(tiny_model, docs, monkeypatch):
    from polytests.engine import delta_loss as ablation

    engine = _engine(tiny_model, docs)
    calls = []
    real = ablation._clean_pass
    monkeypatch.setattr(ablation, "_clean_pass", lambda *a: calls.append(a[3]) or real(*a))
    subset = engine.docs_of(["beta"])
    engine.deltas(1, [1, 2], "zero", seed=0, docs=subset)
    n = len(calls)
    engine.deltas(1, [3, 4], "zero", seed=0, docs=subset)
    assert len(calls) == n
    engine.deltas(0, [3], "zero", seed=0, docs=subset)  # another layer: computed, and now the kept one
    assert len(calls) == 2 * n and set(calls[n:]) == {0}
    engine.deltas(1, [5], "zero", seed=0, docs=subset)
    assert len(calls) == 3 * n


def test_last_layer_shortcut_falls_back_to_logsumexp_where_exponentials_overflow(monkeypatch):
    """Exponentials are taken against the clean logits' maximum; an ablation that moves a logit
    far above it overflows float32, and that block is redone with logsumexp. Checked against the
    loss computed directly in float64 (LayerNorm, unembedding, log-sum-exp)."""
    from polytests.engine import delta_loss as ablation

    gen = torch.Generator().manual_seed(3)
    d_model, vocab, width, n_neurons = 4, 7, 6, 3
    W_U = torch.randn(d_model, vocab, generator=gen) * 300.0  # logits in the hundreds
    W_out = torch.randn(n_neurons, d_model, generator=gen) * 5.0
    resid = torch.randn(2, width, d_model, generator=gen)
    post = torch.randn(2, width, n_neurons, generator=gen) * 4.0
    rows = torch.randint(0, vocab, (2, width), generator=gen)
    final = ablation._FinalLayerNorm(torch.ones(d_model), torch.zeros(d_model), W_U, torch.zeros(vocab), 1e-5)
    calls = []
    real = torch.logsumexp
    monkeypatch.setattr(torch, "logsumexp", lambda *a, **k: calls.append(1) or real(*a, **k))

    def values_for(part):
        return torch.zeros(len(part), *post.shape[:2])

    got = list(ablation._final_layer_losses(final, resid, post, rows, [0, 1, 2], values_for, W_out))
    assert calls, "no block overflowed: the test does not reach the fallback"
    for n, losses in enumerate(got):
        x = (resid + (0.0 - post[..., n : n + 1]) * W_out[n]).double()
        logits = torch.nn.functional.layer_norm(x, (d_model,), eps=1e-5) @ W_U.double()
        expected = real(logits[:, :-1], dim=-1) - logits[:, :-1].gather(-1, rows[:, 1:, None])[..., 0]
        assert torch.isfinite(losses).all()
        np.testing.assert_allclose(losses.double().numpy(), expected.numpy(), rtol=1e-4, atol=1e-2)
