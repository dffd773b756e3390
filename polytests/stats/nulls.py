"""Null distributions from other units: matched random neurons and Besag-Clifford stopping.

Pure functions on arrays (no torch, no claims): which neurons of a layer make the null of a
causal claim, and the sequential Monte Carlo p-value that stops sampling them early.
"""

from __future__ import annotations

import numpy as np

from polytests.stats.multiplicity import monte_carlo_range

BESAG_CLIFFORD_H = 10  # stop sampling null neurons once this many beat the observed effect

MATCH_POOL = 0.5  # null neurons are drawn from the half of the layer nearest in firing rate


def matched_pool_size(n_neurons: int) -> int:
    """How many of a layer's other neurons the matched null neurons are drawn from."""
    return max(1, int(MATCH_POOL * (n_neurons - 1)))


def matched_null_neurons(rate: np.ndarray, magnitude: np.ndarray, target: int, k: int, seed: int) -> np.ndarray:
    """Up to k random neurons of the layer matched to ``target`` on firing rate, in a seeded random order.

    The pool is the ``MATCH_POOL`` share of the layer's other neurons nearest to
    the target in firing-rate rank (ties broken by magnitude rank); k neurons are
    drawn from it at random without replacement, so the null is "random neurons
    that fire about as often", not "the nearest k", which for k close to the
    layer's width would be nearly the whole layer. If the pool holds fewer than
    k neurons the whole pool is used (the result says how many).
    """
    n = len(rate)
    r1 = np.argsort(np.argsort(rate, kind="stable"), kind="stable") / n
    r2 = np.argsort(np.argsort(magnitude, kind="stable"), kind="stable") / n
    dist = np.abs(r1 - r1[target]) + 1e-3 * np.abs(r2 - r2[target])
    dist[target] = np.inf
    pool = np.argsort(dist, kind="stable")[: matched_pool_size(n)]
    rng = np.random.default_rng(seed)
    return rng.permutation(pool)[: min(k, len(pool))]


def rank_range(p_rank: float, exceed: int, evaluated: int, pool: int) -> tuple[float, float]:
    """Monte Carlo range of the matched-null rank p-value: none when every neuron of the matched pool
    was evaluated (the p is then exact for that pool), else the Clopper-Pearson range of the share
    of the pool at least as large as the claimed neuron, from ``exceed`` of ``evaluated``."""
    if evaluated >= pool:
        return p_rank, p_rank
    low, high = monte_carlo_range(exceed, evaluated, plus_one=False)
    return min(low, p_rank), max(high, p_rank)


def besag_clifford(null_values: np.ndarray, observed: float, h: int = BESAG_CLIFFORD_H) -> tuple[float, int, int]:
    """Sequential Monte Carlo p-value (Besag & Clifford 1991) over null values in their drawn order.

    Sampling stops at the first L with h null values >= observed: p = h / L.
    If fewer than h of all K exceed it: p = (1 + exceedances) / (K + 1).
    Returns (p, exceedances, L evaluated).
    """
    hits = np.cumsum(np.asarray(null_values) >= observed)
    if hits.size and hits[-1] >= h:
        stop = int(np.argmax(hits >= h)) + 1
        return h / stop, h, stop
    exceed = int(hits[-1]) if hits.size else 0
    return (1 + exceed) / (len(null_values) + 1), exceed, len(null_values)


__all__ = ["BESAG_CLIFFORD_H", "MATCH_POOL", "besag_clifford", "matched_null_neurons",
           "matched_pool_size", "rank_range"]
