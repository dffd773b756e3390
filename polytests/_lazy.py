"""Modules imported on first use, so that a run whose every result is cached never pays for them.

``torch = lazy("torch")`` behaves like ``import torch`` in the code that uses it (``torch.zeros``,
``isinstance(x, torch.Tensor)``), but the import happens at the first attribute read; with
``from __future__ import annotations`` type hints never read it. torch alone costs about a
second to import (docs/benchmarks.md, the warm run).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["lazy"]


class _LazyModule:
    __slots__ = ("_name", "_module")

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_module", None)

    def _load(self) -> ModuleType:
        module = self._module
        if module is None:
            module = importlib.import_module(self._name)
            object.__setattr__(self, "_module", module)
        return module

    def __getattr__(self, attr: str):
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r}, {state}>"


def lazy(name: str):
    """A stand-in for module ``name`` that imports it on the first attribute read."""
    return _LazyModule(name)
