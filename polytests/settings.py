"""Run settings: ``[tool.polytests]`` in pyproject.toml, overridden by ``--polytests-*`` options.

One pydantic model checks both sources, so a bad value is one line naming where it
came from (the option or the pyproject key), what is wrong and the fix, never a
traceback. Paths that must exist are checked when they are given explicitly.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from polytests.errors import PolytestsError
from polytests.text import near_miss, toml_literal

CORRECTIONS = ("holm", "bh", "bonferroni", "none")


class SettingsError(PolytestsError, ValueError):
    """A ``[tool.polytests]`` key or a ``--polytests-*`` option has a value that cannot work."""


def _paths(value: Any) -> Any:
    return (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else value


_Text = Annotated[str, StringConstraints(min_length=1)]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    model: _Text = Field("embedded", examples=["embedded"])
    corpora: _Text = Field("corpora", examples=["corpora"])
    hypotheses: Annotated[tuple[_Text, ...], BeforeValidator(_paths), Field(min_length=1)] = Field(
        ("hypotheses",), examples=["hypotheses"])
    alpha: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = Field(0.05, examples=[0.05])
    # Smallest effects of interest (docs/statistics.md): activation predicates in units of the
    # neuron's scale (its 99.9th-percentile |activation| on the reference text), ablation predicates in
    # nats/token. A predicate's own min_effect overrides them.
    min_effect: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(0.05, examples=[0.05])
    # Where a neuron's scale, firing rate and ablation baselines are measured (polytests.engine.reference):
    # "model" (reference.jsonl beside the model's weights, else the corpora), "corpora", or a path.
    reference: _Text = Field("model", examples=["model"])
    min_effect_loss: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(0.002, examples=[0.002])
    correction: Literal["holm", "bh", "bonferroni", "none"] = Field("holm", examples=["holm"])
    resamples: Annotated[int, Field(ge=99, le=10_000_000)] = Field(19999, examples=[19999])
    seed: Annotated[int, Field(ge=0, lt=2**63)] = Field(20261125, examples=[20261125])
    report_dir: _Text = Field("reports", examples=["reports"])
    cache_dir: _Text = Field(".polytests_cache", examples=[".polytests_cache"])
    # Seconds to wait for another process's lock (an activation-cache entry, a claim's cached result,
    # the report folder) before the documented outcome (docs/reliability.md, "Locks").
    lock_timeout: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] = Field(600.0, examples=[600.0])
    strict_inconclusive: bool = Field(False, examples=[True])
    # Ignore per-claim results cached by earlier runs (they are still written for the next).
    recompute: bool = Field(False, examples=[True])
    # "auto": CUDA when torch sees a GPU, else the CPU (polytests.engine.models.loading.resolve_device).
    device: _Text | None = Field("auto", examples=["cuda"])
    root: str = "."

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else Path(self.root) / p

    def validated(self) -> Settings:
        """Kept for callers of the former hand-written checks: Settings are valid once built."""
        return self


def _error(exc: ValidationError, where: str, spell) -> SettingsError:
    err = exc.errors(include_url=False)[0]
    key = str(err["loc"][0]) if err["loc"] else "?"
    info = Settings.model_fields.get(key)
    example = info.examples[0] if info is not None and info.examples else None
    if err["type"] == "extra_forbidden":
        known = [k for k in Settings.model_fields if k != "root"]
        guess = near_miss(key, known)
        hint = f"did you mean {guess!r}?" if guess else f"known: {', '.join(known)}"
        return SettingsError(f"{where}: unknown key {key!r}; {hint}")
    value = err.get("input")
    what = err["msg"].replace("Input should be", "must be").replace("Input", "value").replace("\n", " ")
    if err["type"] == "literal_error":
        what = f"must be one of {err['ctx']['expected']}"
    fix = f" Fix: e.g. {spell(key, example)}" if example is not None else ""
    return SettingsError(f"{spell(key, value)}: {what}.{fix}")


def settings_from(base: Settings, overrides: dict[str, Any]) -> Settings:
    """``base`` with the command line's ``overrides`` (strings, as typed) applied and checked."""

    def spell(key, value):
        if key in ("strict_inconclusive", "recompute"):
            return f"--polytests-{key.replace('_', '-')}"
        plain = isinstance(value, str) and value and value.isprintable() and value.strip() == value
        return f"--polytests-{key.replace('_', '-')} {value if plain else repr(value)}"

    try:
        settings = Settings.model_validate({**base.model_dump(), **overrides}, strict=False)
    except ValidationError as exc:
        raise _error(exc, "command line", spell) from None
    check_given(settings, set(overrides), spell)
    return settings


def check_given(settings: Settings, given: set[str], spell) -> None:
    """Checks that need the file system or torch, for the values given explicitly."""
    if "corpora" in given and not settings.path(settings.corpora).is_dir():
        raise SettingsError(f"{spell('corpora', settings.corpora)}: no such folder. Fix: give the folder that "
                            "holds one subfolder per corpus")
    if "report_dir" in given:
        target = settings.path(settings.report_dir)
        if target.exists() and not target.is_dir():
            raise SettingsError(f"{spell('report_dir', settings.report_dir)}: exists and is not a folder. "
                                "Fix: give a folder")
        existing = next((p for p in (target, *target.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise SettingsError(f"{spell('report_dir', settings.report_dir)}: {existing} is a file, not a folder. "
                                "Fix: give a folder")
        if existing is not None and not os.access(existing, os.W_OK):
            raise SettingsError(f"{spell('report_dir', settings.report_dir)}: {existing} is not writable. "
                                "Fix: give a writable folder, or pass --polytests-no-reports")
    if "device" in given and settings.device not in (None, "auto"):
        import torch

        try:
            device = torch.device(settings.device)
        except (RuntimeError, ValueError):
            raise SettingsError(f"{spell('device', settings.device)}: not a torch device. "
                                "Fix: e.g. --polytests-device cpu, cuda or auto") from None
        available = {"cpu": True, "cuda": torch.cuda.is_available(),
                     "mps": bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()}
        if not available.get(device.type, False):
            raise SettingsError(f"{spell('device', settings.device)}: no {device.type} device on this machine. "
                                "Fix: leave the option out (auto: CUDA when present, else the CPU)")


def load_pyproject_settings(root: str | Path) -> Settings:
    """Settings from ``<root>/pyproject.toml``'s ``[tool.polytests]`` table (defaults if absent)."""
    root = Path(root)
    path = root / "pyproject.toml"
    if not path.is_file():
        return Settings(root=str(root))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return Settings(root=str(root))  # pytest itself reports a pyproject.toml it cannot read
    table = data.get("tool", {}).get("polytests", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: tool.polytests must be a table. Fix: write a [tool.polytests] table")

    def spell(key, value):
        return f"{path} [tool.polytests] {key} = {toml_literal(value)}"

    try:
        settings = Settings.model_validate({**table, "root": str(root)})
    except ValidationError as exc:
        raise _error(exc, f"{path} [tool.polytests]", spell) from None
    check_given(settings, set(table) - {"corpora"}, spell)
    return settings
