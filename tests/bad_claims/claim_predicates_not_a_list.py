# tried: predicates=fires_on(...) without the list
# field: predicates
# error: predicates must be a list of predicate helpers, got a table

from polytests import claim, fires_on

bad = claim(id="py-not-list", statement="s", neuron="L1N3",  # <-
            predicates=fires_on("alpha"))
