"""The statistics layer of polytests: pure functions on numpy arrays.

Every function here takes per-document values (the document is the unit of
analysis; tokens of one document are never treated as independent) and
returns a frozen result dataclass. Nothing here knows about models, tokens or
torch. Resampling is seeded and deterministic: the same inputs and the same
integer seed give bit-identical results.

* :mod:`~polytests.stats.permutation` -- Welch-t permutation test and
  sign-flip test (Monte Carlo with the +1 correction, or exact enumeration).
* :mod:`~polytests.stats.effects` -- bootstrap CI of the mean difference,
  Hedges' g, probability of superiority, share in direction.
* :mod:`~polytests.stats.equivalence` -- TOST equivalence tests.
* :mod:`~polytests.stats.multiplicity` -- Holm / BH adjustment,
  intersection-union, Monte Carlo resolution check.
* :mod:`~polytests.stats.calibration` -- simulation study of the false
  positive rate and power (not imported here; run
  ``python -m polytests.stats.calibration``).

See ``docs/statistics.md`` for the reasoning behind each choice.
"""

from polytests.stats.effects import (
    ConfidenceInterval,
    EffectSizes,
    effect_sizes,
    hedges_g,
    mean_difference_ci,
    probability_of_superiority,
    share_in_direction,
)
from polytests.stats.equivalence import (
    EquivalenceResult,
    equivalence_test,
    equivalence_test_one_sample,
)
from polytests.stats.multiplicity import adjust_pvalues, intersection_union, resolution_ok
from polytests.stats.permutation import (
    PermutationResult,
    min_attainable_pvalue,
    permutation_test,
    pvalue_floor,
    sign_flip_test,
)

__all__ = [
    "ConfidenceInterval",
    "EffectSizes",
    "EquivalenceResult",
    "PermutationResult",
    "adjust_pvalues",
    "effect_sizes",
    "equivalence_test",
    "equivalence_test_one_sample",
    "hedges_g",
    "intersection_union",
    "mean_difference_ci",
    "min_attainable_pvalue",
    "permutation_test",
    "probability_of_superiority",
    "pvalue_floor",
    "resolution_ok",
    "share_in_direction",
    "sign_flip_test",
]
