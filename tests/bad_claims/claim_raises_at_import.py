# tried: a claim file that raises at import
# error: does not import: RuntimeError: boom

from polytests import claim, fires_on

raise RuntimeError("boom")  # <-
