"""Hunting: candidate claims from a scan of every neuron on the explore split.

For each corpus and every neuron of the requested layers, a one-sided document-level
permutation test (Welch t, the same label shuffles for all neurons) of the per-document mean
activation on that corpus against all other corpora. The scan is its own exploratory family:
q-values by Benjamini-Hochberg over every (corpus, neuron) test. The strongest candidates
(by Hedges' g among q <= q_max) become claim tables to be judged on the confirm split, never
on the split they were found on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polytests.stats import adjust_pvalues, hedges_g, permutation_test


@dataclass(frozen=True)
class Candidate:
    neuron: str
    corpus: str
    hedges_g: float
    difference: float
    pvalue: float
    qvalue: float


def scan(store, layers, *, n_resamples: int = 999, seed: int = 0) -> list[Candidate]:
    """Every (corpus, neuron) test of the scan, with BH q-values over all of them."""
    rows = []
    corpus_of = np.asarray(store.tokens.corpus_of_doc)
    for layer in layers:
        means = store.collection.stats[layer].mean  # [docs, neurons]
        means = np.nan_to_num(means)
        for j, corpus in enumerate(store.corpora):
            inside = corpus_of == corpus
            x, y = means[inside], means[~inside]
            test = permutation_test(x, y, alternative="greater", n_resamples=n_resamples, seed=seed + 7919 * j)
            g = np.nan_to_num(hedges_g(x, y), posinf=1e9, neginf=-1e9)
            diff = x.mean(0) - y.mean(0)
            for n in range(means.shape[1]):
                rows.append((f"L{layer}N{n}", corpus, float(g[n]), float(diff[n]), float(test.pvalue[n])))
    q = adjust_pvalues(np.array([r[4] for r in rows]), method="bh")
    return [Candidate(*r, float(qv)) for r, qv in zip(rows, q, strict=True)]


def candidate_claims(candidates: list[Candidate], *, top: int = 10, q_max: float = 0.05) -> str:
    """TOML claim tables for the strongest candidates: single-corpus neurons as fires_on plus
    not_explained_by_one_token, neurons selective for two corpora as polysemantic."""
    hits = [c for c in candidates if c.qvalue <= q_max and c.difference > 0]
    by_neuron: dict[str, list[Candidate]] = {}
    for c in sorted(hits, key=lambda c: -c.hedges_g):
        by_neuron.setdefault(c.neuron, []).append(c)
    ranked = sorted(by_neuron.items(), key=lambda kv: -kv[1][0].hedges_g)[:top]
    blocks = []
    for neuron, found in ranked:
        found = found[:2]
        words = ", ".join(f"{c.corpus} (g={c.hedges_g:.2f}, q={c.qvalue:.2g})" for c in found)
        header = (f"# hunt on explore: {neuron} selective for {words}\n[[claim]]\n"
                  f'id = "{neuron.lower()}-{"-".join(c.corpus for c in found)}"\nneuron = "{neuron}"\n')
        if len(found) == 2:
            a, b = found[0].corpus, found[1].corpus
            blocks.append(header + f'statement = "{neuron} fires on both {a} and {b}, also without their shared '
                          f'tokens"\n\n[[claim.predicate]]\nkind = "polysemantic"\ncorpora = ["{a}", "{b}"]\n'
                          "exclude_shared_tokens = true\n")
        else:
            c = found[0].corpus
            blocks.append(header + f'statement = "{neuron} fires on {c}, and not through one token"\n\n'
                          f'[[claim.predicate]]\nkind = "fires_on"\ncorpus = "{c}"\n\n'
                          f'[[claim.predicate]]\nkind = "not_explained_by_one_token"\ncorpus = "{c}"\n')
    return "\n".join(blocks)
