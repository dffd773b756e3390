# tried: a wrong keyword to claim() (neurn=)
# field: neurn
# error: unknown key 'neurn' in a claim; did you mean 'neuron'?

from polytests import claim, fires_on

bad = claim(id="py-keyword", statement="s", neurn="L1N3",  # <-
            predicates=[fires_on("alpha")])
