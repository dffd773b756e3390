"""The hunt: neurons that respond to exactly k of N corpora, and what survives the controls.

Stage 1 (:mod:`~polytests.commands.hunt.scan`) reads every neuron's per-document means and decides,
with bound tests and BH over the whole scan, which corpora each neuron responds to. Stage 2
(:mod:`~polytests.commands.hunt.controls`) collects per-token activations of the top candidates and
runs the claim evaluators as controls (shared tokens excluded, one token removed, same
tokens in another context), flagging artifacts. :mod:`~polytests.commands.hunt.candidates` writes
claim files, :mod:`~polytests.commands.hunt.pictures` the heatmaps and the page. Explore split only.
"""

from polytests.commands.hunt.candidates import (
           candidate_id,
           candidate_toml,
           write_candidates,
)
from polytests.commands.hunt.controls import (
           VERDICTS,
           Candidate,
           Control,
           check_candidate,
)
from polytests.commands.hunt.run import HuntResult, hunt
from polytests.commands.hunt.scan import Responses, scale_top_k, scan_responses

__all__ = ["VERDICTS", "Candidate", "Control", "HuntResult", "Responses", "candidate_id", "candidate_toml",
           "check_candidate", "hunt", "scale_top_k", "scan_responses", "write_candidates"]
