"""The claim runner: models, corpora and activation stores for a family of claims.

It loads each model and each corpus split once, collects the activations that
all claims of a (model, split, site) group need in one pass (cached on disk),
evaluates every predicate, and applies the multiple-comparison correction
over the whole family before any verdict is given.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

from polytests.claims.model import Claim
from polytests.claims.results import ClaimResult, PredicateResult
from polytests.corpora import build_manifest, load_corpora
from polytests.engine.activations import CollectionRequest
from polytests.engine.cache import ActivationCache
from polytests.engine.store import load_settings_model, open_store
from polytests.engine.tokenization import vocab_of
from polytests.errors import (
    AblationUnsupportedError,
    ModelWeightsAbsent,
    PolytestsError,
)
from polytests.neurons import NeuronRef
from polytests.progress import Steps
from polytests.settings import Settings
from polytests.stats import resolution_ok
from polytests.verdicts.decide import claim_pvalues, claim_ranges, decide, refinable
from polytests.verdicts.family import FamilyDecision, family_verdicts

if TYPE_CHECKING:
    from polytests.claims.evaluate import EvaluationContext

# The evaluators (and scipy.stats behind them) are imported where a result is computed: a run
# whose every result is cached never needs them (docs/benchmarks.md, the warm run).


@dataclass
class ClaimRunner:
    settings: Settings
    _models: dict = field(default_factory=dict)
    _model_errors: dict = field(default_factory=dict)
    _corpora: dict | None = None
    _corpus_hash: str | None = None
    _stores: dict = field(default_factory=dict)
    _vocab: dict = field(default_factory=dict)
    _ablation: dict = field(default_factory=dict)
    _contexts: dict = field(default_factory=dict)
    _references: dict = field(default_factory=dict)
    _profiles: dict = field(default_factory=dict)
    _result_cache: object = None
    # Where progress lines go (the plugin sets the terminal, throttled under -q; None: silent).
    progress: Callable[[str], None] | None = None
    _started: float = field(default_factory=time.time)

    # -- resources, each built once -------------------------------------------------
    def model(self, spec: str):
        """The model of ``spec`` (a relative path is read from the project root), loaded once; two
        specs of the same weights share one model."""
        if spec in self._model_errors:
            raise self._model_errors[spec]  # tried once: every claim of this spec gets the same error
        if spec not in self._models:
            _share_cores_between_workers()
            try:
                loaded = load_settings_model(self.settings, spec)
            except PolytestsError as exc:
                self._model_errors[spec] = exc
                raise
            self._models[spec] = next((m for m in self._models.values() if m.digest == loaded.digest), loaded)
        return self._models[spec]

    @property
    def corpora(self) -> dict:
        if self._corpora is None:
            self._corpora = load_corpora(self.settings.path(self.settings.corpora))
        return self._corpora

    @property
    def corpus_hash(self) -> str:
        if self._corpus_hash is None:
            self._corpus_hash = build_manifest(self.corpora, with_sources=False).corpus_hash
        return self._corpus_hash

    def vocab(self, model) -> list[str]:
        if model.digest not in self._vocab:
            self._vocab[model.digest] = vocab_of(model)
        return self._vocab[model.digest]

    def reference(self, model, split: str = "confirm"):
        """The reference text of ``model`` (settings ``reference``): fixed, or the split's documents."""
        from polytests.engine.reference import resolve_reference

        key = (model.digest, split)
        if key not in self._references:
            self._references[key] = resolve_reference(
                self.settings.reference, model, self.settings.root,
                lambda: [d for c in self.corpora.values() for d in c.split(split)], lambda: self.corpus_hash)
        return self._references[key]

    def profiles(self, model, split: str = "confirm"):
        """Per-neuron scales and rates on a fixed reference; None when the reference is the corpora
        (then scales come from the store's split, as before there was a reference)."""
        from polytests.engine.reference import ReferenceProfiles

        reference = self.reference(model, split)
        if not reference.fixed:
            return None
        key = (model.digest, reference.sha256)
        if key not in self._profiles:
            self._profiles[key] = ReferenceProfiles(model, reference, self.settings.path(self.settings.cache_dir))
        return self._profiles[key]

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
        except ModelWeightsAbsent:
            raise  # not on this machine: the claim is skipped, not failed
        except PolytestsError as exc:
            raise claim.error(str(exc), "model") from exc  # the load error already says the fix
        from polytests.engine.reference import ReferenceTextError

        try:
            self.reference(model, claim.split)
        except ReferenceTextError as exc:
            raise claim.error(f"[tool.polytests] reference: {exc}") from exc
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
        key = (model.digest, split, site)  # the digest: two models may share a name
        neurons = tuple(sorted({n if isinstance(n, NeuronRef) else NeuronRef.parse(n) for n in neurons}))
        cached = self._stores.get(key)
        if cached is not None and set(neurons) <= set(cached.collection.token_acts):
            return cached
        if cached is not None:  # a later call with other neurons: keep the ones the run already has
            neurons = tuple(sorted(set(neurons) | set(cached.collection.token_acts)))
        documents = [d for c in self.corpora.values() for d in c.split(split)]
        request = CollectionRequest(layers=tuple(sorted({n.layer for n in neurons})), neurons=neurons, site=site)
        store = open_store(self.settings, model, split, request, documents=documents)
        self._stores[key] = store
        return store

    def _ablation_engine(self, model, store):
        from polytests.engine.ablation import AblationEngine

        key = (model.digest, store.split)
        if key not in self._ablation:
            docs = {s: [d for c in self.corpora.values() for d in c.split(s)] for s in ("explore", store.split)}
            cache = ActivationCache(self.settings.path(self.settings.cache_dir), lock_timeout=self.settings.lock_timeout)
            # The store tokenized the same documents in the same order: reuse its tokens.
            self._ablation[key] = AblationEngine(model, docs[store.split], docs["explore"], cache, store.split,
                                                 tokens=store.tokens, profiles=self.profiles(model, store.split))
        return self._ablation[key]

    def _results_cache(self):
        if self._result_cache is None:
            from polytests.engine.result_cache import ResultCache

            self._result_cache = ResultCache(self.settings.path(self.settings.cache_dir) / "results",
                                             lock_timeout=self.settings.lock_timeout)
        return self._result_cache

    def _result_path(self, claim: Claim, model, resamples: int | None = None):
        from polytests.engine.result_cache import result_key

        s = self.settings
        key = result_key(claim, model_digest=model.digest, corpus_hash=self.corpus_hash,
                         settings={"reference": self.reference(model, claim.split).sha256, "seed": s.seed,
                                   "resamples": resamples or s.resamples, "min_effect": s.min_effect,
                                   "min_effect_loss": s.min_effect_loss, "alpha": s.alpha})
        return self._results_cache().path_for(claim.id, key)

    def _load_result(self, path):
        """A cached raw result; with ``recompute``, only one written during this run (by another worker)."""
        if self.settings.recompute:
            try:
                if path.stat().st_mtime < self._started:
                    return None
            except OSError:
                return None
        hit = self._results_cache().load(path)
        if hit is not None:
            results, meta = hit
            # Nothing was collected or computed for it this run: both caches served it.
            hit = (results, {**meta, "result_from_cache": True, "from_cache": True})
        return hit

    def _group_context(self, group: tuple, members: list[Claim]) -> EvaluationContext:
        """The activations and settings a group of claims (one model, split, site) is judged with."""
        from polytests.claims.evaluate import EvaluationContext

        known = self._contexts.get(group)
        if known is not None and (not {c.neuron for c in members} <= set(known.store.collection.token_acts)
                                  or (known.ablation is None and any(c.needs_ablation for c in members))):
            del self._contexts[group]  # judged again with other claims (a selection, then a check)
        if group not in self._contexts:
            spec, split, site = group
            model = self.model(spec)
            store = self.store(model, split, {c.neuron for c in members}, site)
            ctx = EvaluationContext(store, self.vocab(model), self.settings.resamples, self.settings.seed,
                                    min_effect=self.settings.min_effect,
                                    min_effect_loss=self.settings.min_effect_loss, alpha=self.settings.alpha,
                                    profiles=self.profiles(model, split))
            if any(c.needs_ablation for c in members):
                if not model.is_causal_lm:
                    raise AblationUnsupportedError(f"{model.name} has no language-model head")
                ctx.ablation = self._ablation_engine(model, store)
            self._contexts[group] = ctx
        return self._contexts[group]

    def _compute(self, group: tuple, members: list[Claim], claim: Claim) -> tuple[list[PredicateResult], dict]:
        from polytests.claims.contexts import doc_means_by_corpus, top_context_windows, top_tokens
        from polytests.claims.evaluate import evaluate_predicate

        ctx = self._group_context(group, members)
        model, store, split = self.model(group[0]), ctx.store, group[1]
        results = [evaluate_predicate(ctx, claim, i, p) for i, p in enumerate(claim.predicates)]
        meta = {"model": model.name, "model_digest": model.digest, "site": store.site_of(claim.neuron.layer),
                "split": split, "documents": store.tokens.n_docs, "tokens": store.tokens.n_tokens,
                "cache": store.cache_path, "from_cache": store.from_cache, "result_from_cache": False,
                "top_tokens": top_tokens(ctx, claim), "doc_means": doc_means_by_corpus(ctx, claim),
                "contexts": top_context_windows(ctx, claim),
                **self.reference(model, split).describe(),
                # the scale the bounds used (activation predicates carry it); none for ablation-only claims
                "scale": next((r.numbers["scale"] for r in results if "scale" in r.numbers), None)}
        return results, meta

    def evaluate_raw(self, claims: list[Claim]) -> dict[str, tuple[list[PredicateResult], dict]]:
        """Predicate results of every claim, before the family correction.

        A claim whose result is in the result cache (same claim, model, corpora,
        settings and code) is read, not recomputed. Under pytest-xdist the workers
        share the rest: each takes the claims no other worker holds (its own share
        first), then waits for and reads the others'.
        """
        groups: dict[tuple, list[Claim]] = {}
        for claim in claims:
            groups.setdefault((self._model_spec(claim), claim.split, claim.site), []).append(claim)
        out: dict[str, tuple[list[PredicateResult], dict]] = {}
        work = []
        for group, members in groups.items():
            model = self.model(group[0])
            for claim in members:
                path = self._result_path(claim, model)
                hit = self._load_result(path)
                if hit is not None:
                    out[claim.id] = hit
                else:
                    work.append((group, members, claim, path))
        deferred = []
        steps = Steps(self.progress, len(work))
        if out and work and self.progress is not None:
            self.progress(f"polytests: {len(out)} claim(s) read from the result cache, {len(work)} to compute")
        done = 0
        for item in _worker_share_first(work):
            lock = self._results_cache().lock(item[3], wait=False)
            if lock is None and self._results_cache().usable:
                deferred.append(item)  # another worker holds it
                continue
            steps(done, f"claim {item[2].id}: {_stages(item[2])}")
            out[item[2].id] = self._compute_or_read(item, lock)
            done += 1
        for item in deferred:
            steps(done, f"claim {item[2].id}: waiting for the worker that computes it")
            out[item[2].id] = self._compute_or_read(item, self._results_cache().lock(item[3], wait=True))
            done += 1
        if work:
            steps.finish(f"{len(work)} claim(s) computed")
        return {c.id: out[c.id] for c in claims}

    def _family(self, claims: list[Claim], raw: dict) -> list[FamilyDecision]:
        """The family's adjusted p-values; a claim without a result (not computed in a selection) has
        no predicate results, so it enters with p = 1 on both sides, as an untestable claim does."""
        results = [raw[c.id][0] if c.id in raw else [] for c in claims]
        return family_verdicts([claim_pvalues(r) for r in results], [claim_ranges(r) for r in results],
                               self.settings.correction)

    def _refined(self, claim: Claim, claims: list[Claim], meta: dict, resamples: int
                 ) -> tuple[list[PredicateResult], dict]:
        """The claim's predicates again with ``resamples`` resamples (same seeds: the first resamples
        are the same ones), read from or written to the result cache under that count. ``claims``:
        the claims this run computes (the context built for them is reused; the whole family's
        would collect the activations of neurons the selection never names)."""
        group = (self._model_spec(claim), claim.split, claim.site)
        model = self.model(group[0])
        path = self._result_path(claim, model, resamples)
        hit = self._load_result(path)
        if hit is not None:
            return hit
        members = [c for c in claims if (self._model_spec(c), c.split, c.site) == group]
        if self.progress is not None:
            self.progress(f"polytests: claim {claim.id}: its decision is within Monte Carlo error of alpha; "
                          f"resampling again with {resamples:,} resamples")
        from polytests.claims.evaluate import evaluate_predicate

        ctx = dataclasses.replace(self._group_context(group, members), n_resamples=resamples)
        results = [evaluate_predicate(ctx, claim, i, p) for i, p in enumerate(claim.predicates)]
        value = (results, {**meta, "result_from_cache": False, "from_cache": False})
        self._results_cache().save(path, value)
        return value

    def _compute_or_read(self, item, lock):
        group, members, claim, path = item
        try:
            hit = self._load_result(path)
            if hit is not None:
                return hit
            value = self._compute(group, members, claim)
            self._results_cache().save(path, value)
            return value
        finally:
            if lock is not None:
                lock.release()

    def evaluate_family(self, claims: list[Claim], compute: set[str] | None = None) -> dict[str, ClaimResult]:
        """Verdicts for every claim, with the correction applied across all of them.

        Each claim has two one-sided p-values against its bounds: "above" (all
        predicates shown above their bounds: intersection-union, the largest p)
        and "below" (some predicate shown below its bound: Bonferroni over the
        predicates). A claim whose effect sits exactly on its bound has BOTH nulls
        true, so either verdict would be wrong: the family is every claim's two
        hypotheses, 2m in all, and the correction (Holm by default) runs over all of
        them, which bounds the probability of any wrong verdict, confirmed or
        refuted, in the whole family by alpha (see :func:`family_verdicts`). Neither
        side significant after the correction is "inconclusive", never "refuted". A
        decision that the Monte Carlo error of its p-values could reverse is resampled
        again with ten times the resamples (``REFINE_ROUNDS`` times at most); if that does
        not settle it, the claim is "inconclusive", undecided by Monte Carlo resolution.

        ``compute``: the ids of the claims this run selected (a path or ``-k``); None for all. The
        others are read from the result cache where they are there, and otherwise enter the
        correction with p = 1 on both sides without being computed: Holm's (and Bonferroni's, and
        BH's) adjusted p-values are non-decreasing in every input, so a selected claim's adjusted
        p can only be larger than in the full run, never smaller (docs/statistics.md, "Running a
        selection"). Results are returned for the selected claims.
        """
        wanted = [c for c in claims if compute is None or c.id in compute]
        wanted_ids = {c.id for c in wanted}
        raw = self.evaluate_raw(wanted)
        for claim in claims:
            if claim.id not in raw:
                hit = self._load_result(self._result_path(claim, self.model(self._model_spec(claim))))
                if hit is not None:
                    raw[claim.id] = hit
        not_computed = sum(c.id not in raw for c in claims)
        m = len(claims)
        alphas = {c.id: c.alpha if c.alpha is not None else self.settings.alpha for c in claims}
        used = {c.id: self.settings.resamples for c in claims}
        frozen: set[str] = set()  # claims of the family not selected, whose refined result is not cached
        for _ in range(REFINE_ROUNDS):
            family = self._family(claims, raw)
            refine = [c for c, d in zip(claims, family, strict=True)
                      if c.id in raw and c.id not in frozen and not d.resolved(alphas[c.id])
                      and refinable(raw[c.id][0]) and used[c.id] * 10 < MAX_RESAMPLES]
            if not refine:
                break
            for claim in refine:
                more = (used[claim.id] + 1) * 10 - 1
                if claim.id in wanted_ids:
                    raw[claim.id] = self._refined(claim, wanted, raw[claim.id][1], more)
                else:  # not selected: only what the full run cached (it would refine it the same way)
                    hit = self._load_result(self._result_path(claim, self.model(self._model_spec(claim)), more))
                    if hit is None:  # its p-values at the top of their Monte Carlo ranges: never below the full run's
                        frozen.add(claim.id)
                        raw[claim.id] = (_at_range_tops(raw[claim.id][0]), raw[claim.id][1])
                        continue
                    raw[claim.id] = hit
                used[claim.id] = more
        family = self._family(claims, raw)
        sides = [claim_pvalues(raw[claim.id][0] if claim.id in raw else []) for claim in claims]
        from polytests.engine.result_cache import code_versions

        versions = code_versions()  # the libraries' versions and the digest of polytests' own source
        out = {}
        for claim, (above, below), decision in zip(claims, sides, family, strict=True):
            if claim.id not in wanted_ids:  # read or stood in for the correction only; judged when selected
                continue
            results, meta = raw[claim.id]
            alpha = alphas[claim.id]
            verdict, reason = decide(results, above, below, decision, alpha, m, self.settings.correction,
                                     used[claim.id])
            if not_computed and verdict != "confirmed" and verdict != "refuted" and above is not None:
                reason += (f" {not_computed} of the family's {m} claims were not computed in this selection and "
                           "entered the correction at p = 1; the full run (every claim) can only sharpen this")
            provenance = {k: v for k, v in meta.items() if k not in ("top_tokens", "site", "doc_means", "contexts")}
            provenance.update(corpus_hash=self.corpus_hash, seed=self.settings.seed,
                              resamples=used[claim.id], versions=versions,
                              min_effect=self.settings.min_effect, min_effect_loss=self.settings.min_effect_loss,
                              resolution_ok=bool(resolution_ok(self.settings.resamples, alpha, max(2 * m, 1))),
                              family_not_computed=not_computed, claim_digest=claim.digest)
            out[claim.id] = ClaimResult(
                claim.id, claim.statement, str(claim.neuron), meta["site"], claim.expect, alpha,
                tuple(results), above, None if above is None else decision.decision_p, verdict, reason,
                self.settings.correction, m, pvalue_refute=below,
                pvalue_refute_adjusted=None if above is None else decision.below,
                top_tokens=meta["top_tokens"],
                doc_means=meta["doc_means"], corpora=claim.corpora(), provenance=provenance,
                source=claim.source, line=claim.line, contexts=meta.get("contexts", {}),
            )
        return out


def _at_range_tops(results: list[PredicateResult]) -> list[PredicateResult]:
    """Each p-value at the top of its 99.9% Monte Carlo range (exact ones unchanged)."""
    out = []
    for r in results:
        above = r.pvalue_range[1] if r.pvalue_range else r.pvalue
        below = r.pvalue_refute_range[1] if r.pvalue_refute_range else r.pvalue_refute
        out.append(dataclasses.replace(r, pvalue=above, pvalue_refute=below,
                                       pvalue_range=None if above is None else (above, above),
                                       pvalue_refute_range=None if below is None else (below, below)))
    return out


def _stages(claim: Claim) -> str:
    """What computing a claim involves, for its progress line."""
    kinds = ", ".join(p.kind for p in claim.predicates)
    return f"{kinds} on {claim.neuron} ({claim.split} split)"


# Unresolved claims are resampled again with ten times the resamples, at most this often and this far.
REFINE_ROUNDS = 2
MAX_RESAMPLES = 10_000_000


def _share_cores_between_workers() -> None:
    """Under pytest-xdist, each worker's torch uses its share of the cores, so n workers do not
    run n times the cores' worth of threads (which made ``-n 2`` slower than serial)."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if count > 1 and os.environ.get("PYTEST_XDIST_WORKER"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        share = max(1, cores // count)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(share)
        else:  # read by torch when it is imported (a run whose results are all cached never imports it)
            os.environ.setdefault("OMP_NUM_THREADS", str(share))


def _worker_share_first(work: list) -> list:
    """Work items in the order this process takes them: under pytest-xdist, worker w of n
    starts with items w, w+n, w+2n... so the workers begin on different claims."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count < 2:
        return list(work)
    w = int(worker[2:]) % count
    mine = [item for i, item in enumerate(work) if i % count == w]
    return mine + [item for i, item in enumerate(work) if i % count != w]


__all__ = ["ClaimRunner"]
