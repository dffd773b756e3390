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

import importlib

# Each public name and the module that defines it, imported on first use (PEP 562): the family
# correction of a run whose results are all cached needs only multiplicity, not scipy.stats.
_HOME = {
    "ConfidenceInterval": "effects", "EffectSizes": "effects", "effect_sizes": "effects", "hedges_g": "effects",
    "mean_difference_ci": "effects", "probability_of_superiority": "effects", "share_in_direction": "effects",
    "EquivalenceResult": "equivalence", "equivalence_test": "equivalence",
    "equivalence_test_one_sample": "equivalence",
    "adjust_pvalues": "multiplicity", "intersection_union": "multiplicity", "resolution_ok": "multiplicity",
    "PermutationResult": "permutation", "min_attainable_pvalue": "permutation", "permutation_test": "permutation",
    "pvalue_floor": "permutation", "sign_flip_test": "permutation",
}


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(f"polytests.stats.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'polytests.stats' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME))


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
