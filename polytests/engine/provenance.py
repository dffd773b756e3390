"""Provenance: the versions of the libraries that make the numbers."""

from __future__ import annotations

import platform

# Report key -> installed distribution whose version it records.
_DISTRIBUTIONS = {"polytests": "polytests", "torch": "torch", "transformer_lens": "transformer-lens",
                  "numpy": "numpy", "scipy": "scipy"}


def library_versions() -> dict[str, str]:
    """The versions of the libraries that make the numbers, as installed (read from package
    metadata: TransformerLens 4 has no ``__version__``, and nothing needs importing)."""
    from importlib import metadata

    versions = {}
    for key, dist in _DISTRIBUTIONS.items():
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # e.g. run from a source tree that is not installed
            versions[key] = "not installed"
    return {**versions, "python": platform.python_version()}
