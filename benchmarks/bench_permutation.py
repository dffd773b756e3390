"""polytests' permutation engine against scipy.stats.permutation_test: same data, statistic, alternative, resamples.

The engine (polytests.stats.permutation) is what every bound test of a claim calls:
``permutation_test`` (two groups of documents, Welch's t, documents relabelled) and
``sign_flip_test`` (per-document paired deltas, the one-sample t, signs flipped; the
ablation predicates). scipy is given the same statistic as a vectorised function
(``vectorized=True``, scipy at its best) and, unless ``--no-loop``, also as a plain function
(``vectorized=False``, one call per resample, once). For "two-sided" polytests compares |t|
with |t_observed|; scipy's own "two-sided" doubles the smaller tail instead, so scipy is
given the statistic |t| with alternative "greater", which is the same test.

The data are per-document means as claims see them (right-skewed, gamma-distributed, a
shift between the groups) at realistic sizes: 40 documents of a corpus against 400 of the
baseline, 12 against 60, and a design small enough to be enumerated exactly (6 against 7),
where both must give identical p-values. Both p-values must agree within Monte Carlo error:
``|p_ours - p_scipy| <= 4 * sqrt(2 p (1 - p) / B) + 2 / (B + 1)`` (four standard deviations of
the difference of two independent estimates, ``p`` their mean, plus two resamples' worth of
slack); the benchmark exits 1 otherwise. Times are the median of ``--repeats`` calls.

Usage: python benchmarks/bench_permutation.py [--resamples 9999] [--repeats 5] [--no-loop]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numpy as np
from scipy import stats

from polytests.stats._kernels import jit_enabled
from polytests.stats.permutation import permutation_test, sign_flip_test

ALTERNATIVES = ("greater", "less", "two-sided")


def welch_t(x, y, axis=-1):
    nx, ny = x.shape[axis], y.shape[axis]
    return (np.mean(x, axis=axis) - np.mean(y, axis=axis)) / np.sqrt(
        np.var(x, axis=axis, ddof=1) / nx + np.var(y, axis=axis, ddof=1) / ny)


def abs_welch_t(x, y, axis=-1):
    return np.abs(welch_t(x, y, axis=axis))


def one_sample_t(d, axis=-1):
    return np.mean(d, axis=axis) / np.sqrt(np.var(d, axis=axis, ddof=1) / d.shape[axis])


def abs_one_sample_t(d, axis=-1):
    return np.abs(one_sample_t(d, axis=axis))


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def cases(seed: int):
    """(name, data, kind): two-sample designs and one-sample (sign-flip) designs."""
    rng = np.random.default_rng(seed)
    for nx, ny in ((40, 400), (12, 60), (6, 7)):
        x = rng.gamma(2.0, 0.01, nx) + 0.004  # document means: skewed, a shift of about a fifth of an SD
        y = rng.gamma(2.0, 0.01, ny)
        yield f"two groups, Welch t ({nx} vs {ny} docs)", (x, y), "two-sample"
    for n in (36, 54):
        d = rng.normal(0.0005, 0.004, n) + rng.gamma(1.0, 0.001, n) - 0.001  # per-document loss changes
        yield f"sign flip, one-sample t ({n} docs)", (d,), "one-sample"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resamples", type=int, default=9999)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-loop", action="store_true", help="skip scipy with vectorized=False")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    B = args.resamples
    loops = "compiled (numba)" if jit_enabled() else "NumPy (numba absent or POLYTESTS_JIT=0)"
    print(f"n_resamples {B}; polytests' resampling loops: {loops}; times are the median of {args.repeats} calls"
          + ("" if args.no_loop else "; scipy loop (vectorized=False) timed once") + "\n")
    header = "| test | alternative | polytests (ms) | scipy vectorized (ms) | scipy / polytests |"
    rule = "|---|---|---|---|---|"
    if not args.no_loop:
        header += " scipy loop (ms) | loop / polytests |"
        rule += "---|---|"
    print(header + " p polytests | p scipy | abs difference | allowed | agree |")
    print(rule + "---|---|---|---|---|")
    ratios, failures = [], []
    for c, (name, data, kind) in enumerate(cases(args.seed)):
        for a, alternative in enumerate(ALTERNATIVES):
            seed = 1000 * c + a
            if kind == "two-sample":
                engine = permutation_test
                stat, alt = (abs_welch_t, "greater") if alternative == "two-sided" else (welch_t, alternative)
                ptype = "independent"
                n_arrangements = math.comb(len(data[0]) + len(data[1]), len(data[0]))
            else:
                engine = sign_flip_test
                stat, alt = ((abs_one_sample_t, "greater") if alternative == "two-sided"
                             else (one_sample_t, alternative))
                ptype = "samples"
                n_arrangements = 2 ** len(data[0])

            def ours_fn(engine=engine, data=data, alternative=alternative, seed=seed):
                return engine(*data, alternative=alternative, n_resamples=B, seed=seed)

            def scipy_fn(vectorized=True, data=data, stat=stat, alt=alt, ptype=ptype, seed=seed):
                return stats.permutation_test(data, stat, permutation_type=ptype, vectorized=vectorized,
                                              n_resamples=B, alternative=alt, rng=seed)

            if a == 0:  # warm-up, untimed: first calls pay for imports, caches and loading compiled loops
                ours_fn(), scipy_fn()
            t_ours, ours = _median_time(ours_fn, args.repeats)
            t_scipy, theirs = _median_time(scipy_fn, args.repeats)
            p1, p2 = float(ours.pvalue), float(theirs.pvalue)
            exact = n_arrangements <= B  # both enumerate every arrangement: p-values must be identical
            p = (p1 + p2) / 2
            allowed = 1e-12 if exact else 4 * math.sqrt(2 * p * (1 - p) / B) + 2 / (B + 1)
            agree = abs(p1 - p2) <= allowed
            if not agree:
                failures.append(f"{name}, {alternative}")
            ratios.append(t_scipy / t_ours)
            row = f"| {name} | {alternative} | {t_ours * 1e3:.1f} | {t_scipy * 1e3:.1f} | {t_scipy / t_ours:.1f}x |"
            if not args.no_loop:
                t_loop, _ = _median_time(lambda: scipy_fn(vectorized=False), 1)
                row += f" {t_loop * 1e3:.0f} | {t_loop / t_ours:.0f}x |"
            print(row + f" {p1:.4f} | {p2:.4f} | {abs(p1 - p2):.4f} | {'exact: 0' if exact else f'{allowed:.4f}'} "
                  f"| {'yes' if agree else '**NO**'} |", flush=True)
    print(f"\nscipy vectorized / polytests: median {statistics.median(ratios):.1f}x, smallest {min(ratios):.1f}x "
          f"over {len(ratios)} tests. Target: at least 50x "
          f"({'met' if min(ratios) >= 50 else 'NOT met'}).")
    if failures:
        print(f"\nP-VALUES DISAGREE beyond Monte Carlo error: {failures}")
        return 1
    print(f"All {len(ratios)} p-values agree within Monte Carlo error (identical where exact).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
