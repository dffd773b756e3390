"""The hook-free forward used in bulk (ablation) computes what the bridge computes, or is not used."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytests.corpora import load_corpora
from polytests.engine.delta_loss import batched_delta_loss, naive_delta_loss
from polytests.engine.models import load_model
from polytests.engine.models.fast import FastForward, fast_forward
from polytests.engine.tokenization import tokenize_documents
from tests.helpers import write_tiny_native_model


@pytest.fixture(scope="module", params=["solu_ln", "gelu", "relu"])
def model(request, tmp_path_factory, tiny_corpora):
    directory = write_tiny_native_model(tmp_path_factory.mktemp(request.param) / "m", tiny_corpora,
                                        act_fn=request.param, n_layers=3, seed=5)
    return load_model(str(directory))


def _rows(model, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, int(model.cfg.d_vocab), (3, int(model.cfg.n_ctx)), generator=gen)


def test_logits_residuals_and_hook_post_match_the_bridge(model):
    fast = FastForward.of(model)
    assert fast is not None, "the fast forward must cover TransformerLens-native LN models"
    rows = _rows(model)
    captured = {}

    def keep(name):
        def hook(tensor, hook=None):
            captured[name] = tensor.clone()
            return tensor
        return hook

    names = [f"blocks.1.hook_out", "blocks.1.mlp.hook_post"]
    with torch.inference_mode():
        logits = model.bridge.run_with_hooks(rows, fwd_hooks=[(n, keep(n)) for n in names])
        h = fast.run(fast.embed(rows), 0, 0)
        resid, post = fast.block(1, h, post=True)
        got = fast.logits(fast.run(resid, 2))
        loss = fast.token_loss(fast.run(resid, 2), rows)
    torch.testing.assert_close(resid, captured["blocks.1.hook_out"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(post, captured["blocks.1.mlp.hook_post"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got, logits, rtol=1e-5, atol=1e-5)
    expected = -torch.log_softmax(logits[:, :-1], -1).gather(-1, rows[:, 1:, None])[..., 0]
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)


def test_generic_ablation_path_matches_the_naive_forward(model, tiny_corpora):
    docs = [d for c in load_corpora(tiny_corpora).values() for d in c.split("confirm")][:10]
    tokens = tokenize_documents(model.tokenizer, docs)
    assert fast_forward(model) is not None
    batched = batched_delta_loss(model, tokens, 0, [2, 9], "zero", chunk=1, max_batch_tokens=96)
    naive = np.stack([naive_delta_loss(model, tokens, 0, n, "zero") for n in (2, 9)])
    assert np.abs(naive).max() > 1e-4
    np.testing.assert_allclose(batched, naive, rtol=1e-4, atol=2e-6)


def test_a_model_it_does_not_reproduce_gets_no_fast_forward(model, monkeypatch):
    # A weight the fast path would read differently (here: the bridge's unembedding changed
    # after the fast path took its tensors) fails the check on random tokens.
    fast = FastForward._build(model)
    fast.unembed = (fast.unembed[0] * 1.01, fast.unembed[1])
    assert not fast._agrees_with(model)
    monkeypatch.setattr(model.cfg, "positional_embedding_type", "rotary")
    assert FastForward.of(model) is None
