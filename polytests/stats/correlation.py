"""A token-level correlation against a bound, with documents as the unit of resampling.

``explained_by`` asks whether an explanation (a set of token types) tracks a neuron: the
Pearson correlation, over every token of the split, between "the token matches" and the
activation. Tokens of a document are not independent, so the uncertainty comes from
resampling whole documents.

The test is a studentized (bootstrap-t) document bootstrap on Fisher's z. The standard
error of the correlation is its influence-function (delta-method) error with documents as
clusters: each document contributes the sum over its tokens of
``u w - r (u^2 + w^2) / 2`` (``u``, ``w`` the standardized values), all of it computed from
six sums per document, in the sample and again in every replicate. With
``t = (z(r) - z(bound)) / se_z`` observed and ``t* = (z(r*) - z(r)) / se_z*`` in each replicate,
``p_above = (1 + #{t* >= t}) / (B + 1)`` for "r > bound" and the mirror image for "r < bound".
A replicate whose correlation is undefined (a resample with no matching token) counts as
extreme on both sides, which can only raise p.

Why this and not the percentile bootstrap it replaces: on the model's own activations
(``polytests calibrate``), the percentile bootstrap refuted a true explanation 4-7% of the
time where the verdicts allow 2.5%, and this one stays in the band once at least ten
documents hold a matching token (the predicate is inconclusive below that). On simulated
documents with long-tailed tokens (:func:`wrong_verdict_rates`) both are liberal on the
"confirmed" side, this one less; docs/statistics.md has the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from polytests.stats._validation import SeedLike, check_finite_float, check_int, make_rng

__all__ = ["CorrelationTest", "document_correlation_test"]

# Bootstrap replicates per chunk (a chunk holds replicates x documents weights).
_CHUNK_CELLS = 4_000_000
# |r| is clipped this far inside +-1 before Fisher's z (a perfect sample correlation).
_EDGE = 1e-12


@dataclass(frozen=True)
class CorrelationTest:
    """Result of :func:`document_correlation_test`."""

    correlation: float
    ci: tuple[float, float]  # 95% studentized interval, back from Fisher's z
    se: float  # the correlation's standard error (documents as clusters)
    pvalue_above: float
    pvalue_below: float
    count_above: int  # replicates with t* >= t (or undefined): the count behind pvalue_above
    count_below: int  # replicates with t* <= t (or undefined): the count behind pvalue_below
    replicates: int


def _correlation_and_se(sums: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled correlation and its cluster influence-function standard error, per row of ``weights``.

    ``sums``: [documents, 6] per-document sums of 1, x, y, x^2, y^2, xy; ``weights``:
    [replicates, documents] multiplicities.
    """
    n_tok, sx, sy, sxx, syy, sxy = (weights @ sums).T
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = sx / n_tok, sy / n_tok
        vx, vy = sxx / n_tok - mx * mx, syy / n_tok - my * my
        sdx, sdy = np.sqrt(vx), np.sqrt(vy)
        r = (sxy / n_tok - mx * my) / (sdx * sdy)
        d_n, d_x, d_y, d_xx, d_yy, d_xy = sums.T
        a, b = mx[:, None], my[:, None]
        cxy = d_xy - a * d_y - b * d_x + d_n * a * b  # each document's sum of (x - mx)(y - my)
        cxx = d_xx - 2 * a * d_x + d_n * a * a
        cyy = d_yy - 2 * b * d_y + d_n * b * b
        influence = (cxy / (sdx * sdy)[:, None] - r[:, None] / 2 * (cxx / vx[:, None] + cyy / vy[:, None]))
        se = np.sqrt(np.sum(weights * influence ** 2, axis=1)) / n_tok
    return r, se


def _fisher(r: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    clipped = np.clip(r, -1 + _EDGE, 1 - _EDGE)
    return np.arctanh(clipped), se / (1 - clipped * clipped)


def document_correlation_test(x: npt.ArrayLike, y: npt.ArrayLike, doc: npt.ArrayLike, bound: float, *,
                              n_resamples: int = 9999, seed: SeedLike = None) -> CorrelationTest:
    """Correlation of token values ``x`` and ``y`` (``doc``: each token's document index) against ``bound``.

    Raises ``ValueError`` when the sample correlation is undefined (``x`` or ``y`` constant)
    or ``bound`` is not inside (-1, 1).
    """
    x_arr, y_arr = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    doc_arr = np.asarray(doc, dtype=np.int64)
    if not (x_arr.shape == y_arr.shape == doc_arr.shape) or x_arr.ndim != 1:
        raise ValueError("`x`, `y` and `doc` must be 1-D arrays of one length (one entry per token).")
    bound = check_finite_float(bound, "bound")
    if not -1 < bound < 1:
        raise ValueError(f"`bound` must lie strictly between -1 and 1 (got {bound}).")
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    rng = make_rng(seed)
    n_docs = int(doc_arr.max()) + 1
    sums = np.stack([np.bincount(doc_arr, weights=v, minlength=n_docs)
                     for v in (np.ones_like(x_arr), x_arr, y_arr, x_arr * x_arr, y_arr * y_arr, x_arr * y_arr)], 1)
    r, se = _correlation_and_se(sums, np.ones((1, n_docs)))
    if not (np.isfinite(r[0]) and np.isfinite(se[0])):
        raise ValueError("the correlation is undefined: `x` or `y` is constant over the tokens.")
    correlation = float(r[0])
    z, se_z = (float(v[0]) for v in _fisher(r, se))
    t_obs = (z - float(np.arctanh(bound))) / se_z if se_z > 0 else (np.inf if z > np.arctanh(bound) else -np.inf)
    chunk = max(1, _CHUNK_CELLS // n_docs)
    t_reps = []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        w = rng.multinomial(n_docs, np.full(n_docs, 1 / n_docs), size=size).astype(float)
        r_b, se_b = _correlation_and_se(sums, w)
        z_b, se_zb = _fisher(r_b, se_b)
        with np.errstate(invalid="ignore", divide="ignore"):
            t_reps.append((z_b - z) / se_zb)
    t_star = np.concatenate(t_reps)
    undefined = ~np.isfinite(t_star)
    above = int(np.sum(t_star[~undefined] >= t_obs) + undefined.sum())
    below = int(np.sum(t_star[~undefined] <= t_obs) + undefined.sum())
    finite = t_star[~undefined]
    if finite.size >= 2:
        q_low, q_high = np.quantile(finite, [0.025, 0.975])
        ci = (float(np.tanh(z - q_high * se_z)), float(np.tanh(z - q_low * se_z)))
    else:
        ci = (-1.0, 1.0)
    b = n_resamples
    return CorrelationTest(correlation, ci, float(se[0]), (1 + above) / (b + 1), (1 + below) / (b + 1),
                           above, below, b)

def percentile_correlation_test(x: npt.ArrayLike, y: npt.ArrayLike, doc: npt.ArrayLike, bound: float, *,
                                n_resamples: int = 9999, seed: SeedLike = None) -> tuple[float, float]:
    """The percentile document bootstrap ``explained_by`` used before the bootstrap-t (kept only so
    that ``polytests calibrate`` and the tests can show what it got wrong): ``(p_above, p_below)``,
    the +1-corrected shares of replicate correlations at or below / at or above ``bound``."""
    x_arr, y_arr = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    doc_arr = np.asarray(doc, dtype=np.int64)
    rng = make_rng(seed)
    n_docs = int(doc_arr.max()) + 1
    sums = np.stack([np.bincount(doc_arr, weights=v, minlength=n_docs)
                     for v in (np.ones_like(x_arr), x_arr, y_arr, x_arr * x_arr, y_arr * y_arr, x_arr * y_arr)], 1)
    w = rng.multinomial(n_docs, np.full(n_docs, 1 / n_docs), size=n_resamples).astype(float)
    boot, _ = _correlation_and_se(sums, w)
    boot = boot[np.isfinite(boot)]
    return (1 + int(np.sum(boot <= bound))) / (boot.size + 1), (1 + int(np.sum(boot >= bound))) / (boot.size + 1)


def _long_tailed_documents(n_docs: int, rng: np.random.Generator, tokens: int = 40):
    """Token indicators and activations of ``n_docs`` documents: the share of matching tokens varies by
    document (Beta(1, 9)), matching tokens activate with a document factor (log-normal) times an
    exponential, and 5% of all tokens carry log-normal noise (long right tails)."""
    share = rng.beta(1, 9, n_docs)
    factor = rng.lognormal(0, 0.7, n_docs)
    doc = np.repeat(np.arange(n_docs), tokens)
    x = (rng.random(n_docs * tokens) < share[doc]).astype(float)
    y = (x * factor[doc] * rng.exponential(1, n_docs * tokens)
         + (rng.random(n_docs * tokens) < 0.05) * rng.lognormal(0, 1, n_docs * tokens))
    return x, y, doc


def _rare_explanation_documents(n_docs: int, rng: np.random.Generator, tokens: int = 40):
    """Harder: the explanation's tokens occur in 15% of documents only (a rare token type), at a
    Beta(2, 8) share there; they activate log-normally (sigma 1, times a document factor), the
    other tokens are 90% exact zeros and otherwise log-normal (sigma 1): SoLU-like."""
    holds = rng.random(n_docs) < 0.15
    share = np.where(holds, rng.beta(2, 8, n_docs), 0.0)
    factor = rng.lognormal(0, 0.5, n_docs)
    doc = np.repeat(np.arange(n_docs), tokens)
    x = (rng.random(n_docs * tokens) < share[doc]).astype(float)
    rest = (rng.random(n_docs * tokens) < 0.1) * rng.lognormal(-1, 1, n_docs * tokens)
    y = np.where(x > 0, factor[doc] * rng.lognormal(0, 1, n_docs * tokens), rest)
    return x, y, doc


GENERATORS = {"long-tailed tokens": _long_tailed_documents, "rare explanation, SoLU-like": _rare_explanation_documents}


def wrong_verdict_rates(n_docs: int = 30, simulations: int = 1000, resamples: int = 999, alpha: float = 0.05,
                        seed: int = 0, generator: str = "long-tailed tokens",
                        test: str = "bootstrap-t") -> dict[str, float]:
    """A test (``"bootstrap-t"``, the verdicts', or ``"percentile"``, the one before) at the true
    correlation of a :data:`GENERATORS` entry (from 40,000 documents): how often each side, at
    ``alpha / 2`` as the verdicts use it, gives a wrong verdict. Samples with fewer than 10
    documents holding a matching token are skipped, as ``explained_by`` makes them inconclusive."""
    from polytests.stats.relative import MIN_DOCUMENTS

    draw = GENERATORS[generator]
    rng = np.random.default_rng(seed)
    x, y, _ = draw(40_000, rng)
    rho = float(np.corrcoef(x, y)[0, 1])
    confirmed = refuted = tested = 0
    for i in range(simulations):
        x, y, doc = draw(n_docs, rng)
        if np.unique(doc[x > 0]).size < MIN_DOCUMENTS:
            continue
        if test == "bootstrap-t":
            t = document_correlation_test(x, y, doc, rho, n_resamples=resamples, seed=i)
            above, below = t.pvalue_above, t.pvalue_below
        else:
            above, below = percentile_correlation_test(x, y, doc, rho, n_resamples=resamples, seed=i)
        tested += 1
        confirmed += above <= alpha / 2
        refuted += below <= alpha / 2
    share = (lambda k: k / tested) if tested else (lambda k: float("nan"))
    return {"rho": rho, "tested": tested, "confirmed": share(confirmed), "refuted": share(refuted),
            "any_wrong": share(confirmed + refuted)}


if __name__ == "__main__":  # python -m polytests.stats.correlation [simulations] [resamples]
    import sys

    sims, reps = ([int(a) for a in sys.argv[1:3]] + [1000, 999][len(sys.argv[1:3]):])
    print("| documents | simulated tokens | test | tested | confirmed | refuted | any wrong |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for name, sizes in (("long-tailed tokens", (30, 120, 258)), ("rare explanation, SoLU-like", (120, 258, 1000))):
        for n in sizes:
            for test in ("percentile", "bootstrap-t"):
                r = wrong_verdict_rates(n, sims, reps, generator=name, test=test)
                print(f"| {n} | {name} | {test} | {r['tested']} | {r['confirmed']:.3f} | {r['refuted']:.3f} | "
                      f"{r['any_wrong']:.3f} |", flush=True)
