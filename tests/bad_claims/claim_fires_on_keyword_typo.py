# tried: a wrong keyword to fires_on() (basline=)
# field: predicates[0].basline
# error: unknown key 'basline' for fires_on; did you mean 'baseline'?

from polytests import claim, fires_on

bad = claim(id="py-fires-keyword", statement="s", neuron="L1N3",
            predicates=[fires_on("alpha", basline=["beta"])])  # <-
