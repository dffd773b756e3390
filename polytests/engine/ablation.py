"""The ablation engine of one model and one split: per-document loss changes of ablated neurons
(computed by :mod:`polytests.engine.delta_loss`), each computed once, and the layer profiles that
matched null neurons are drawn by. It knows tensors and documents, not claims
(:mod:`polytests.claims.causal` turns its numbers into predicate results)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polytests.engine.activations import CollectionRequest
from polytests.engine.delta_loss import (
    CleanPasses,
    batched_delta_loss,
    received_activations,
    resample_donors,
)
from polytests.engine.reference import POST_SITE, ReferenceProfiles, reference_donors
from polytests.engine.tokenization import TokenizedDocuments, tokenize_documents
from polytests.neurons import NeuronRef


@dataclass
class AblationEngine:
    """Loss changes of ablated neurons for one model and one split, sharing activations and caches."""

    model: object
    documents: list
    explore_documents: list
    cache: object = None
    split: str = "confirm"
    tokens: TokenizedDocuments | None = None  # the documents' tokens, if already tokenized
    # A fixed reference text (polytests.engine.reference): when given, firing rates (null neurons),
    # mean ablation's means and resample ablation's donors come from it, not from the corpora, so
    # a claim's ablation does not change with corpora it does not name.
    profiles: ReferenceProfiles | None = None

    def __post_init__(self) -> None:
        if self.tokens is None:
            self.tokens = tokenize_documents(self.model.tokenizer, self.documents)
        elif self.tokens.doc_ids != tuple(d.id for d in self.documents):
            raise ValueError("tokens were given for other documents than `documents` (or in another order)")
        self._layer_stats: dict[int, object] = {}
        self._deltas: dict[tuple, np.ndarray] = {}
        self._clean: tuple[tuple, CleanPasses] | None = None  # the latest (layer, documents) only

    def _post_store(self, docs, split: str, layer: int, neurons=()):
        from polytests.engine.store import build_store

        request = CollectionRequest(layers=(layer,), neurons=tuple(NeuronRef(layer, n) for n in neurons),
                                    site="blocks.{layer}.mlp.hook_post")
        return build_store(self.model, docs, split, request, cache=self.cache)

    def mean_values(self, layer: int, claimed: tuple[str, ...] = ()) -> np.ndarray:
        """Each neuron's mean hook_post activation over the baseline documents of the explore
        split (every corpus except ``claimed``), document-weighted; with a reference, its
        document-weighted mean over the reference text."""
        if self.profiles is not None:
            return self.profiles.profile(layer, POST_SITE).mean
        store = self._post_store(self.explore_documents, "explore", layer)
        stats = store.collection.stats[layer]
        baseline = ~np.isin(np.asarray(store.tokens.corpus_of_doc), list(claimed))
        with np.errstate(invalid="ignore", divide="ignore"):
            per_doc = stats.sum[baseline] / stats.count[baseline, None]
        return np.nanmean(per_doc, axis=0)

    def deltas(self, layer: int, neurons: list[int], kind: str, seed: int,
               claimed: tuple[str, ...] = (), docs: np.ndarray | None = None) -> np.ndarray:
        """Per-document loss change [neurons, documents of the split]; NaN outside ``docs``.

        Only the documents in ``docs`` (default: all) are run. Each (ablation, neuron,
        documents) is computed once; what defines an ablation is the kind, plus the baseline
        whose mean replaces the neuron (``mean``) or the donor assignment's seed (``resample``).
        """
        docs = np.arange(self.tokens.n_docs) if docs is None else np.asarray(docs)
        variant = ({"mean": tuple(sorted(claimed)), "resample": seed}.get(kind), docs.tobytes())
        missing = [n for n in neurons if (layer, n, kind, variant) not in self._deltas]
        if missing:
            tokens = self.tokens.subset(docs)
            extra = {}
            if kind == "mean":
                extra["means"] = self.mean_values(layer, claimed)
            if kind == "resample" and self.profiles is not None:
                # Donors are reference documents, drawn per document id: no corpus run changes them.
                ref = self.profiles.post_store(layer, missing, cache=self.cache)
                donors = reference_donors([self.tokens.doc_ids[d] for d in docs], ref.tokens.n_docs, seed)
                extra["received"] = {n: [ref.token_activations(NeuronRef(layer, n))[
                    ref.tokens.offsets[j]: ref.tokens.offsets[j + 1]] for j in donors] for n in missing}
            elif kind == "resample":
                # Donors are drawn among all documents of the split, whatever subset is run.
                store = self._post_store(self.documents, self.split, layer, missing)
                donor_acts = {n: store.token_activations(NeuronRef(layer, n)) for n in missing}
                extra["received"] = received_activations(donor_acts, self.tokens,
                                                         resample_donors(self.tokens.n_docs, seed), docs)
            key = (layer, docs.tobytes())
            if self._clean is None or self._clean[0] != key:
                self._clean = (key, CleanPasses())
            result = batched_delta_loss(self.model, tokens, layer, missing, kind, clean_passes=self._clean[1], **extra)
            for n, row in zip(missing, result, strict=True):
                full = np.full(self.tokens.n_docs, np.nan)
                full[docs] = row
                self._deltas[(layer, n, kind, variant)] = full
        return np.stack([self._deltas[(layer, n, kind, variant)] for n in neurons])

    def docs_of(self, corpora) -> np.ndarray:
        corpus = np.asarray([d.corpus for d in self.documents])
        return np.flatnonzero(np.isin(corpus, list(corpora)))

    def layer_profile(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """Each neuron's firing rate (share of tokens > 0) and |mean activation| over the split, or over
        the reference text when there is one."""
        if self.profiles is not None:
            prof = self.profiles.profile(layer, POST_SITE)
            return prof.rate, prof.magnitude
        if layer not in self._layer_stats:
            stats = self._post_store(self.documents, self.split, layer).collection.stats[layer]
            rate = stats.firing_rate[0]  # share of tokens with activation > 0
            magnitude = np.abs(stats.sum.sum(0)) / max(int(stats.count.sum()), 1)
            self._layer_stats[layer] = (rate, magnitude)
        return self._layer_stats[layer]
