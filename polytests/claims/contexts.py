"""Top-activating token contexts of a claim's neuron, for reports (Neuroscope-style heatmaps).

Pure reads of an ActivationStore: for the claimed corpora and for the other corpora, the
documents holding the most active tokens, each as a window of token strings with the
neuron's activation on every token. Nothing here feeds a verdict.
"""

from __future__ import annotations

import numpy as np

from polytests.claims.evaluate import EvaluationContext
from polytests.claims.model import Claim
from polytests.claims.token_level import top_contexts


def _window(ctx: EvaluationContext, acts: np.ndarray, peak: int, radius: int, claimed: bool) -> dict:
    store = ctx.store
    tokens = store.tokens
    doc = int(tokens.doc_index_per_token()[peak])
    start = max(int(tokens.offsets[doc]), peak - radius)
    stop = min(int(tokens.offsets[doc + 1]), peak + radius + 1)
    return {"corpus": tokens.corpus_of_doc[doc], "doc_id": tokens.doc_ids[doc], "claimed": claimed,
            "peak": peak - start,
            "tokens": [ctx.vocab[int(t)] for t in tokens.token_ids[start:stop]],
            "acts": [float(f"{a:.4g}") for a in acts[start:stop]]}


def top_context_windows(ctx: EvaluationContext, claim: Claim, per_group: int = 3,
                        radius: int = 12) -> tuple[dict, ...]:
    """Up to ``per_group`` windows (one per document) around the neuron's most active tokens in
    the claimed corpora, then as many from all other corpora; ``radius`` tokens each side."""
    store = ctx.store
    acts = store.token_activations(claim.neuron).astype(np.float64)
    doc = store.tokens.doc_index_per_token()
    claimed_docs = np.concatenate([store.docs_of(c) for c in claim.corpora() if c in store.corpora] or
                                  [np.array([], dtype=np.int64)])
    in_claimed = np.isin(doc, claimed_docs)
    out = []
    for claimed in (True, False):
        mask = in_claimed if claimed else ~in_claimed
        if not mask.any():
            continue
        masked = np.where(mask, acts, -np.inf)
        for peak in top_contexts(store, masked, per_group, 1):
            if np.isfinite(masked[peak]):
                out.append(_window(ctx, acts, int(peak), radius, claimed))
    return tuple(out)


def top_tokens(ctx: EvaluationContext, claim: Claim, k: int = 8) -> tuple[tuple[str, float, str], ...]:
    """The k most activating tokens of the split (one per document), for reports."""
    store = ctx.store
    acts = store.token_activations(claim.neuron)
    chosen = top_contexts(store, acts, k, 1)
    doc = store.tokens.doc_index_per_token()
    return tuple((ctx.vocab[int(store.tokens.token_ids[i])], float(acts[i]),
                  store.tokens.corpus_of_doc[int(doc[i])]) for i in chosen)


def doc_means_by_corpus(ctx: EvaluationContext, claim: Claim) -> dict[str, tuple[float, ...]]:
    """The neuron's mean activation in every document, grouped by corpus (for report figures)."""
    store = ctx.store
    means = store.doc_means(claim.neuron)
    return {c: tuple(float(v) for v in means[store.docs_of(c)] if np.isfinite(v)) for c in store.corpora}
