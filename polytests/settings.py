"""Run settings: ``[tool.polytests]`` in pyproject.toml, overridden by ``--polytests-*`` options."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

CORRECTIONS = ("holm", "bh", "bonferroni", "none")


@dataclass(frozen=True)
class Settings:
    model: str = "embedded"
    corpora: str = "corpora"
    hypotheses: tuple[str, ...] = ("hypotheses",)
    alpha: float = 0.05
    correction: str = "holm"
    resamples: int = 9999
    seed: int = 20261125
    report_dir: str = "reports"
    cache_dir: str = ".polytests_cache"
    strict_inconclusive: bool = False
    device: str | None = None
    root: str = "."

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else Path(self.root) / p

    def validated(self) -> "Settings":
        if not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be a number in (0, 1), got {self.alpha!r}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction {self.correction!r} is not one of {', '.join(CORRECTIONS)}")
        if not isinstance(self.resamples, int) or self.resamples < 99:
            raise ValueError(f"resamples must be an integer >= 99, got {self.resamples!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        return self


def load_pyproject_settings(root: str | Path) -> Settings:
    """Settings from ``<root>/pyproject.toml``'s ``[tool.polytests]`` table (defaults if absent)."""
    root = Path(root)
    settings = Settings(root=str(root))
    path = root / "pyproject.toml"
    if not path.is_file():
        return settings
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("polytests", {})
    known = {f.name for f in fields(Settings)} - {"root"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"{path}: [tool.polytests] has unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")
    if isinstance(table.get("hypotheses"), str):
        table["hypotheses"] = (table["hypotheses"],)
    elif "hypotheses" in table:
        table["hypotheses"] = tuple(table["hypotheses"])
    return replace(settings, **table).validated()
