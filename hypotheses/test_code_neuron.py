"""Claims about a code neuron, in the Python form (same meaning as a TOML claim file).

Found on the explore split: L3N72's mean activation was 1.62 on Fortran and 1.63 on Python
documents, against <= 0.37 on every other corpus.
"""

from polytests import ablation_hurts, ablation_specific, claim, explained_by, polysemantic

code_neuron = claim(
    id="l3n72-code",
    statement="L3N72 fires on both Python and Fortran code, also after excluding the tokens they share",
    neuron="L3N72",
    predicates=[polysemantic("python_code", "fortran", exclude_shared_tokens=True)],
)

# Refuted on the confirm split, kept as a documented false claim: zero-ablating L3N72 *lowers*
# held-out loss on code (about -0.018 nats/token) and every matched random neuron's ablation
# did at least as much. The embedded model overfits its small training split (train loss 3.3,
# explore 5.0), and this neuron's very large code activations do not help held-out text.
# n_null was 199 until the family grew to 11 claims, when 1/200 x 11 could no longer reach
# 0.05 under Holm and the claim became inconclusive; 499 keeps the design able to confirm.
code_neuron_matters = claim(
    id="l3n72-ablation",
    statement="Zero-ablating L3N72 raises next-token loss on code more than ablating matched random "
              "L3 neurons does, and more on code than on the other corpora (refuted: ablation "
              "lowers held-out loss on code)",
    neuron="L3N72",
    expect="refuted",
    predicates=[
        ablation_hurts("python_code", "fortran", kinds=["zero", "mean"], n_null=499),
        ablation_specific("python_code", "fortran", kinds=["zero"]),
    ],
)

# Refuted on the confirm split, kept as a documented false claim: newline/indentation tokens are
# uncorrelated with L3N72 (r = 0.00); its top tokens are identifiers and literals inside code.
newline_explanation = claim(
    id="l3n72-explained-by-newlines",
    statement="L3N72 is explained by newline and indentation tokens (refuted: r = 0.00; it fires "
              "inside identifiers and literals)",
    neuron="L3N72",
    expect="refuted",
    predicates=[explained_by(regex=r"^\s*\n\s*$", min_correlation=0.3)],
)
