# tried: a Python claim file with a syntax error
# error: does not import: SyntaxError

from polytests import claim

bad = claim(id="x",, statement="s")  # <-
