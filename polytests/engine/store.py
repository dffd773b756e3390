"""The ActivationStore: activations of one model over one corpus split, cached.

:func:`build_store` tokenizes the split, looks for a cache entry whose key
matches (model digest, site, token stream, the model's input format, split,
dtype, options), and only
runs the activation engine on a miss. The store then answers the questions
statistics ask: which documents belong to a corpus, per-document means of a
neuron (optionally without some token ids), per-token activations.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from polytests.engine.activations import (
    Collection,
    CollectionRequest,
    collect,
    input_format_of,
    resolve_site,
)
from polytests.engine.aggregates import DocStats
from polytests.engine.cache import ActivationCache, cache_key, write_entry
from polytests.engine.tokenization import TokenizedDocuments, tokenize_documents
from polytests.neurons import NeuronRef
from polytests.settings import Settings

_STAT_FIELDS = ("count", "sum", "sumsq", "max", "above")


@dataclass
class ActivationStore:
    model_name: str
    model_digest: str
    split: str
    tokens: TokenizedDocuments
    collection: Collection
    cache_path: str | None = None
    from_cache: bool = False

    @property
    def site(self) -> str:
        return self.collection.site

    def site_of(self, layer: int) -> str:
        return self.site.format(layer=layer)

    @property
    def corpora(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.tokens.corpus_of_doc)))

    def docs_of(self, corpus: str) -> np.ndarray:
        """Indices of the documents of ``corpus``."""
        return np.flatnonzero(np.asarray(self.tokens.corpus_of_doc) == corpus)

    def token_activations(self, neuron: NeuronRef) -> np.ndarray:
        try:
            return self.collection.token_acts[neuron]
        except KeyError:
            raise KeyError(f"{neuron} was not collected per token; add it to the request") from None

    def doc_means(self, neuron: NeuronRef, keep: np.ndarray | None = None) -> np.ndarray:
        """Mean activation of ``neuron`` in every document (NaN for a document with no kept token).

        Without ``keep`` this reads tier 1; with a boolean ``keep`` over tokens it
        averages the tier-2 activations of the kept tokens.
        """
        if keep is None:
            stats = self.collection.stats[neuron.layer]
            with np.errstate(invalid="ignore", divide="ignore"):
                return stats.sum[:, neuron.index] / stats.count
        acts = self.token_activations(neuron).astype(np.float64)
        doc = self.tokens.doc_index_per_token()
        sums = np.bincount(doc[keep], weights=acts[keep], minlength=self.tokens.n_docs)
        counts = np.bincount(doc[keep], minlength=self.tokens.n_docs)
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums / counts


def _to_arrays(tokens: TokenizedDocuments, col: Collection) -> tuple[dict, dict]:
    arrays = {"tokens.ids": tokens.token_ids, "tokens.offsets": tokens.offsets}
    for prefix, stats in (("stats", col.stats), ("masked", col.masked_stats)):
        for layer, s in stats.items():
            for f in _STAT_FIELDS:
                arrays[f"{prefix}.{layer}.{f}"] = getattr(s, f)
    for layer in col.topk_values:
        arrays[f"topk.{layer}.values"] = col.topk_values[layer]
        arrays[f"topk.{layer}.index"] = col.topk_index[layer]
    for neuron, acts in col.token_acts.items():
        arrays[f"neuron.{neuron}"] = acts
    meta = {
        "site": col.site,
        "doc_ids": list(tokens.doc_ids),
        "corpus_of_doc": list(tokens.corpus_of_doc),
        "layers": sorted(col.stats),
        "masked_layers": sorted(col.masked_stats),
        "neurons": [str(n) for n in col.token_acts],
        "thresholds": list(next(iter(col.stats.values())).thresholds) if col.stats else [],
    }
    return arrays, meta


def _from_arrays(arrays: dict, meta: dict) -> tuple[TokenizedDocuments, Collection]:
    tokens = TokenizedDocuments(
        tuple(meta["doc_ids"]), tuple(meta["corpus_of_doc"]), arrays["tokens.ids"], arrays["tokens.offsets"]
    )
    thresholds = tuple(meta["thresholds"])

    def stats(prefix, layers):
        return {
            L: DocStats(*(arrays[f"{prefix}.{L}.{f}"] for f in _STAT_FIELDS), thresholds) for L in layers
        }

    col = Collection(
        site=meta["site"],
        stats=stats("stats", meta["layers"]),
        masked_stats=stats("masked", meta["masked_layers"]),
        topk_values={L: arrays[f"topk.{L}.values"] for L in meta["layers"]},
        topk_index={L: arrays[f"topk.{L}.index"] for L in meta["layers"]},
        token_acts={NeuronRef.parse(n): arrays[f"neuron.{n}"] for n in meta["neurons"]},
    )
    return tokens, col


def build_store(
    model,
    documents,
    split: str,
    request: CollectionRequest,
    *,
    cache: ActivationCache | None = None,
    progress: bool = False,
    max_batch_tokens: int = 8192,
) -> ActivationStore:
    """Activations of ``model`` over ``documents`` (all of one split), from cache when possible."""
    tokens = tokenize_documents(model.tokenizer, documents)
    site = resolve_site(model, request)
    stream = hashlib.sha256(tokens.token_ids.tobytes() + tokens.offsets.tobytes()).hexdigest()
    key = cache_key(
        model=model.digest, site=site, tokens=stream, inputs=input_format_of(model).key(),
        doc_ids=list(tokens.doc_ids), split=split,
        dtype=str(next(model.bridge.parameters()).dtype), layers=request.all_layers(),
        thresholds=request.thresholds, top_k=request.top_k, exclude=sorted(request.exclude_token_ids),
    )
    if cache is None:
        col = collect(model, tokens, request, progress=progress, max_batch_tokens=max_batch_tokens)
        return ActivationStore(model.name, model.digest, split, tokens, col)

    path = cache.path_for(key, f"{model.name}-{split}")
    with cache.lock_for(path):
        entry = cache.load(path)
        if entry is not None:
            cached_tokens, col = _from_arrays(*entry)
            if set(request.neurons) <= set(col.token_acts):
                return ActivationStore(model.name, model.digest, split, cached_tokens, col, str(path), True)
            # Neurons not cached yet: one new pass collects the union, so the entry only grows.
            request = replace(request, neurons=tuple(sorted(set(request.neurons) | set(col.token_acts))))
        col = collect(model, tokens, request, progress=progress, max_batch_tokens=max_batch_tokens)
        arrays, meta = _to_arrays(tokens, col)
        meta["key"] = key
        write_entry(path, arrays, meta)
    return ActivationStore(model.name, model.digest, split, tokens, col, str(path), False)


def split_documents(settings: Settings, split: str, names=None) -> list:
    """The documents of ``split`` of the settings' corpora folder (``names``: only these corpora)."""
    from polytests.corpora import load_corpora

    corpora = load_corpora(settings.path(settings.corpora), list(names) if names else None)
    return [d for c in corpora.values() for d in c.split(split)]


def open_store(settings: Settings, model, split: str, request: CollectionRequest, *, documents=None,
               names=None, progress: bool = True) -> ActivationStore:
    """The ActivationStore of ``model`` over ``split`` of the settings' corpora (or ``documents``),
    cached in the settings' cache folder: how the runner and every command open one."""
    if documents is None:
        documents = split_documents(settings, split, names)
    cache = ActivationCache(settings.path(settings.cache_dir), lock_timeout=settings.lock_timeout)
    return build_store(model, documents, split, request, cache=cache, progress=progress)


def load_settings_model(settings: Settings, spec: str | None = None):
    """The model of ``spec`` (default: the settings' model) on the settings' device."""
    from polytests.engine.models import load_model

    return load_model(spec or settings.model, device=settings.device, root=settings.root)
