"""Verdicts: the family correction (:mod:`.family`), one claim's decision (:mod:`.decide`) and the
runner that judges a family of claims (:mod:`.runner`, imported on demand: it loads the engine)."""

from polytests.verdicts.family import FamilyDecision, family_verdicts

__all__ = ["FamilyDecision", "family_verdicts"]
