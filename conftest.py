"""Root conftest: deliberately thin.

The polytests plugin is registered through the ``pytest11`` entry point in
pyproject.toml (``pip install -e .``), so nothing is wired here; keeping
fixtures out of this file means claims and tests behave the same in any
project that installs polytests.
"""

collect_ignore = ["benchmarks", "reports", "docs"]
