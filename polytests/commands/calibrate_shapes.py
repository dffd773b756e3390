"""``polytests calibrate``, second part: wrong verdicts at the bound on the model's own shapes,
with effects that are not shifts.

The first part (:mod:`polytests.commands.calibrate`) puts a true effect on the bound by ADDING the
bound to the claimed side: a pure shift, the one case every test gets right. Here the
populations are the model's own per-document values, changed as real effects change
them, and the bound is put exactly on the true effect of the estimand each test judges
(the median of pairwise differences for the verdicts' test, the difference of means for
the mean test the verdicts used before), so that "confirmed" and "refuted" are both wrong:

* ``claimed side x2``: the claimed documents are a corpus's documents with their values
  doubled (an effect that scales), the baseline the same corpus's;
* ``baseline x2``: the baseline doubled instead (the baseline the more skewed group);
* ``claimed side 70% zero``: the claimed documents are the corpus's, each set to 0 with
  probability 0.7 (zero-inflated), against the same corpus;
* ``two corpora``: one real corpus against another, as they are;
* named neurons (``--neuron``, e.g. the issue's L1N362 and L1N494): their strongest corpus
  doubled against the other corpora.

Each simulated claim draws 12 claimed and 60 baseline documents with replacement from the
populations. A last row groups the "two corpora" claims in families of five and counts
families with any wrong verdict after Holm over their ten one-sided hypotheses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polytests.stats.bounds import bound_test, mean_bound_test
from polytests.stats.calibration import acceptance_band
from polytests.verdicts import family_verdicts

__all__ = ["ShapeRow", "shape_rows"]

N_CLAIMED, N_BASELINE = 12, 60


@dataclass(frozen=True)
class ShapeRow:
    """Rates of wrong verdicts under the verdicts' rule (each side at alpha / 2, as Holm over a
    claim's two sides does at most), and, for reading, of each one-sided test alone at alpha."""

    scenario: str
    test: str
    confirmed: float  # p above <= alpha / 2
    refuted: float  # p below <= alpha / 2
    any_wrong: float
    n: int
    alpha: float
    confirmed_at_alpha: float = float("nan")  # p above <= alpha (one side alone)
    refuted_at_alpha: float = float("nan")

    @property
    def ok(self) -> bool:
        high = acceptance_band(self.n, self.alpha)[1]
        return bool(np.nanmax([self.confirmed, self.refuted, self.any_wrong]) <= high)

    def markdown(self) -> str:
        high = acceptance_band(self.n, self.alpha)[1]
        cells = ["-" if np.isnan(v) else f"{v:.3f}" for v in (
            self.confirmed, self.refuted, self.any_wrong, self.confirmed_at_alpha, self.refuted_at_alpha)]
        return (f"| {self.scenario} | {self.test} | {' | '.join(cells)} | {self.n} | <= {high:.3f} | "
                f"{'ok' if self.ok else 'TOO HIGH'} |")


def _true_shift(x_pop: np.ndarray, y_pop: np.ndarray, x_zero: float = 0.0) -> float:
    """The median of X - Y for X, Y drawn from the populations (X is 0 with probability ``x_zero``)."""
    diffs = np.subtract.outer(x_pop, y_pop).ravel()
    weights = np.full(diffs.size, (1.0 - x_zero) / diffs.size)
    if x_zero > 0:
        diffs = np.concatenate([diffs, -y_pop])
        weights = np.concatenate([weights, np.full(y_pop.size, x_zero / y_pop.size)])
    order = np.argsort(diffs, kind="stable")
    cum = np.cumsum(weights[order])
    return float(diffs[order][np.searchsorted(cum, 0.5)])


def _scenario(rng, name: str, populations, n_claims: int, alpha: float, resamples: int, seed: int,
              rows: list[ShapeRow]) -> dict[str, list]:
    """``populations(i)`` gives the i-th claim's (x population, y population, share of x set to 0).
    Appends a row per test; returns each test's (p above, p below) per claim."""
    claims = []
    for i in range(n_claims):
        x_pop, y_pop, x_zero = populations(i)
        x = rng.choice(x_pop, size=N_CLAIMED, replace=True)
        if x_zero:
            x = np.where(rng.random(N_CLAIMED) < x_zero, 0.0, x)
        y = rng.choice(y_pop, size=N_BASELINE, replace=True)
        bounds = {"shift": _true_shift(x_pop, y_pop, x_zero), "mean": (1 - x_zero) * x_pop.mean() - y_pop.mean()}
        claims.append((x, y, bounds))
    sides: dict[str, list] = {}
    for test, label, run in (("mean", "mean difference (before)", mean_bound_test), ("shift", "shift (now)", bound_test)):
        results = [run(x, y, bounds[test], n_resamples=resamples, seed=seed + i) for i, (x, y, bounds) in enumerate(claims)]
        sides[test] = [(r.pvalue_above, r.pvalue_below) for r in results]
        rows.append(ShapeRow(name, label, float(np.mean([a <= alpha / 2 for a, _ in sides[test]])),
                             float(np.mean([b <= alpha / 2 for _, b in sides[test]])),
                             float(np.mean([min(a, b) <= alpha / 2 for a, b in sides[test]])), n_claims, alpha,
                             float(np.mean([a <= alpha for a, _ in sides[test]])),
                             float(np.mean([b <= alpha for _, b in sides[test]]))))
    return sides


def _family_row(sides: list, alpha: float, name: str, test: str, size: int = 5) -> ShapeRow:
    families = [sides[i:i + size] for i in range(0, len(sides) - size + 1, size)]
    wrong = 0
    for fam in families:
        decisions = family_verdicts(fam, [((a, a), (b, b)) for a, b in fam], "holm")
        wrong += any(min(d.above, d.below) <= alpha for d in decisions)
    rate = wrong / len(families)
    return ShapeRow(name, test, float("nan"), float("nan"), rate, len(families), alpha)


def shape_rows(values, n_claims: int = 1000, alpha: float = 0.05, resamples: int = 999, seed: int = 0,
               named: dict[str, int] | None = None) -> list[ShapeRow]:
    """Every scenario of the module docstring on ``values`` (a :class:`polytests.commands.calibrate.RealValues`).

    ``named``: neuron name -> its column in ``values.doc_means`` (the ``--neuron`` rows).
    """
    rng = np.random.default_rng(seed)
    corpus_of = values.corpus_of_doc
    corpora = [c for c in sorted(set(corpus_of.tolist())) if np.count_nonzero(corpus_of == c) >= 12]
    n_neurons = values.doc_means.shape[1]
    picks = [(corpora[int(rng.integers(len(corpora)))], corpora[int(rng.integers(len(corpora)))],
              int(rng.integers(n_neurons))) for _ in range(n_claims)]

    def pool(c, j):
        v = values.doc_means[corpus_of == c, j]
        return v[np.isfinite(v)]

    rows: list[ShapeRow] = []
    _scenario(rng, "claimed side x2 (same corpus)", lambda i: (2 * pool(picks[i][0], picks[i][2]),
                                                                pool(picks[i][0], picks[i][2]), 0.0),
              n_claims, alpha, resamples, seed, rows)
    _scenario(rng, "baseline x2 (the baseline more skewed)", lambda i: (pool(picks[i][0], picks[i][2]),
                                                                         2 * pool(picks[i][0], picks[i][2]), 0.0),
              n_claims, alpha, resamples, seed + 1, rows)
    _scenario(rng, "claimed side 70% zero (zero-inflated)", lambda i: (pool(picks[i][0], picks[i][2]),
                                                                        pool(picks[i][0], picks[i][2]), 0.7),
              n_claims, alpha, resamples, seed + 2, rows)
    kept = _scenario(rng, "two corpora as they are", lambda i: (pool(picks[i][0], picks[i][2]),
                                                                 pool(picks[i][1], picks[i][2]), 0.0),
                     n_claims, alpha, resamples, seed + 3, rows)
    rows.append(_family_row(kept["mean"], alpha, "families of 5 (two corpora), Holm over 10", "mean difference (before)"))
    rows.append(_family_row(kept["shift"], alpha, "families of 5 (two corpora), Holm over 10", "shift (now)"))
    for name, j in (named or {}).items():
        means = {c: float(np.mean(pool(c, j))) for c in corpora}
        top = max(means, key=means.get)
        rest = values.doc_means[np.isin(corpus_of, [c for c in corpora if c != top]), j]
        rest = rest[np.isfinite(rest)]
        _scenario(rng, f"{name}: {top} x2 vs the other corpora", lambda i, j=j, top=top, rest=rest: (
            2 * pool(top, j), rest, 0.0), n_claims, alpha, resamples, seed + 4 + j, rows)
    return rows


def render_rows(rows: list[ShapeRow]) -> list[str]:
    lines = ["", "Effects that are not shifts, on the model's own per-document values (12 vs 60 documents drawn "
             "with replacement; the bound on each test's own true effect, so both verdicts are wrong). "
             "Confirmed, refuted and any wrong under the verdicts' rule (each side at alpha / 2: Holm over a "
             "claim's two sides never tests one at more); the last two columns, for reading, each one-sided "
             "test alone at alpha:", "",
             "| scenario | test | confirmed | refuted | any wrong | one side at alpha: confirmed | refuted | claims "
             "| allowed | |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [row.markdown() for row in rows]
    return lines
