"""A claim's verdict from its predicates' results (polytests/verdicts/decide.py), on hand-made results
whose right answer is known: which p-value combines how, which predicate the reason names, which
verdict each side of alpha gives, and what the reason tells the reader to do."""

from __future__ import annotations

import pytest

from polytests.claims.results import PredicateResult
from polytests.verdicts import FamilyDecision
from polytests.verdicts.decide import claim_pvalues, claim_ranges, decide, refinable


def result(p=0.01, refute=0.9, **kw):
    fields = dict(kind="fires_on", description="d", pvalue=p, summary="the summary", min_pvalue=0.001,
                  pvalue_refute=refute, estimate=0.3, bound=0.1, ci=(0.2, 0.4), units="activation")
    return PredicateResult(**(fields | kw))


def point(above, below):
    """A decision whose adjusted p-values are exact (their Monte Carlo range is a point)."""
    return FamilyDecision(above, below, (above, above), (below, below))


# --- claim_pvalues / claim_ranges: intersection-union above, Bonferroni below -----------------------

def test_p_above_is_the_largest_and_p_below_the_bonferroni_of_the_smallest():
    rs = [result(0.01, 0.3), result(0.04, 0.2), result(0.02, None)]  # no refute p: counts as 1
    above, below = claim_pvalues(rs)
    assert above == 0.04 and below == pytest.approx(3 * 0.2)
    assert type(above) is float and type(below) is float
    assert claim_pvalues([result(0.01, 0.6), result(0.01, 0.7)]) == (0.01, 1.0)  # 2 * 0.6 capped at 1
    assert claim_pvalues([result(0.01, None)]) == (0.01, 1.0)


def test_a_claim_with_an_untested_predicate_or_none_has_no_p_above():
    assert claim_pvalues([]) == (None, 1.0)
    assert claim_pvalues([result(0.01, 0.02), result(None, None)]) == (None, 1.0)
    assert claim_ranges([]) == ((1.0, 1.0), (1.0, 1.0))
    assert claim_ranges([result(0.01, 0.02, pvalue_range=(0.0, 0.02)), result(None, None)]) == ((1.0, 1.0),
                                                                                                 (1.0, 1.0))


def test_ranges_combine_as_the_p_values_do_and_an_exact_p_is_its_own_range():
    rs = [result(0.01, 0.27, pvalue_range=(0.005, 0.02), pvalue_refute_range=(0.25, 0.28)),
          result(0.04, 0.2),  # exact: its ranges are its p-values
          result(0.02, None, pvalue_range=(0.01, 0.03))]  # no refute p: (1, 1)
    above, below = claim_ranges(rs)
    assert above == (0.04, 0.04)  # the exact 0.04 is the largest at both ends
    assert below == pytest.approx((3 * 0.2, 3 * 0.2))
    rs[1] = result(0.004, 0.2, pvalue_refute_range=(0.1, 0.4))
    above, below = claim_ranges(rs)
    assert above == (0.01, 0.03) and below == pytest.approx((3 * 0.1, 3 * 0.28))
    # the ranges contain the p-values they bound
    p_above, p_below = claim_pvalues(rs)
    assert above[0] <= p_above <= above[1] and below[0] <= p_below <= below[1]


def test_refinable_when_any_predicate_has_resamples():
    assert refinable([result(resamples=0), result(resamples=999)])
    assert not refinable([result(resamples=0), result(resamples=0)])


# --- decide ------------------------------------------------------------------------------------------

def test_an_untested_predicate_makes_the_claim_inconclusive_with_its_reason():
    rs = [result(0.001), result(None, None, kind="silent_on", inconclusive_reason="too few documents: 3")]
    assert decide(rs, None, 1.0, point(0.001, 1.0), 0.05, 1, "holm") == (
        "inconclusive", "silent_on: too few documents: 3")


def test_confirmed_names_the_weakest_predicate_and_the_family():
    weakest = result(0.02, 0.9, kind="polysemantic", estimate=0.25, bound=0.1, ci=(0.15, 0.35), units="activation")
    rs = [result(0.01, 0.8, estimate=0.9), weakest]
    verdict, reason = decide(rs, 0.02, 1.0, point(0.03, 1.0), 0.05, 3, "holm")
    assert verdict == "confirmed"
    assert reason == ("shown above the bound: polysemantic: estimate +0.25 [+0.15, +0.35] vs bound +0.1 activation; "
                      "p above 0.02, holm-adjusted 0.03 <= alpha 0.05 "
                      "(holm over the family's 6 one-sided hypotheses (3 claims))")


def test_an_adjusted_p_equal_to_alpha_is_shown():
    assert decide([result(0.05)], 0.05, 1.0, point(0.05, 1.0), 0.05, 1, "holm")[0] == "confirmed"
    assert decide([result(0.9, 0.05)], 0.9, 0.05, point(1.0, 0.05), 0.05, 1, "holm")[0] == "refuted"


def test_refuted_names_the_predicate_that_fails_most_clearly():
    untestable_side = result(0.5, None, estimate=0.7)  # no refute p: counts as 1, never the decider
    failing = result(0.6, 0.004, kind="silent_on", estimate=-0.2, bound=0.05, ci=None, units="")
    rs = [untestable_side, result(0.7, 0.3, estimate=0.5), failing]
    verdict, reason = decide(rs, 0.7, 0.012, point(1.0, 0.024), 0.05, 2, "bonferroni")
    assert verdict == "refuted"
    # no ci: no bracket; no units: no trailing space
    assert reason == ("shown below the bound: silent_on: estimate -0.2 vs bound +0.05; p below 0.012, "
                      "bonferroni-adjusted 0.024 <= alpha 0.05 "
                      "(bonferroni over the family's 4 one-sided hypotheses (2 claims))")


def test_a_predicate_without_an_estimate_or_bound_is_described_by_its_summary():
    for missing in ({"estimate": None}, {"bound": None}):
        r = result(0.01, summary="top 10 documents: 9 from spanish", **missing)
        reason = decide([r], 0.01, 1.0, point(0.01, 1.0), 0.05, 1, "holm")[1]
        assert reason.startswith("shown above the bound: top 10 documents: 9 from spanish; p above 0.01")


def test_a_side_shown_within_monte_carlo_error_of_alpha_is_undecided():
    unsure = FamilyDecision(0.04, 0.9, (0.03, 0.06), (0.8, 1.0))
    rs = [result(0.02, resamples=0), result(0.04, resamples=9999)]
    verdict, reason = decide(rs, 0.04, 0.9, unsure, 0.05, 1, "holm", resamples=9999)
    assert verdict == "inconclusive"
    assert reason == ("undecided by Monte Carlo resolution: the adjusted p above the bound is 0.04, but its 99.9% "
                      "Monte Carlo range [0.03, 0.06] straddles alpha 0.05; more resamples (now 9,999: "
                      "--polytests-resamples) would narrow it")
    below = FamilyDecision(0.9, 0.045, (0.8, 1.0), (0.02, 0.07))
    verdict, reason = decide([result(0.9, 0.02, resamples=0)], 0.9, 0.02, below, 0.05, 1, "holm")
    assert verdict == "inconclusive"
    assert reason == ("undecided by Monte Carlo resolution: the adjusted p below the bound is 0.045, but its 99.9% "
                      "Monte Carlo range [0.02, 0.07] straddles alpha 0.05; more matched null neurons (n_null) "
                      "would narrow it, where the layer has them")
    # the top of the range at alpha itself still decides
    edge = FamilyDecision(0.04, 0.9, (0.03, 0.05), (0.9, 0.9))
    assert decide(rs, 0.04, 0.9, edge, 0.05, 1, "holm")[0] == "confirmed"


def test_neither_side_shown_reports_both_p_values_and_the_documents_needed():
    weakest = result(0.3, 0.6, estimate=0.12, documents_needed=1234.4, documents=50)  # not the smallest p below
    rs = [result(0.01, 0.5, documents_needed=10.0, documents=50), weakest]
    decision = FamilyDecision(0.6, 0.8, (0.55, 0.65), (0.75, 0.85))  # not shown, nor could it be
    verdict, reason = decide(rs, 0.3, 0.8, decision, 0.05, 1, "bh")
    assert verdict == "inconclusive"
    assert reason == ("neither shown above nor below the bound: fires_on: estimate +0.12 [+0.2, +0.4] vs bound "
                      "+0.1 activation; p above 0.3 (adjusted 0.6), p below 0.8 (adjusted 0.8), bh over the "
                      "family's 2 one-sided hypotheses (1 claims): neither <= alpha 0.05; about 1,234 documents "
                      "would decide it at this effect with 80% power (now 50).")


def test_a_range_that_reaches_alpha_without_a_side_shown_is_still_neither_shown():
    maybe = FamilyDecision(0.06, 0.9, (0.04, 0.08), (0.9, 0.9))  # unresolved, but nothing is shown
    verdict, reason = decide([result(0.06)], 0.06, 0.9, maybe, 0.05, 1, "holm")
    assert verdict == "inconclusive" and reason.startswith("neither shown above nor below the bound")


def test_an_effect_on_its_bound_needs_no_number_of_documents_and_no_hint_without_documents():
    on_bound = result(0.5, 0.5, documents_needed=float("inf"), documents=40)
    reason = decide([on_bound], 0.5, 0.5, point(1.0, 1.0), 0.05, 1, "holm")[1]
    assert reason.endswith("neither <= alpha 0.05 (no number of documents decides an effect that sits on its bound).")
    for r in (result(0.5, 0.5, documents_needed=200.0, documents=0), result(0.5, 0.5, documents_needed=None,
                                                                            documents=40)):
        reason = decide([r], 0.5, 0.5, point(1.0, 1.0), 0.05, 1, "holm")[1]
        assert reason.endswith("neither <= alpha 0.05.")


def test_a_design_that_cannot_reach_alpha_says_so_with_its_largest_floor():
    rs = [result(0.3, 0.5, min_pvalue=0.01), result(0.2, 0.6, min_pvalue=0.1)]
    verdict, reason = decide(rs, 0.3, 1.0, point(0.6, 1.0), 0.05, 1, "holm")
    assert verdict == "inconclusive"
    assert reason == ("neither shown: fires_on: estimate +0.3 [+0.2, +0.4] vs bound +0.1 activation. The design "
                      "cannot reach alpha=0.05: its smallest attainable p is 0.1 (add documents, resamples or "
                      "null neurons)")
    # a floor at alpha itself can reach it
    at_alpha = [result(0.3, 0.5, min_pvalue=0.05)]
    assert "cannot reach" not in decide(at_alpha, 0.3, 0.5, point(0.6, 1.0), 0.05, 1, "holm")[1]


def test_a_floor_above_holms_first_threshold_is_decisive_only_with_the_rest_of_the_family():
    # m = 2: Holm's and Bonferroni's smallest threshold is alpha / 4 = 0.0125
    note = " Its smallest attainable p (0.02) is decisive only if the rest of the family is."
    for correction in ("holm", "bonferroni"):
        reason = decide([result(0.3, 0.5, min_pvalue=0.02)], 0.3, 0.5, point(0.6, 1.0), 0.05, 2, correction)[1]
        assert reason.endswith("neither <= alpha 0.05." + note)
    # BH's largest threshold is alpha itself; and a floor at alpha / 4 reaches every threshold
    assert "decisive only if" not in decide([result(0.3, 0.5, min_pvalue=0.02)], 0.3, 0.5, point(0.6, 1.0),
                                            0.05, 2, "bh")[1]
    assert "decisive only if" not in decide([result(0.3, 0.5, min_pvalue=0.0125)], 0.3, 0.5, point(0.6, 1.0),
                                            0.05, 2, "holm")[1]
