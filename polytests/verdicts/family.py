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
adjusted p follows from adjusting the ranges' ends). The runner resamples an unresolved
claim again with ten times the resamples, up to a limit, and reports "undecided by Monte
Carlo resolution" only when that does not settle it (the resolve-or-abstain rule of Gandy
2009, with the resampling risk bounded by the ranges' 0.1% per p-value and round).
"""

from __future__ import annotations

from dataclasses import dataclass

from polytests.stats import adjust_pvalues

__all__ = ["FamilyDecision", "family_verdicts"]

Span = tuple[float, float]


@dataclass(frozen=True)
class FamilyDecision:
    """One claim's two adjusted p-values, with their ranges under Monte Carlo error."""

    above: float
    below: float
    above_range: Span
    below_range: Span

    @property
    def decision_p(self) -> float:
        return min(self.above, self.below)

    def bracket(self, side: str) -> Span:
        return self.above_range if side == "above" else self.below_range

    def shown(self, alpha: float) -> str | None:
        return "above" if self.above <= alpha else "below" if self.below <= alpha else None

    def resolved(self, alpha: float) -> bool:
        """Whether the decision at ``alpha`` is the same over the whole Monte Carlo range: a side
        shown stays shown, and no side that is not shown could be."""
        side = self.shown(alpha)
        if side is not None:
            return self.bracket(side)[1] <= alpha
        return self.above_range[0] > alpha and self.below_range[0] > alpha


def family_verdicts(sides: list[tuple[float | None, float]], ranges: list[tuple[Span, Span]],
                    correction: str) -> list[FamilyDecision]:
    """Adjusted p-values of every claim's two sides, corrected over all 2m of them.

    ``sides``: each claim's (p above, p below); p above None when the claim could not be
    tested (it enters with p = 1 on both sides, which can only make the others' adjusted
    p-values larger). ``ranges``: each claim's Monte Carlo ranges of the two (a point when
    exact). The adjusted p-values of Holm, Bonferroni and BH are non-decreasing in every
    input, so adjusting the ranges' lower ends and upper ends bounds each adjusted p.
    """
    m = len(sides)
    if m == 0:
        return []
    above = [1.0 if a is None else a for a, _ in sides]
    below = [1.0 if a is None else b for a, b in sides]
    spans = [((1.0, 1.0), (1.0, 1.0)) if a is None else r for (a, _), r in zip(sides, ranges, strict=True)]
    lows = [r[0][0] for r in spans] + [r[1][0] for r in spans]
    highs = [r[0][1] for r in spans] + [r[1][1] for r in spans]
    adjusted = adjust_pvalues(above + below, method=correction)
    adjusted_low = adjust_pvalues(lows, method=correction)
    adjusted_high = adjust_pvalues(highs, method=correction)
    return [FamilyDecision(float(adjusted[i]), float(adjusted[m + i]),
                           (float(adjusted_low[i]), float(adjusted_high[i])),
                           (float(adjusted_low[m + i]), float(adjusted_high[m + i])))
            for i in range(m)]
