"""Calibration of the document-level permutation test by simulation.

The simulated data mirror the real setting: each *claim* compares two groups
of documents (``n_a`` vs ``n_b``); each document has a random effect
``u ~ N(0, tau^2)`` shared by its tokens, plus AR(1) token noise with
coefficient ``phi`` and marginal SD ``sigma``. Optionally activations are
sparse and non-negative: ``max(0, latent - sparse_threshold)``. The test
statistic is computed on per-document means, exactly as the package does.

* :func:`simulate_false_positive_rate` -- no true effect; the rejection rate
  must lie in the binomial acceptance band around ``alpha``.
* :func:`simulate_power` -- a planted shift of ``effect_size * tau`` in the
  latent document effects of group A.
* :func:`token_vs_document_level` -- the same null data tested naively at the
  token level (tokens permuted as if independent) versus at the document
  level, to show why the document is the unit of analysis.

Run ``python -m polytests.stats.calibration`` to print the Markdown table
quoted in ``docs/statistics.md``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal, stats

from polytests.stats._validation import (
    check_choice,
    check_finite_float,
    check_int,
    check_optional_int,
    check_probability,
)
from polytests.stats.permutation import ALTERNATIVES, permutation_test

__all__ = [
    "CalibrationResult",
    "NestedDesign",
    "PowerResult",
    "TokenVsDocumentResult",
    "acceptance_band",
    "main",
    "simulate_claim_pvalues",
    "simulate_false_positive_rate",
    "simulate_power",
    "simulate_tokens",
    "token_vs_document_level",
]

# Claims simulated (and permuted with shared relabellings) per block; blocks
# get independent child seeds so that claims are independent across blocks.
_BLOCK = 50
# Two-sided coverage of the binomial acceptance band.
_BAND_COVERAGE = 0.999


@dataclass(frozen=True)
class NestedDesign:
    """Parameters of the simulated nested (documents > tokens) data."""

    n_a: int = 12
    n_b: int = 60
    n_tokens: int = 64
    tau: float = 1.0
    sigma: float = 1.0
    phi: float = 0.5
    sparse: bool = False
    sparse_threshold: float = 1.0

    def __post_init__(self) -> None:
        check_int(self.n_a, "n_a", minimum=2)
        check_int(self.n_b, "n_b", minimum=2)
        check_int(self.n_tokens, "n_tokens", minimum=1)
        check_finite_float(self.tau, "tau", positive=True)
        check_finite_float(self.sigma, "sigma", positive=True)
        phi = check_finite_float(self.phi, "phi")
        if not 0.0 <= phi < 1.0:
            raise ValueError(f"`phi` must be in [0, 1); got {phi!r}.")
        check_finite_float(self.sparse_threshold, "sparse_threshold")


@dataclass(frozen=True)
class CalibrationResult:
    """Rejection rate under the null and its binomial acceptance band.

    ``lower``/``upper`` are the 0.05% and 99.95% quantiles of
    ``Binomial(n_claims, alpha) / n_claims``: a calibrated test lands inside
    with probability >= 99.9%.
    """

    rate: float
    n_claims: int
    alpha: float
    lower: float
    upper: float

    @property
    def within_band(self) -> bool:
        """Whether ``lower <= rate <= upper``."""
        return self.lower <= self.rate <= self.upper


@dataclass(frozen=True)
class PowerResult:
    """Rejection rate with a planted effect and its 95% Clopper-Pearson CI."""

    power: float
    effect_size: float
    n_claims: int
    alpha: float
    low: float
    high: float


@dataclass(frozen=True)
class TokenVsDocumentResult:
    """False positive rates of the same null claims at two levels of analysis."""

    document: CalibrationResult
    token: CalibrationResult


def acceptance_band(n_claims: int, alpha: float) -> tuple[float, float]:
    """Two-sided 99.9% binomial acceptance band for a rejection rate."""
    n_claims = check_int(n_claims, "n_claims", minimum=1)
    alpha = check_probability(alpha, "alpha")
    tail = (1.0 - _BAND_COVERAGE) / 2.0
    lower = stats.binom.ppf(tail, n_claims, alpha) / n_claims
    upper = stats.binom.ppf(1.0 - tail, n_claims, alpha) / n_claims
    return float(lower), float(upper)


def simulate_tokens(
    rng: np.random.Generator,
    n_claims: int,
    n_docs: int,
    design: NestedDesign,
    shift: float = 0.0,
) -> np.ndarray:
    """Simulated token activations of shape ``(n_claims, n_docs, n_tokens)``.

    ``latent = u + e`` with document effect ``u ~ N(shift, tau^2)`` and
    stationary AR(1) token noise ``e`` (coefficient ``phi``, marginal SD
    ``sigma``); with ``design.sparse`` the activation is
    ``max(0, latent - sparse_threshold)``.
    """
    doc_effect = rng.normal(shift, design.tau, size=(n_claims, n_docs, 1))
    innovations = rng.standard_normal((n_claims, n_docs, design.n_tokens))
    innovations *= design.sigma * math.sqrt(1.0 - design.phi**2)
    innovations[..., 0] /= math.sqrt(1.0 - design.phi**2)  # stationary start
    noise = signal.lfilter([1.0], [1.0, -design.phi], innovations, axis=-1)
    latent = doc_effect + noise
    if design.sparse:
        return np.maximum(latent - design.sparse_threshold, 0.0)
    return latent


def _block_pvalues(
    rng: np.random.Generator,
    n_claims: int,
    design: NestedDesign,
    shift: float,
    n_resamples: int,
    alternative: str,
    level: str,
) -> np.ndarray:
    """p-values of ``n_claims`` simulated claims sharing one generator."""
    tokens_a = simulate_tokens(rng, n_claims, design.n_a, design, shift)
    tokens_b = simulate_tokens(rng, n_claims, design.n_b, design, 0.0)
    if level == "document":
        x, y = tokens_a.mean(axis=-1).T, tokens_b.mean(axis=-1).T  # (n_docs, claims)
    else:  # naive: every token an independent observation
        x = tokens_a.reshape(n_claims, -1).T
        y = tokens_b.reshape(n_claims, -1).T
    res = permutation_test(x, y, alternative=alternative, n_resamples=n_resamples, seed=rng)
    return np.asarray(res.pvalue)


def simulate_claim_pvalues(
    n_claims: int,
    *,
    effect_size: float = 0.0,
    n_resamples: int = 999,
    seed: int | None = 0,
    design: NestedDesign | None = None,
    alternative: str = "greater",
    level: str = "document",
) -> np.ndarray:
    """p-values of ``n_claims`` independent simulated claims.

    ``effect_size`` shifts group A's latent document effects by
    ``effect_size * tau``. ``level="token"`` runs the naive token-level test
    on the same kind of data. Claims are simulated in blocks of 50 with
    independent child seeds of ``seed``.
    """
    n_claims = check_int(n_claims, "n_claims", minimum=1)
    effect_size = check_finite_float(effect_size, "effect_size")
    n_resamples = check_int(n_resamples, "n_resamples", minimum=1)
    seed = check_optional_int(seed, "seed", minimum=0)
    design = NestedDesign() if design is None else design
    if not isinstance(design, NestedDesign):
        raise ValueError(f"`design` must be a NestedDesign or None; got {design!r}.")
    alternative = check_choice(alternative, "alternative", ALTERNATIVES)
    level = check_choice(level, "level", ("document", "token"))

    sizes = [min(_BLOCK, n_claims - start) for start in range(0, n_claims, _BLOCK)]
    children = np.random.SeedSequence(seed).spawn(len(sizes))
    shift = effect_size * design.tau
    return np.concatenate(
        [
            _block_pvalues(
                np.random.default_rng(child), size, design, shift, n_resamples, alternative, level
            )
            for child, size in zip(children, sizes, strict=True)
        ]
    )


def _calibration(pvalues: np.ndarray, alpha: float) -> CalibrationResult:
    """Summarise null p-values as a rejection rate with its band."""
    lower, upper = acceptance_band(pvalues.size, alpha)
    rate = float(np.count_nonzero(pvalues <= alpha) / pvalues.size)
    return CalibrationResult(rate, int(pvalues.size), alpha, lower, upper)


def simulate_false_positive_rate(
    n_claims: int = 1000,
    *,
    alpha: float = 0.05,
    n_resamples: int = 999,
    seed: int | None = 0,
    design: NestedDesign | None = None,
    alternative: str = "greater",
    level: str = "document",
) -> CalibrationResult:
    """Share of null claims (no true effect) rejected at ``alpha``."""
    alpha = check_probability(alpha, "alpha")
    pvalues = simulate_claim_pvalues(
        n_claims,
        n_resamples=n_resamples,
        seed=seed,
        design=design,
        alternative=alternative,
        level=level,
    )
    return _calibration(pvalues, alpha)


def simulate_power(
    effect_size: float,
    n_claims: int = 1000,
    *,
    alpha: float = 0.05,
    n_resamples: int = 999,
    seed: int | None = 0,
    design: NestedDesign | None = None,
    alternative: str = "greater",
) -> PowerResult:
    """Share of claims with a planted effect rejected at ``alpha``.

    The effect is a shift of ``effect_size`` between-document SDs (``tau``)
    in the latent document effects of group A.
    """
    alpha = check_probability(alpha, "alpha")
    pvalues = simulate_claim_pvalues(
        n_claims,
        effect_size=effect_size,
        n_resamples=n_resamples,
        seed=seed,
        design=design,
        alternative=alternative,
    )
    hits = int(np.count_nonzero(pvalues <= alpha))
    ci = stats.binomtest(hits, pvalues.size).proportion_ci(0.95, method="exact")
    return PowerResult(
        hits / pvalues.size, float(effect_size), int(pvalues.size), alpha, ci.low, ci.high
    )


def token_vs_document_level(
    n_claims: int = 200,
    *,
    alpha: float = 0.05,
    n_resamples: int = 199,
    seed: int | None = 0,
    design: NestedDesign | None = None,
    alternative: str = "greater",
) -> TokenVsDocumentResult:
    """False positive rate of the naive token-level test vs the document-level one.

    Both levels see the same simulated null data (same ``seed``).
    """
    alpha = check_probability(alpha, "alpha")
    common = dict(n_resamples=n_resamples, seed=seed, design=design, alternative=alternative)
    document = simulate_claim_pvalues(n_claims, level="document", **common)
    token = simulate_claim_pvalues(n_claims, level="token", **common)
    return TokenVsDocumentResult(_calibration(document, alpha), _calibration(token, alpha))


def _row(check: str, data: str, level: str, result: CalibrationResult, resamples: int) -> str:
    """One Markdown table row for a null-calibration result."""
    verdict = "inside" if result.within_band else "OUTSIDE"
    return (
        f"| {check} | {data} | {level} | {result.alpha:g} | {result.n_claims} | {resamples} | "
        f"{result.rate:.4f} | [{result.lower:.4f}, {result.upper:.4f}] | {verdict} |"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Print the calibration table (Markdown) to stdout."""
    parser = argparse.ArgumentParser(description="Print the polytests.stats calibration table.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--claims", type=int, default=20000, help="null claims, document level")
    parser.add_argument("--sparse-claims", type=int, default=10000)
    parser.add_argument("--resamples", type=int, default=999)
    parser.add_argument("--power-claims", type=int, default=2000)
    parser.add_argument("--token-claims", type=int, default=1000)
    parser.add_argument("--token-resamples", type=int, default=199)
    args = parser.parse_args(argv)

    design, sparse = NestedDesign(), NestedDesign(sparse=True)
    common = dict(seed=args.seed, alternative="greater")
    null_p = simulate_claim_pvalues(
        args.claims, n_resamples=args.resamples, design=design, **common
    )
    sparse_p = simulate_claim_pvalues(
        args.sparse_claims, n_resamples=args.resamples, design=sparse, **common
    )
    levels = token_vs_document_level(
        args.token_claims, alpha=0.05, n_resamples=args.token_resamples, design=design, **common
    )
    powers = [
        simulate_power(
            effect, args.power_claims, alpha=0.05, n_resamples=args.resamples,
            design=design, **common,
        )
        for effect in (0.5, 1.0, 1.5)
    ]

    print("| check | data | level | alpha | claims | resamples | rate | band / 95% CI | verdict |")
    print("|---|---|---|---:|---:|---:|---:|---|---|")
    for alpha in (0.05, 0.01):
        print(_row("FPR, no effect", "gaussian", "document", _calibration(null_p, alpha),
                   args.resamples))
    for alpha in (0.05, 0.01):
        print(_row("FPR, no effect", "sparse >= 0", "document", _calibration(sparse_p, alpha),
                   args.resamples))
    print(_row("FPR, no effect", "gaussian", "document", levels.document, args.token_resamples))
    print(_row("FPR, no effect", "gaussian", "token (naive)", levels.token, args.token_resamples))
    for power in powers:
        print(
            f"| power, shift {power.effect_size:g} tau | gaussian | document | "
            f"{power.alpha:g} | {power.n_claims} | {args.resamples} | {power.power:.4f} | "
            f"[{power.low:.4f}, {power.high:.4f}] | - |"
        )
    print()
    print(
        f"Parameters: seed={args.seed}; n_a={design.n_a} vs n_b={design.n_b} documents per "
        f"claim; {design.n_tokens} tokens per document; document effect SD tau={design.tau}; "
        f"AR(1) token noise phi={design.phi}, marginal SD sigma={design.sigma}; sparse data = "
        f"max(0, latent - {sparse.sparse_threshold}). Test: Welch-t permutation test on "
        "per-document means (token level: on pooled tokens), alternative='greater', "
        "reject when p <= alpha. Band: two-sided 99.9% binomial acceptance band "
        "(Binomial(claims, alpha) 0.05% and 99.95% quantiles / claims). "
        "Power CI: 95% Clopper-Pearson."
    )


if __name__ == "__main__":
    main()
