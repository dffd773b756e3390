# tried: a Python claim file importing a missing module
# error: does not import: ModuleNotFoundError: No module named 'no_such_module_polytests'

import no_such_module_polytests  # <-
