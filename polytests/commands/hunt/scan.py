"""Stage 1 of the hunt: which of the chosen corpora does each neuron respond to?

Only tier-1 data (every neuron's per-document mean) is read, so every neuron of the
requested layers is scanned in one pass of the model. For each neuron the corpora are
sorted by their mean over documents; for each ``m`` (1 .. N-1) one test asks "do the top
``m`` corpora EACH exceed the pooled documents of the other ``N - m`` corpora by more than
the bound?" (intersection-union: the largest of the ``m`` one-sided p-values), times ``C(N, m)``
because the top ``m`` were chosen by looking (Bonferroni over the sets). A neuron
responds to exactly its top ``m*`` corpora, ``m*`` the largest ``m`` whose BH q-value is
at most ``q``; the BH family is every (neuron, m) test of the scan.

Each one-sided p-value tests the claims' estimand (:func:`polytests.stats.bounds.bound_test`,
``pvalue_above``): the shifted relative effect ``theta(bound) > 1/2``, a claimed document
beating a baseline document by more than ``bound = min_effect x scale`` more often than not, so
that a neuron the scan passes is one a claim can confirm. Stage 1 uses the Brunner-Munzel t
approximation (:func:`shift_pvalues_above`), computed along the neuron axis; the claims take the
larger of it and a studentized permutation p, and add an exact sign test over pairs for groups
under 30 documents. That full test is left to stage 2 by default: a Monte Carlo p-value cannot
go below ``1/(B+1)``, and times ``C(N, m)`` that floor sits above every BH threshold of a scan of
thousands of tests (with B = 999, four corpora and 2,048 neurons: 0.006 against 0.05 x R / 6,144),
so it would decide the scan by resolution, not by the data. Stage 2 retests every candidate with
the full test (the claim evaluators). ``permutation=True`` takes the larger of both here too, the
full test only where the approximate p x C(N, m) is at most ``q``: a larger value cannot change
which tests BH rejects (it only ranks above every rejected one). The scan used Welch's test of
the mean difference before: another estimand than the claims', and one no test holds at a
dozen documents of sparse, long-tailed values (docs/statistics.md).

The scale is the neuron's 99.9th-percentile |activation| on the split (as in claims).
When per-token activations of the layer were not collected it is read from the running
top-k activations (``CollectionRequest(top_k=scale_top_k(n_tokens))``): exact whenever the
neuron's largest |activations| are positive, as for SoLU and GELU neurons whose negative
tail is shorter than their positive one; stage 2 (:mod:`polytests.commands.hunt.controls`)
recomputes it exactly for every candidate.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from polytests.claims.evaluate import SCALE_QUANTILE, neuron_scale
from polytests.neurons import NeuronRef
from polytests.stats import adjust_pvalues
from polytests.stats.bounds import bound_test
from polytests.stats.relative import shift_pvalues_above

__all__ = ["LayerScales", "Responses", "layer_scales", "scale_top_k", "scan_responses", "scales_of_layer",
           "shift_pvalues_above"]


def scale_top_k(n_tokens: int) -> int:
    """How many top activations per neuron give the 99.9th percentile of ``n_tokens`` values."""
    return int(math.floor((n_tokens - 1) * (1 - SCALE_QUANTILE))) + 2


def _quantile_from_top(top: np.ndarray, n_tokens: int) -> np.ndarray:
    """numpy's linear quantile at SCALE_QUANTILE from the largest values (sorted descending)."""
    position = (n_tokens - 1) * SCALE_QUANTILE
    lo = int(math.floor(position))
    frac = position - lo
    low = top[n_tokens - 1 - lo].astype(np.float64)
    high = top[max(n_tokens - 2 - lo, 0)].astype(np.float64) if lo + 1 <= n_tokens - 1 else low
    return np.abs(low + frac * (high - low))


def scales_of_layer(store, layer: int, d_mlp: int) -> tuple[np.ndarray, str]:
    """Every neuron's scale on the store's split, and how it was obtained ("exact" or "top-k")."""
    neurons = [NeuronRef(layer, i) for i in range(d_mlp)]
    if all(n in store.collection.token_acts for n in neurons):
        return np.array([neuron_scale(store, n) for n in neurons]), "exact"
    n_tokens = store.tokens.n_tokens
    top = store.collection.topk_values.get(layer)
    needed = scale_top_k(n_tokens)
    if top is None or top.shape[0] < needed:
        have = 0 if top is None else top.shape[0]
        raise ValueError(f"the store of layer {layer} keeps the top {have} activations per neuron; the neuron "
                         f"scale needs {needed} ({n_tokens:,} tokens). Fix: collect with "
                         f"CollectionRequest(top_k=scale_top_k(n_tokens)) or per-token activations")
    return _quantile_from_top(top, n_tokens), "top-k"


@dataclass(frozen=True)
class LayerScales:
    """Every neuron's scale per layer, measured on another store than the scan's: the claims' scale when
    the reference is the corpora and the scan reads fewer corpora than the split holds (the claims
    measure on every corpus of the split, and so must the hunt, or its bounds move with ``--corpora``)."""

    values: dict[int, np.ndarray]  # layer -> [d_mlp]
    method: str  # "exact" or "top-k" (scales_of_layer)
    on: str  # where, in words ("every corpus of the explore split")


def layer_scales(store, layers, d_mlp: int | None = None, on: str | None = None) -> LayerScales:
    """:func:`scales_of_layer` of every layer of ``layers`` on ``store`` (which should hold every corpus
    of the split, with the top-k tier or per-token activations)."""
    values, methods = {}, set()
    for layer in layers:
        width = d_mlp or store.collection.stats[layer].mean.shape[1]
        values[layer], how = scales_of_layer(store, layer, width)
        methods.add(how)
    return LayerScales(values, "/".join(sorted(methods)), on or f"every corpus of the {store.split} split")


@dataclass(frozen=True)
class Responses:
    """Stage-1 answer for every scanned neuron (arrays indexed [neuron] or [neuron, corpus/m])."""

    neurons: tuple[NeuronRef, ...]
    corpora: tuple[str, ...]
    corpus_means: np.ndarray  # [neurons, corpora], mean of document means
    scale: np.ndarray  # [neurons]
    scale_method: str
    order: np.ndarray  # [neurons, corpora]: corpus indices, highest mean first
    pvalues: np.ndarray  # [neurons, N-1]: p of "the top m corpora each exceed the rest" x C(N, m), m = 1 .. N-1
    qvalues: np.ndarray  # [neurons, N-1]: BH over the whole array
    n_responding: np.ndarray  # [neurons]: m*, 0 when no test passes
    effect: np.ndarray  # [neurons]: smallest (mean_c - mean_rest) / scale over the responding corpora
    min_effect: float
    q: float
    n_resamples: int
    n_docs: dict

    @property
    def n_tests(self) -> int:
        return int(self.pvalues.size)

    def responding(self, i: int) -> tuple[str, ...]:
        return tuple(self.corpora[c] for c in self.order[i, : self.n_responding[i]])

    def others(self, i: int) -> tuple[str, ...]:
        return tuple(self.corpora[c] for c in self.order[i, self.n_responding[i]:])

    def q_of(self, i: int) -> float:
        m = int(self.n_responding[i])
        return float(self.qvalues[i, m - 1]) if m else float("nan")

    def with_k(self, k: int) -> list[int]:
        """Indices of the neurons responding to exactly ``k`` corpora, largest effect first."""
        found = np.flatnonzero(self.n_responding == k)
        return [int(i) for i in found[np.argsort(-self.effect[found], kind="stable")]]

    def counts(self) -> dict[int, int]:
        values, counts = np.unique(self.n_responding, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def _group_seed(seed: int, corpus: int, rest: tuple[int, ...]) -> int:
    text = f"{seed}/{corpus}/{','.join(map(str, rest))}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def scan_responses(store, layers, *, corpora=None, min_effect: float = 0.1, q: float = 0.05,
                   n_resamples: int = 999, seed: int = 0, d_mlp: int | None = None, progress=None,
                   permutation: bool = False, profiles=None, scales: LayerScales | None = None) -> Responses:
    """Stage 1 over every neuron of ``layers`` (see the module docstring); ``profiles`` (a
    ReferenceProfiles): scales from the reference text, as claims use them; ``scales`` (a
    :class:`LayerScales`, first if given): scales measured on another store, as the claims measure them
    without a fixed reference (every corpus of the split); else the scale on ``store`` itself."""
    names = tuple(corpora) if corpora else store.corpora
    unknown = [c for c in names if c not in store.corpora]
    if unknown:
        raise ValueError(f"corpus {unknown[0]!r} is not in the store; known: {', '.join(store.corpora)}")
    if len(names) < 2:
        raise ValueError(f"the hunt compares corpora: give at least 2, got {list(names)}")
    if not min_effect >= 0:
        raise ValueError(f"min_effect must be >= 0 (a fraction of the neuron's scale), got {min_effect}")
    counts = np.asarray(next(iter(store.collection.stats.values())).count)
    docs = [store.docs_of(c) for c in names]
    docs = [d[counts[d] > 0] for d in docs]
    short = [c for c, d in zip(names, docs, strict=True) if len(d) < 2]
    if short:
        raise ValueError(f"corpus {short[0]!r} has fewer than 2 documents with tokens on the {store.split} split")
    neurons, means_all, scale_parts, methods = [], [], [], set()
    for layer in layers:
        mean = store.collection.stats[layer].mean  # [docs, neurons]
        width = d_mlp or mean.shape[1]
        if scales is not None:
            s, how = np.asarray(scales.values[layer], dtype=np.float64)[:width], scales.method
        elif profiles is not None:
            s, how = profiles.profile(layer, store.site).scale[:width], "reference"
        else:
            s, how = scales_of_layer(store, layer, width)
        methods.add(how)
        neurons += [NeuronRef(layer, i) for i in range(width)]
        means_all.append(mean[:, :width])
        scale_parts.append(s)
    M = np.concatenate(means_all, axis=1)  # [docs, neurons]
    scale = np.concatenate(scale_parts)
    bound = min_effect * scale
    n_neurons, n_c = M.shape[1], len(names)
    n = np.array([len(d) for d in docs], dtype=np.float64)  # [corpora]
    s1 = np.stack([M[d].sum(0) for d in docs], 1)  # [neurons, corpora]
    cmean = s1 / n
    order = np.argsort(-cmean, axis=1, kind="stable")
    rows = np.arange(n_neurons)[:, None]
    n_o, s1_o = n[order], s1[rows, order]
    mean_o = cmean[rows, order]
    # Suffix sums over the sorted corpora: the pooled "rest" below rank m.
    suf_n = np.cumsum(n_o[:, ::-1], 1)[:, ::-1]
    suf_1 = np.cumsum(s1_o[:, ::-1], 1)[:, ::-1]
    n_m = n_c - 1
    approx = np.ones((n_neurons, n_m, n_m))  # [neuron, m-1, j] (j < m)
    gaps = np.full((n_neurons, n_m, n_m), np.nan)
    # Neurons that share (the j-th corpus, the pooled rest) are tested together, column-wise.
    groups: dict[tuple[int, tuple[int, ...]], list[tuple[int, int, int]]] = {}
    for m in range(1, n_c):
        ny, sy1 = suf_n[:, m], suf_1[:, m]
        for j in range(m):
            gaps[:, m - 1, j] = mean_o[:, j] - sy1 / ny
        rests = np.sort(order[:, m:], axis=1)
        for i in range(n_neurons):
            rest = tuple(rests[i].tolist())
            for j in range(m):
                groups.setdefault((int(order[i, j]), rest), []).append((i, m - 1, j))
    pooled_docs = {}
    for (c, rest), members in groups.items():
        cols = np.array([i for i, _, _ in members])
        if rest not in pooled_docs:
            pooled_docs[rest] = np.concatenate([docs[r] for r in rest])
        pv = shift_pvalues_above(M[docs[c]][:, cols], M[pooled_docs[rest]][:, cols], bound[cols])
        for (i, mm, j), p in zip(members, pv, strict=True):
            approx[i, mm, j] = p
    p_test = approx.copy()
    # The top m corpora are chosen by the data: the set is one of C(N, m), so its p-value is
    # multiplied by C(N, m) (Bonferroni over the sets it could have been).
    chosen_from = np.array([math.comb(n_c, m) for m in range(1, n_c)], dtype=np.float64)
    # The claims' full test (studentized permutation, small-group guard) where it can matter:
    # every part's approximate p x C(N, m) <= q.
    iu_approx = np.where(np.tri(n_m, dtype=bool)[None], approx, 0.0).max(2)  # [neuron, m-1]
    need = np.argwhere(np.minimum(1.0, iu_approx * chosen_from) <= q) if permutation else np.zeros((0, 2), int)
    cells = [(int(i), int(mm), j) for i, mm in need for j in range(mm + 1)]
    for g, (i, mm, j) in enumerate(cells):
        c, rest = int(order[i, j]), tuple(sorted(order[i, mm + 1:].tolist()))
        full = bound_test(M[docs[c], i], M[pooled_docs[rest], i], float(bound[i]), n_resamples=n_resamples,
                          seed=_group_seed(seed, c, rest) % 2**63)
        p_test[i, mm, j] = max(p_test[i, mm, j], full.pvalue_above)
        if progress is not None:
            progress(g + 1, len(cells))
    mask = np.tri(n_m, dtype=bool)[None]
    pvalues = np.minimum(1.0, np.where(mask, p_test, 0.0).max(2) * chosen_from)
    qvalues = adjust_pvalues(pvalues.ravel(), method="bh").reshape(pvalues.shape)
    passing = qvalues <= q
    n_resp = np.where(passing.any(1), n_m - np.argmax(passing[:, ::-1], axis=1), 0)
    effect = np.zeros(n_neurons)
    for i in np.flatnonzero(n_resp):
        m = n_resp[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            effect[i] = np.min(gaps[i, m - 1, :m]) / scale[i] if scale[i] > 0 else 0.0
    return Responses(tuple(neurons), names, cmean, scale, "/".join(sorted(methods)), order, pvalues, qvalues,
                     n_resp.astype(int), effect, float(min_effect), float(q), int(n_resamples),
                     {c: int(len(d)) for c, d in zip(names, docs, strict=True)})
