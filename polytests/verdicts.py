"""The family correction of the three-decision rule, and Monte Carlo resolution.

Every claim is judged on two one-sided hypotheses against its bound: H_above "effect <=
bound" (rejected: confirmed) and H_below "effect >= bound" (rejected: refuted). Away from
the bound at most one of them is true, but ON the bound both are, and either verdict
would be wrong. Holm's procedure over the family's 2m hypotheses (both sides of every
claim) controls the probability of rejecting any true one at alpha whatever the
dependence between the p-values (Holm 1979): so the probability of any wrong verdict in
the family, confirmed or refuted, is at most alpha. (Holm over each claim's smaller
p-value, as earlier versions did, allowed about 2 alpha per claim at the bound.) For one
claim this is the familiar rule of a two-sided (1 - alpha) interval: each direction at
alpha / 2 (Shaffer 1980; Finner 1999 for three-decision rules).

Monte Carlo p-values are estimates. A decision is only reported when it would be the same
for every p-value in a 99.9% Clopper-Pearson range of each Monte Carlo p (the adjusted
p-values of Holm, Bonferroni and BH are non-decreasing in every input, so the range of each
adjusted p follows from adjusting the ranges' ends); otherwise the claim is "undecided by
Monte Carlo resolution" and the reason names the resamples that would settle it. This is
the resolve-or-abstain rule of Gandy (2009), with the resampling risk bounded per
p-value by the range's 0.1%, and without his sequential stopping: the rerun is the user's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from polytests.stats import adjust_pvalues

__all__ = ["FamilyDecision", "RESOLUTION_RISK", "family_verdicts", "monte_carlo_range"]

# The chance, per Monte Carlo p-value, that its true value lies outside the range checked.
RESOLUTION_RISK = 1e-3


@dataclass(frozen=True)
class FamilyDecision:
    """One claim's two adjusted p-values, with their ranges under Monte Carlo error."""

    above: float
    below: float
    above_range: tuple[float, float]
    below_range: tuple[float, float]
    resamples: tuple[int, int]  # the fewest Monte Carlo resamples behind p above and p below (0: none)

    @property
    def decision_p(self) -> float:
        return min(self.above, self.below)

    def bracket(self, side: str) -> tuple[float, float]:
        return self.above_range if side == "above" else self.below_range

    def resolved(self, alpha: float) -> bool:
        """Whether the side shown at ``alpha`` stays shown over the whole Monte Carlo range."""
        side = "above" if self.above <= alpha else "below" if self.below <= alpha else None
        return side is None or self.bracket(side)[1] <= alpha

    def resamples_to_settle(self, alpha: float, side: str) -> int:
        """Resamples at which the range's half-width would be a tenth of the distance to alpha."""
        p = self.above if side == "above" else self.below
        resamples = self.resamples[0] if side == "above" else self.resamples[1]
        low, high = self.bracket(side)
        width = max(high - low, 1e-12)
        distance = max(abs(alpha - p), 1e-6)
        factor = max(4.0, (10 * width / (2 * distance)) ** 2)
        return int(min(10**7, np.ceil((resamples + 1) * factor / 1000) * 1000 - 1))


def monte_carlo_range(p: float, resamples: int, risk: float = RESOLUTION_RISK) -> tuple[float, float]:
    """Where the p-value of infinitely many resamples lies, given ``p = (1 + c) / (B + 1)``
    from ``B = resamples``: the Clopper-Pearson interval of ``c / B`` at ``1 - risk``, widened to
    contain ``p`` itself (part of a p may come from an analytic test with no Monte Carlo error)."""
    if resamples <= 0:
        return p, p
    count = int(round(min(max(p * (resamples + 1) - 1, 0.0), resamples)))
    low = 0.0 if count == 0 else float(stats.beta.ppf(risk / 2, count, resamples - count + 1))
    high = 1.0 if count == resamples else float(stats.beta.ppf(1 - risk / 2, count + 1, resamples - count))
    return min(low, p), max(high, p)


def family_verdicts(sides: list[tuple[float | None, float]], resamples: list[tuple[int, int]],
                    correction: str) -> list[FamilyDecision]:
    """Adjusted p-values of every claim's two sides, corrected over all 2m of them.

    ``sides``: each claim's (p above, p below), p above None when the claim could not be
    tested (it enters with p = 1 on both sides, which can only make the others' adjusted
    p-values larger). ``resamples``: each claim's fewest Monte Carlo resamples behind its p above
    and its p below (0: exact or analytic).
    """
    m = len(sides)
    if m == 0:
        return []
    above = np.array([1.0 if a is None else a for a, _ in sides])
    below = np.array([1.0 if a is None else b for a, b in sides])
    counts = [a for a, _ in resamples] + [b for _, b in resamples]
    ranges = [monte_carlo_range(float(p), r) for p, r in zip(np.concatenate([above, below]), counts, strict=True)]
    lows, highs = np.array([lo for lo, _ in ranges]), np.array([hi for _, hi in ranges])
    adjusted = adjust_pvalues(np.concatenate([above, below]), method=correction)
    adjusted_low = adjust_pvalues(lows, method=correction)
    adjusted_high = adjust_pvalues(highs, method=correction)
    return [FamilyDecision(float(adjusted[i]), float(adjusted[m + i]),
                           (float(adjusted_low[i]), float(adjusted_high[i])),
                           (float(adjusted_low[m + i]), float(adjusted_high[m + i])),
                           (int(resamples[i][0]), int(resamples[i][1])))
            for i in range(m)]
