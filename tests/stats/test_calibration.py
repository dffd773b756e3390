"""Simulation checks: the document-level test is calibrated and has power."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from polytests.stats.calibration import (
    CalibrationResult,
    NestedDesign,
    acceptance_band,
    main,
    simulate_claim_pvalues,
    simulate_false_positive_rate,
    simulate_power,
    simulate_tokens,
    token_vs_document_level,
)


def test_simulated_tokens_have_the_nested_structure():
    design = NestedDesign(tau=2.0, sigma=1.0, phi=0.6, n_tokens=200)
    tokens = simulate_tokens(np.random.default_rng(0), 50, 40, design, shift=3.0)
    assert tokens.shape == (50, 40, 200)
    doc_means = tokens.mean(axis=-1)
    assert doc_means.mean() == pytest.approx(3.0, abs=0.1)
    assert doc_means.std() == pytest.approx(2.0, rel=0.05)  # between-document SD ~ tau
    noise = tokens - doc_means[..., None]
    assert noise.std() == pytest.approx(1.0, rel=0.05)
    lag1 = np.mean(noise[..., 1:] * noise[..., :-1]) / np.mean(noise**2)
    assert lag1 == pytest.approx(0.6, abs=0.05)


def test_sparse_tokens_are_nonnegative_and_mostly_zero():
    tokens = simulate_tokens(np.random.default_rng(1), 20, 30, NestedDesign(sparse=True))
    assert tokens.min() == 0.0
    assert 0.6 < np.mean(tokens == 0.0) < 0.9


def test_document_level_false_positive_rate_is_within_binomial_band():
    res = simulate_false_positive_rate(1000, alpha=0.05, n_resamples=499, seed=1)
    assert isinstance(res, CalibrationResult)
    assert res.n_claims == 1000
    assert res.lower <= res.rate <= res.upper, res
    assert res.within_band


def test_sparse_nonnegative_false_positive_rate_is_within_band():
    res = simulate_false_positive_rate(
        1000, n_resamples=499, seed=2, design=NestedDesign(sparse=True)
    )
    assert res.within_band, res


def test_null_pvalues_are_roughly_uniform():
    p = simulate_claim_pvalues(1000, n_resamples=199, seed=3)
    # discrete p-values on a 1/200 grid: KS distance to U(0, 1) stays small
    assert stats.kstest(p, "uniform").statistic < 0.06
    assert p.min() >= 1 / 200


def test_planted_large_effect_has_power():
    res = simulate_power(1.5, 300, n_resamples=199, seed=4)
    assert res.power > 0.8, res
    assert res.low <= res.power <= res.high


def test_power_grows_with_effect_size():
    powers = [simulate_power(e, 200, n_resamples=199, seed=5).power for e in (0.0, 0.5, 1.0)]
    assert powers[0] < powers[1] < powers[2]


def test_naive_token_level_test_is_anticonservative():
    res = token_vs_document_level(100, n_resamples=99, seed=6)
    assert res.token.rate > res.token.upper, res
    assert res.document.within_band, res


def test_simulation_is_deterministic():
    a = simulate_claim_pvalues(120, n_resamples=99, seed=7)
    b = simulate_claim_pvalues(120, n_resamples=99, seed=7)
    c = simulate_claim_pvalues(120, n_resamples=99, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_acceptance_band_is_binomial_quantiles():
    lower, upper = acceptance_band(1000, 0.05)
    assert lower == stats.binom.ppf(0.0005, 1000, 0.05) / 1000
    assert upper == stats.binom.ppf(0.9995, 1000, 0.05) / 1000
    assert lower < 0.05 < upper


def test_design_validation():
    with pytest.raises(ValueError, match="`phi`"):
        NestedDesign(phi=1.0)
    with pytest.raises(ValueError, match="`n_a`"):
        NestedDesign(n_a=1)
    with pytest.raises(ValueError, match="`level`"):
        simulate_claim_pvalues(10, level="sentence")


def test_main_prints_markdown_table(capsys):
    main([
        "--claims", "100", "--sparse-claims", "100", "--resamples", "99",
        "--power-claims", "50", "--token-claims", "50", "--token-resamples", "49",
    ])
    out = capsys.readouterr().out
    assert out.startswith("| check |")
    assert "token (naive)" in out and "power, shift 1.5 tau" in out
    assert "seed=0" in out
