"""Stage 1 of the hunt: which of the chosen corpora does each neuron respond to?

Only tier-1 data (every neuron's per-document mean) is read, so every neuron of the
requested layers is scanned in one pass of the model. For each neuron the corpora are
sorted by their mean over documents; for each ``m`` (1 .. N-1) one test asks "do the top
``m`` corpora EACH exceed the pooled documents of the other ``N - m`` corpora by more than
the bound?" (intersection-union: the largest of the ``m`` one-sided p-values), times ``C(N, m)``
because the top ``m`` were chosen by looking (Bonferroni over the sets). A neuron
responds to exactly its top ``m*`` corpora, ``m*`` the largest ``m`` whose BH q-value is
at most ``q``; the BH family is every (neuron, m) test of the scan.

Each one-sided p-value is Welch's half of the project's bound test
(:func:`polytests.stats.bounds.bound_test`, ``pvalue_above``) of ``mean(x) - mean(y) > bound``
with ``bound = min_effect x scale``, computed along the neuron axis. The permutation half is
left to stage 2 by default: a Monte Carlo p-value cannot go below ``1/(B+1)``, and times
``C(N, m)`` that floor sits above every BH threshold of a scan of thousands of tests (with
B = 999, four corpora and 2,048 neurons: 0.006 against 0.05 x R / 6,144), so it would decide
the scan by resolution, not by the data. Stage 2 retests every candidate with the full bound
test (the claim evaluators). ``permutation=True`` takes the larger of both here too, the
permutation p only where Welch's p x C(N, m) is at most ``q``: a larger value cannot change
which tests BH rejects (it only ranks above every rejected one).

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
from scipy import stats as sps

from polytests.claims.evaluate import SCALE_QUANTILE, neuron_scale
from polytests.neurons import NeuronRef
from polytests.stats import adjust_pvalues, permutation_test

__all__ = ["Responses", "scale_top_k", "scan_responses", "scales_of_layer"]


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


def _welch_greater(mx, vx, nx, my, vy, ny):
    """Welch one-sided p (mean_x > mean_y), vectorised; the same conventions as bound_test."""
    vx_n, vy_n = vx / nx, vy / ny
    se = np.sqrt(vx_n + vy_n)
    diff = mx - my
    with np.errstate(invalid="ignore", divide="ignore"):
        t = diff / se
        df = (vx_n + vy_n) ** 2 / (np.where(vx_n > 0, vx_n**2 / (nx - 1), 0.0)
                                   + np.where(vy_n > 0, vy_n**2 / (ny - 1), 0.0))
        p = sps.t.sf(t, df)
    return np.where(se > 0, p, np.where(diff > 0, 0.0, 1.0))


def _group_seed(seed: int, corpus: int, rest: tuple[int, ...]) -> int:
    text = f"{seed}/{corpus}/{','.join(map(str, rest))}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def scan_responses(store, layers, *, corpora=None, min_effect: float = 0.1, q: float = 0.05,
                   n_resamples: int = 999, seed: int = 0, d_mlp: int | None = None, progress=None,
                   permutation: bool = False, profiles=None) -> Responses:
    """Stage 1 over every neuron of ``layers`` (see the module docstring); ``profiles`` (a
    ReferenceProfiles): scales from the reference text, as claims use them."""
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
    neurons, means_all, scales, methods = [], [], [], set()
    for layer in layers:
        mean = store.collection.stats[layer].mean  # [docs, neurons]
        width = d_mlp or mean.shape[1]
        if profiles is not None:
            s, how = profiles.profile(layer, store.site).scale[:width], "reference"
        else:
            s, how = scales_of_layer(store, layer, width)
        methods.add(how)
        neurons += [NeuronRef(layer, i) for i in range(width)]
        means_all.append(mean[:, :width])
        scales.append(s)
    M = np.concatenate(means_all, axis=1)  # [docs, neurons]
    scale = np.concatenate(scales)
    bound = min_effect * scale
    n_neurons, n_c = M.shape[1], len(names)
    n = np.array([len(d) for d in docs], dtype=np.float64)  # [corpora]
    s1 = np.stack([M[d].sum(0) for d in docs], 1)  # [neurons, corpora]
    s2 = np.stack([(M[d] ** 2).sum(0) for d in docs], 1)
    cmean = s1 / n
    cvar = (s2 - s1**2 / n) / (n - 1)
    order = np.argsort(-cmean, axis=1, kind="stable")
    rows = np.arange(n_neurons)[:, None]
    n_o, s1_o, s2_o = n[order], s1[rows, order], s2[rows, order]
    mean_o, var_o = cmean[rows, order], cvar[rows, order]
    # Suffix sums over the sorted corpora: the pooled "rest" below rank m.
    suf_n = np.cumsum(n_o[:, ::-1], 1)[:, ::-1]
    suf_1 = np.cumsum(s1_o[:, ::-1], 1)[:, ::-1]
    suf_2 = np.cumsum(s2_o[:, ::-1], 1)[:, ::-1]
    n_m = n_c - 1
    welch = np.ones((n_neurons, n_m, n_m))  # [neuron, m-1, j] (j < m)
    gaps = np.full((n_neurons, n_m, n_m), np.nan)
    for m in range(1, n_c):
        ny, sy1, sy2 = suf_n[:, m], suf_1[:, m], suf_2[:, m]
        my = sy1 / ny
        vy = np.maximum((sy2 - sy1**2 / ny) / (ny - 1), 0.0)
        for j in range(m):
            welch[:, m - 1, j] = _welch_greater(mean_o[:, j] - bound, np.maximum(var_o[:, j], 0.0), n_o[:, j],
                                                my, vy, ny)
            gaps[:, m - 1, j] = mean_o[:, j] - my
    p_test = welch.copy()
    # Permutation part where it can matter: every part's Welch p <= q.
    # The top m corpora are chosen by the data: the set is one of C(N, m), so its p-value is
    # multiplied by C(N, m) (Bonferroni over the sets it could have been).
    chosen_from = np.array([math.comb(n_c, m) for m in range(1, n_c)], dtype=np.float64)
    iu_welch = np.where(np.tri(n_m, dtype=bool)[None], welch, 0.0).max(2)  # [neuron, m-1]
    need = np.argwhere(np.minimum(1.0, iu_welch * chosen_from) <= q) if permutation else np.zeros((0, 2), int)
    groups: dict[tuple[int, tuple[int, ...]], list[tuple[int, int, int]]] = {}
    for i, mm in need:
        m = mm + 1
        rest = tuple(sorted(order[i, m:].tolist()))
        for j in range(m):
            groups.setdefault((int(order[i, j]), rest), []).append((int(i), int(mm), j))
    for g, ((c, rest), members) in enumerate(groups.items()):
        cols = np.array([i for i, _, _ in members])
        x = M[docs[c]][:, cols] - bound[cols]
        y = M[np.concatenate([docs[r] for r in rest])][:, cols]
        perm_seed = int(np.random.default_rng(_group_seed(seed, c, rest)).integers(2**63))
        res = permutation_test(x, y, alternative="greater", n_resamples=n_resamples, seed=perm_seed)
        pv = np.atleast_1d(res.pvalue)
        for (i, mm, j), p in zip(members, pv, strict=True):
            p_test[i, mm, j] = max(p_test[i, mm, j], float(p))
        if progress is not None:
            progress(g + 1, len(groups))
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
