"""The claim runner: models, corpora and activation stores for a family of claims.

It loads each model and each corpus split once, collects the activations that
all claims of a (model, split, site) group need in one pass (cached on disk),
evaluates every predicate, and applies the multiple-comparison correction
over the whole family before any verdict is given.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import numpy as np

from polytests.activations import CollectionRequest
from polytests.cache import ActivationCache
from polytests.claims.contexts import top_context_windows
from polytests.claims.evaluate import EvaluationContext, doc_means_by_corpus, evaluate_predicate, top_tokens
from polytests.claims.model import Claim
from polytests.claims.results import ClaimResult, PredicateResult
from polytests.corpora import build_manifest, load_corpora
from polytests.errors import AblationUnsupportedError, ClaimError, PolytestsError
from polytests.settings import Settings
from polytests.stats import adjust_pvalues


def library_versions() -> dict[str, str]:
    import scipy
    import torch
    import transformer_lens

    import polytests

    return {"polytests": polytests.__version__, "torch": torch.__version__,
            "transformer_lens": getattr(transformer_lens, "__version__", "?"), "numpy": np.__version__,
            "scipy": scipy.__version__, "python": platform.python_version()}


@dataclass
class ClaimRunner:
    settings: Settings
    _models: dict = field(default_factory=dict)
    _corpora: dict | None = None
    _corpus_hash: str | None = None
    _stores: dict = field(default_factory=dict)
    _vocab: dict = field(default_factory=dict)
    _ablation: dict = field(default_factory=dict)

    # -- resources, each built once -------------------------------------------------
    def model(self, spec: str):
        from polytests.models import load_model

        if spec not in self._models:
            self._models[spec] = load_model(spec, device=self.settings.device)
        return self._models[spec]

    @property
    def corpora(self) -> dict:
        if self._corpora is None:
            self._corpora = load_corpora(self.settings.path(self.settings.corpora))
        return self._corpora

    @property
    def corpus_hash(self) -> str:
        if self._corpus_hash is None:
            self._corpus_hash = build_manifest(self.corpora).corpus_hash
        return self._corpus_hash

    def vocab(self, model) -> list[str]:
        if model.name not in self._vocab:
            tok = model.tokenizer
            self._vocab[model.name] = [tok.decode([i]) for i in range(int(model.cfg.d_vocab))]
        return self._vocab[model.name]

    def _model_spec(self, claim: Claim) -> str:
        return claim.model if claim.model is not None else self.settings.model

    # -- validation against the model and corpora -----------------------------------
    def check_claim(self, claim: Claim) -> None:
        """Raise ClaimError if the claim names a corpus or neuron that does not exist."""
        known = sorted(self.corpora)
        for c in claim.corpora():
            if c not in self.corpora:
                field_name = next((f"predicate[{i}]" for i, p in enumerate(claim.predicates) if c in p.corpora()),
                                  None)
                raise claim.error(f"unknown corpus {c!r}; known: {', '.join(known)}", field_name,
                                  "use one of the known corpus names (folders of corpora/)")
        try:
            model = self.model(self._model_spec(claim))
        except PolytestsError as exc:
            raise claim.error(str(exc), "model") from exc  # the load error already says the fix
        try:
            claim.neuron.check_against(model.n_layers, model.d_mlp)
        except ValueError as exc:
            raise claim.error(str(exc), "neuron", "name a neuron that exists in the model") from exc
        if claim.needs_ablation and not model.is_causal_lm:
            raise claim.error(
                f"model {model.name} has no causal language-model head, so ablation predicates "
                "(next-token loss) cannot be evaluated", "predicate",
                "remove the ablation_* predicates; activation predicates still work on this model")

    # -- evaluation -------------------------------------------------------------------
    def store(self, model, split: str = "confirm", neurons=(), site: str | None = None):
        """The ActivationStore of ``model`` over a split of the corpora, with per-token values
        for ``neurons`` (NeuronRef or "L2N18"); built once per run and cached on disk."""
        from polytests.neurons import NeuronRef
        from polytests.store import build_store

        key = (model.name, split, site)
        neurons = tuple(sorted({n if isinstance(n, NeuronRef) else NeuronRef.parse(n) for n in neurons}))
        cached = self._stores.get(key)
        if cached is not None and set(neurons) <= set(cached.collection.token_acts):
            return cached
        documents = [d for c in self.corpora.values() for d in c.split(split)]
        request = CollectionRequest(layers=tuple(sorted({n.layer for n in neurons})), neurons=neurons, site=site)
        cache = ActivationCache(self.settings.path(self.settings.cache_dir))
        store = build_store(model, documents, split, request, cache=cache, progress=True)
        self._stores[key] = store
        return store

    def _ablation_engine(self, model, store):
        from polytests.ablation import AblationEngine

        key = (model.name, store.split)
        if key not in self._ablation:
            docs = {s: [d for c in self.corpora.values() for d in c.split(s)] for s in ("explore", store.split)}
            cache = ActivationCache(self.settings.path(self.settings.cache_dir))
            # The store tokenized the same documents in the same order: reuse its tokens.
            self._ablation[key] = AblationEngine(model, docs[store.split], docs["explore"], cache, store.split,
                                                 tokens=store.tokens)
        return self._ablation[key]

    def evaluate_raw(self, claims: list[Claim]) -> dict[str, tuple[list[PredicateResult], dict]]:
        """Predicate results of every claim, before the family correction."""
        groups: dict[tuple, list[Claim]] = {}
        for claim in claims:
            groups.setdefault((self._model_spec(claim), claim.split, claim.site), []).append(claim)
        out = {}
        for (spec, split, site), members in groups.items():
            model = self.model(spec)
            store = self.store(model, split, {c.neuron for c in members}, site)
            ctx = EvaluationContext(store, self.vocab(model), self.settings.resamples, self.settings.seed)
            if any(c.needs_ablation for c in members):
                if not model.is_causal_lm:
                    raise AblationUnsupportedError(f"{model.name} has no language-model head")
                ctx.ablation = self._ablation_engine(model, store)
            for claim in members:
                results = [evaluate_predicate(ctx, claim, i, p) for i, p in enumerate(claim.predicates)]
                meta = {"model": model.name, "model_digest": model.digest, "site": store.site_of(claim.neuron.layer),
                        "split": split, "documents": store.tokens.n_docs, "tokens": store.tokens.n_tokens,
                        "cache": store.cache_path, "from_cache": store.from_cache,
                        "top_tokens": top_tokens(ctx, claim), "doc_means": doc_means_by_corpus(ctx, claim),
                        "contexts": top_context_windows(ctx, claim)}
                out[claim.id] = (results, meta)
        return out

    def evaluate_family(self, claims: list[Claim]) -> dict[str, ClaimResult]:
        """Verdicts for every claim, with the correction applied across all of them."""
        raw = self.evaluate_raw(claims)
        m = len(claims)
        pvalues = []
        for claim in claims:
            results, _ = raw[claim.id]
            if any(r.pvalue is None for r in results):
                pvalues.append(None)
            else:
                pvalues.append(max(r.pvalue for r in results))  # intersection-union over predicates
        filled = np.array([1.0 if p is None else p for p in pvalues])
        adjusted = adjust_pvalues(filled, method=self.settings.correction) if m else filled
        versions = library_versions()
        out = {}
        for claim, p, p_adj in zip(claims, pvalues, adjusted, strict=True):
            results, meta = raw[claim.id]
            alpha = claim.alpha if claim.alpha is not None else self.settings.alpha
            verdict, reason = _verdict(results, p, float(p_adj), alpha, m, self.settings.correction)
            provenance = {k: v for k, v in meta.items() if k not in ("top_tokens", "site", "doc_means", "contexts")}
            provenance.update(corpus_hash=self.corpus_hash, seed=self.settings.seed,
                              resamples=self.settings.resamples, versions=versions)
            out[claim.id] = ClaimResult(
                claim.id, claim.statement, str(claim.neuron), meta["site"], claim.expect, alpha,
                tuple(results), p, None if p is None else float(p_adj), verdict, reason,
                self.settings.correction, m, top_tokens=meta["top_tokens"], doc_means=meta["doc_means"],
                corpora=claim.corpora(), contexts=meta["contexts"], provenance=provenance, source=claim.source, line=claim.line,
            )
        return out


def _verdict(results, p, p_adj: float, alpha: float, m: int, correction: str) -> tuple[str, str]:
    pending = [r for r in results if r.pvalue is None]
    if pending:
        return "inconclusive", f"{pending[0].kind}: {pending[0].inconclusive_reason}"
    missed = [r for r in results if not r.holds_descriptively]
    if missed:
        return "refuted", f"{missed[0].kind}: stated threshold not met ({missed[0].summary})"
    if p_adj <= alpha:
        return "confirmed", f"p={p:.3g}, {correction}-adjusted {p_adj:.3g} <= alpha {alpha:g} (family of {m})"
    floor = max(r.min_pvalue for r in results)
    factor = m if correction in ("holm", "bonferroni") else 1
    if floor * factor > alpha:
        return "inconclusive", (
            f"the design cannot reach alpha={alpha:g}: the smallest attainable p is {floor:.3g}, "
            f"x{factor} after {correction} correction (add documents, resamples or null neurons)")
    worst = max(results, key=lambda r: r.pvalue)
    return "refuted", (f"{worst.kind} not supported: p={p:.3g}, {correction}-adjusted {p_adj:.3g} > "
                       f"alpha {alpha:g} (family of {m})")


__all__ = ["ClaimRunner", "ClaimError", "library_versions"]
