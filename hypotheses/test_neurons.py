"""Claims in the Python form (the same meaning as a TOML claim file): two single-corpus neurons.

Found on the explore split of the embedded model by per-corpus means and `polytests hunt --k 1`;
judged on confirm. Expectations were written before the confirm run.
"""

from polytests import claim, fires_on, not_explained_by_one_token

# On explore: +0.011 vs bound +0.0064 above every other corpus (Fortran the closest).
python_neuron = claim(
    id="l3n344-python",
    statement="L3N344 fires on Python code more than on any other corpus, Fortran included",
    neuron="L3N344",
    predicates=[fires_on("python_code")],
)

# On explore: +0.089 vs bound +0.016 above every other corpus: the strongest single-corpus
# response the hunt found (gibberish is the corpus the model read least of, 3% of its text).
gibberish_neuron = claim(
    id="l3n133-gibberish",
    statement="L3N133 fires on gibberish more than on any other corpus, and not through one token",
    neuron="L3N133",
    predicates=[fires_on("gibberish"), not_explained_by_one_token("gibberish")],
)
