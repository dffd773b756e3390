"""A token-level correlation against a bound, with documents as the unit.

``explained_by`` asks whether an explanation (a set of token types) tracks a neuron, two ways:

* ``over = "tokens"`` (the default): the Pearson correlation, over every token of the split,
  between "the token matches" and the activation (:func:`document_correlation_test`, below);
* ``over = "documents"``: the median over documents of each document's own correlation, by the
  exact sign test (:func:`within_document_correlation_test`), exact for any shape of tokens.

Tokens of a document are not independent, so the uncertainty comes from documents.

The test is a studentized (bootstrap-t) document bootstrap on Fisher's z. The standard
error of the correlation is its influence-function (delta-method) error with documents as
clusters: each document contributes the sum over its tokens of
``u w - r (u^2 + w^2) / 2`` (``u``, ``w`` the standardized values), all of it computed from
six sums per document, in the sample and again in every replicate. With
``t = (z(r) - z(bound)) / se_z`` observed and ``t* = (z(r*) - z(r)) / se_z*`` in each replicate,
``p_above = (1 + #{t* >= t}) / (B + 1)`` for "r > bound" and the mirror image for "r < bound".
A replicate whose correlation is undefined (a resample with no matching token) counts as
extreme on both sides, which can only raise p.

The pooled test stays in the band on the model's own activations (``polytests calibrate``) and
is liberal on simulated long-tailed tokens (:func:`wrong_verdict_rates`); no test of a pooled
correlation of unbounded values can be exact (docs/statistics.md, "explained_by").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from polytests.stats._validation import SeedLike, check_finite_float, check_int, make_rng

__all__ = ["CorrelationTest", "DocumentCorrelations", "document_correlation_test", "document_correlations",
           "within_document_correlation_test"]

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


# --------------------------------------------------------------------------
# the verdicts' test: the median within-document correlation, by the sign test
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentCorrelations:
    """Result of :func:`within_document_correlation_test`.

    ``median`` is the median over the contrasting documents (those holding a matching and a
    non-matching token) of each document's own correlation between the explanation and the
    activation; a contrasting document whose activation is constant counts as 0 (its tokens
    do not track the explanation). ``pvalue_above`` / ``pvalue_below`` are the exact sign
    test's for "median above / below the bound"; ``ci`` the median's order-statistic interval;
    ``pooled`` the correlation over every token, for reading only.
    """

    median: float
    ci: tuple[float, float]
    pvalue_above: float
    pvalue_below: float
    share_above: float
    share_below: float
    documents: int
    min_pvalue: float
    pooled: float


def document_correlations(x: npt.ArrayLike, y: npt.ArrayLike, doc: npt.ArrayLike, *,
                          silent_below: float = 0.0) -> np.ndarray:
    """Each contrasting document's Pearson correlation of ``x`` and ``y`` over its own tokens.

    A document is contrasting when ``x`` is not constant over its tokens (for
    ``explained_by``: it holds a matching and a non-matching token); the others are left out.
    Where ``y`` is constant over a contrasting document (relative to its size), or its range
    there is at most ``silent_below`` (a neuron silent by the claim's own smallest effect), the
    correlation is 0. Returned in document order.
    """
    x_arr, y_arr = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    doc_arr = np.asarray(doc, dtype=np.int64)
    if not (x_arr.shape == y_arr.shape == doc_arr.shape) or x_arr.ndim != 1:
        raise ValueError("`x`, `y` and `doc` must be 1-D arrays of one length (one entry per token).")
    if x_arr.size == 0:
        return np.zeros(0)
    n_docs = int(doc_arr.max()) + 1
    n = np.bincount(doc_arr, minlength=n_docs).astype(np.float64)
    safe = np.maximum(n, 1)
    # Centred within each document before any product: sums of raw squares lose the variance of
    # a document whose activations share a large offset.
    xc = x_arr - (np.bincount(doc_arr, weights=x_arr, minlength=n_docs) / safe)[doc_arr]
    yc = y_arr - (np.bincount(doc_arr, weights=y_arr, minlength=n_docs) / safe)[doc_arr]
    sxx = np.bincount(doc_arr, weights=xc * xc, minlength=n_docs)
    syy = np.bincount(doc_arr, weights=yc * yc, minlength=n_docs)
    sxy = np.bincount(doc_arr, weights=xc * yc, minlength=n_docs)
    scale_x = np.zeros(n_docs)
    scale_y = np.zeros(n_docs)
    np.maximum.at(scale_x, doc_arr, np.abs(x_arr))
    np.maximum.at(scale_y, doc_arr, np.abs(y_arr))
    high = np.full(n_docs, -np.inf)
    low = np.full(n_docs, np.inf)
    np.maximum.at(high, doc_arr, y_arr)
    np.minimum.at(low, doc_arr, y_arr)
    tiny = 1e-10  # a spread below this share of the document's largest |value| is rounding, not signal
    contrasting = (n >= 2) & (sxx > (tiny * scale_x) ** 2 * n)
    varies = (syy > (tiny * scale_y) ** 2 * n) & (high - low > silent_below)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(varies, sxy / np.sqrt(sxx * syy), 0.0)
    return np.clip(r[contrasting], -1.0, 1.0)


def within_document_correlation_test(x: npt.ArrayLike, y: npt.ArrayLike, doc: npt.ArrayLike, bound: float, *,
                                     confidence: float = 0.95, silent_below: float = 0.0) -> DocumentCorrelations:
    """The median within-document correlation of ``x`` and ``y`` against ``bound`` (exact sign test).

    ``silent_below``: see :func:`document_correlations`. Each document is one unit and its
    correlation lies in [-1, 1], so the sign test's p-values
    are exact (never too small) for any distribution of documents, whatever the shape of the
    tokens inside them: the reason ``explained_by`` uses it (docs/statistics.md). Raises
    ``ValueError`` when no document is contrasting or ``bound`` is not inside (-1, 1).
    """
    from polytests.stats.relative import median_sign_test

    bound = check_finite_float(bound, "bound")
    if not -1 < bound < 1:
        raise ValueError(f"`bound` must lie strictly between -1 and 1 (got {bound}).")
    r = document_correlations(x, y, doc, silent_below=silent_below)
    if r.size == 0:
        raise ValueError("no document holds both a matching and a non-matching token.")
    t = median_sign_test(r, bound, confidence=confidence)
    x_arr, y_arr = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # a contrasting document means 2 tokens or more
        pooled = float(np.corrcoef(x_arr, y_arr)[0, 1])
    return DocumentCorrelations(t.median, t.ci, t.pvalue_above, t.pvalue_below, t.share_above, t.share_below,
                                t.n, t.min_pvalue, pooled)


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
                        test: str = "sign") -> dict[str, float]:
    """A test at its estimand's true value for a :data:`GENERATORS` entry (from 40,000 documents):
    how often each side, at ``alpha / 2`` as the verdicts use it, gives a wrong verdict.

    ``test``: ``"sign"`` (the verdicts': the median within-document correlation, bound at its
    population median), or the pooled correlation's ``"bootstrap-t"`` and ``"percentile"``
    document bootstraps used before (bound at the population's pooled correlation). Samples with
    fewer than 10 documents holding a matching token (for ``"sign"``: contrasting documents) are
    skipped, as ``explained_by`` makes them inconclusive."""
    from polytests.stats.relative import MIN_DOCUMENTS

    draw = GENERATORS[generator]
    rng = np.random.default_rng(seed)
    x, y, doc = draw(40_000, rng)
    rho = float(np.median(document_correlations(x, y, doc))) if test == "sign" else float(np.corrcoef(x, y)[0, 1])
    confirmed = refuted = tested = 0
    for i in range(simulations):
        x, y, doc = draw(n_docs, rng)
        if test == "sign":
            if document_correlations(x, y, doc).size < MIN_DOCUMENTS:
                continue
            t = within_document_correlation_test(x, y, doc, rho)
            above, below = t.pvalue_above, t.pvalue_below
        else:
            if np.unique(doc[x > 0]).size < MIN_DOCUMENTS:
                continue
            if test == "bootstrap-t":
                b = document_correlation_test(x, y, doc, rho, n_resamples=resamples, seed=i)
                above, below = b.pvalue_above, b.pvalue_below
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
            for test in ("percentile", "bootstrap-t", "sign"):
                r = wrong_verdict_rates(n, sims, reps, generator=name, test=test)
                print(f"| {n} | {name} | {test} | {r['tested']} | {r['confirmed']:.3f} | {r['refuted']:.3f} | "
                      f"{r['any_wrong']:.3f} |", flush=True)
