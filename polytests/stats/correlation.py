"""A token-level correlation against a bound, with documents as the unit of resampling.

``explained_by`` asks whether an explanation (a set of token types) tracks a neuron: the
Pearson correlation, over every token of the split, between "the token matches" and the
activation. Tokens of a document are not independent, so the uncertainty comes from
resampling whole documents (a document bootstrap: each replicate reweights documents by a
multinomial draw and recomputes the correlation from per-document sums). The one-sided
p-values are the bootstrap shares at or beyond the bound, with the +1 correction:
``p_above = (1 + #{r* <= bound}) / (B + 1)`` for "r > bound" and the mirror image for
"r < bound". This is a percentile-bootstrap test (first-order accurate);
docs/statistics.md has its simulation at the bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from polytests.stats._validation import SeedLike, check_finite_float, check_int, make_rng

__all__ = ["CorrelationTest", "document_correlation_test"]

# Bootstrap replicates per chunk (a chunk holds replicates x documents weights).
_CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class CorrelationTest:
    """Result of :func:`document_correlation_test`."""

    correlation: float
    ci: tuple[float, float]  # 95% percentile interval
    pvalue_above: float
    pvalue_below: float
    at_or_below: int  # replicates <= bound (the count behind pvalue_above)
    at_or_above: int  # replicates >= bound
    replicates: int  # finite replicates


def document_correlation_test(x: npt.ArrayLike, y: npt.ArrayLike, doc: npt.ArrayLike, bound: float, *,
                              n_resamples: int = 9999, seed: SeedLike = None) -> CorrelationTest:
    """Correlation of token values ``x`` and ``y`` (``doc``: each token's document index) against ``bound``."""
    x_arr, y_arr = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    doc_arr = np.asarray(doc, dtype=np.int64)
    if not (x_arr.shape == y_arr.shape == doc_arr.shape) or x_arr.ndim != 1:
        raise ValueError("`x`, `y` and `doc` must be 1-D arrays of one length (one entry per token).")
    bound = check_finite_float(bound, "bound")
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    rng = make_rng(seed)
    correlation = float(np.corrcoef(x_arr, y_arr)[0, 1])
    n_docs = int(doc_arr.max()) + 1
    sums = [np.bincount(doc_arr, weights=v, minlength=n_docs)
            for v in (np.ones_like(x_arr), x_arr, y_arr, x_arr * x_arr, y_arr * y_arr, x_arr * y_arr)]
    chunk = max(1, _CHUNK_CELLS // n_docs)
    replicates = []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        w = rng.multinomial(n_docs, np.full(n_docs, 1 / n_docs), size=size).astype(float)
        n, sx, sy, sxx, syy, sxy = (w @ v for v in sums)
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = sxy / n - (sx / n) * (sy / n)
            replicates.append(cov / np.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2)))
    boot = np.concatenate(replicates)
    boot = boot[np.isfinite(boot)]
    low, high = np.quantile(boot, [0.025, 0.975])
    below, above = int(np.sum(boot <= bound)), int(np.sum(boot >= bound))
    b = len(boot)
    return CorrelationTest(correlation, (float(low), float(high)), (1 + below) / (b + 1), (1 + above) / (b + 1),
                           below, above, b)


def _simulated_documents(n_docs: int, rng: np.random.Generator, tokens: int = 40):
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


def wrong_verdict_rates(n_docs: int = 30, simulations: int = 1000, resamples: int = 999, alpha: float = 0.05,
                        seed: int = 0) -> dict[str, float]:
    """The test at the true correlation of :func:`_simulated_documents` (from 40,000 documents): how
    often each side, at ``alpha / 2`` as the verdicts use it, would give a wrong verdict."""
    rng = np.random.default_rng(seed)
    x, y, _ = _simulated_documents(40_000, rng)
    rho = float(np.corrcoef(x, y)[0, 1])
    confirmed = refuted = 0
    for i in range(simulations):
        x, y, doc = _simulated_documents(n_docs, rng)
        t = document_correlation_test(x, y, doc, rho, n_resamples=resamples, seed=i)
        confirmed += t.pvalue_above <= alpha / 2
        refuted += t.pvalue_below <= alpha / 2
    return {"rho": rho, "confirmed": confirmed / simulations, "refuted": refuted / simulations,
            "any_wrong": (confirmed + refuted) / simulations}


if __name__ == "__main__":  # python -m polytests.stats.correlation [documents] [simulations]
    import sys

    args = [int(a) for a in sys.argv[1:3]]
    print(wrong_verdict_rates(*args))
