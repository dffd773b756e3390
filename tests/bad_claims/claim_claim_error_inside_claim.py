# tried: a ClaimError inside claim() (no predicate)
# field: predicates
# error: the claim asserts no predicate

from polytests import claim

bad = claim(id="py-empty", statement="s", neuron="L1N3", predicates=[])  # <-
