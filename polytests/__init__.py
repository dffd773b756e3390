"""polytests: claims about transformer neurons, tested like code."""

__version__ = "0.1.0"

from polytests.claims.api import (
    ablation_hurts,
    ablation_spares,
    ablation_specific,
    claim,
    explained_by,
    fires_on,
    not_explained_by_one_token,
    polysemantic,
    silent_on,
    token_matched,
    top_k_precision,
)
from polytests.claims.model import Claim
from polytests.errors import ClaimError, PolytestsError
from polytests.neurons import NeuronRef

__all__ = [
    "Claim",
    "ClaimError",
    "NeuronRef",
    "PolytestsError",
    "ablation_hurts",
    "ablation_spares",
    "ablation_specific",
    "claim",
    "explained_by",
    "fires_on",
    "not_explained_by_one_token",
    "polysemantic",
    "silent_on",
    "token_matched",
    "top_k_precision",
]
