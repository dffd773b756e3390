"""The hunt: a scan of every neuron, BH q-values, and candidate claims that parse."""

from __future__ import annotations

import numpy as np

from polytests.claims.parse import parse_claim_file
from polytests.hunt import candidate_claims, scan
from tests.helpers import synthetic_store


def planted_store():
    rng = np.random.default_rng(0)
    docs = {c: [list(rng.integers(0, 10, rng.integers(10, 30))) for _ in range(12)]
            for c in ("fortran", "medical", "legal")}
    return synthetic_store(docs, lambda c, i, toks: [(1.0 if c == "fortran" else 0.0) + 0.1 * rng.normal()
                                                     for _ in toks], d_mlp=4)


def test_scan_finds_the_planted_neuron_and_controls_fdr():
    found = scan(planted_store(), [0], n_resamples=999, seed=1)
    assert len(found) == 3 * 4  # corpora x neurons
    best = max(found, key=lambda c: c.hedges_g)
    assert (best.neuron, best.corpus) == ("L0N0", "fortran") and best.qvalue <= 0.05
    assert all(c.qvalue >= c.pvalue for c in found)
    # the unplanted neurons are all zero: no discovery there
    assert not [c for c in found if c.neuron != "L0N0" and c.qvalue <= 0.05]


def test_candidate_claims_parse_as_claim_files(tmp_path):
    text = candidate_claims(scan(planted_store(), [0], n_resamples=999, seed=1), top=5)
    path = tmp_path / "candidates.toml"
    path.write_text(text)
    (claim,) = parse_claim_file(path)
    assert str(claim.neuron) == "L0N0" and [p.kind for p in claim.predicates] == [
        "fires_on", "not_explained_by_one_token"]
    assert candidate_claims([], top=5) == ""
