"""The settings every command reads: ``[tool.polytests]`` of ./pyproject.toml, overridden by the
same ``--polytests-*`` options the pytest plugin takes (the commands' older short names, such as
``--model`` or ``--cache-dir``, are kept as aliases). A value set once applies to every entry point.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from polytests.settings import Settings, load_pyproject_settings, settings_from

# Settings key -> what its option says in --help.
HELP = {
    "model": "model spec: 'embedded', a local directory, or an alias like solu-4l",
    "corpora": "folder of corpora",
    "reference": "where neuron scales are measured: model, corpora, or a .jsonl file / folder of .txt",
    "cache_dir": "activation cache folder",
    "seed": "seed for every resampling",
    "resamples": "resamples",
    "alpha": "alpha",
    "min_effect": "smallest effect of interest, in units of the neuron's scale",
    "report_dir": "folder of the reports (history.jsonl is the ledger)",
    "device": "torch device: auto, cpu, cuda",
}


def option_name(key: str) -> str:
    return f"--polytests-{key.replace('_', '-')}"


def add_settings_options(parser: argparse.ArgumentParser, *keys: str, aliases: dict[str, tuple[str, ...]] | None = None,
                         help_of: dict[str, str] | None = None) -> None:
    """``--polytests-<key>`` (and its ``aliases``) for each settings key; unset options read
    ``[tool.polytests]``, then the default of :class:`Settings`."""
    aliases = aliases or {}
    for key in keys:
        default = Settings.model_fields[key].default
        words = (help_of or {}).get(key, HELP[key])
        parser.add_argument(option_name(key), *aliases.get(key, ()), dest=key, default=None,
                            help=f"{words} (default: [tool.polytests] {key}, else {default})")


def settings_of(args: argparse.Namespace, *keys: str, root: str | Path | None = None) -> Settings:
    """The command's Settings: ``[tool.polytests]`` of ``root`` (default: the working folder) with the
    options given on the command line applied, checked as the plugin checks them."""
    base = load_pyproject_settings(Path(root) if root is not None else Path.cwd())
    given = {key: str(getattr(args, key)) for key in keys if getattr(args, key, None) is not None}
    return settings_from(base, given)


def resolve_args(args: argparse.Namespace, *keys: str) -> Settings:
    """Replace each of ``keys`` in ``args`` by its settled value (paths made absolute from the
    project root), for commands whose code reads ``args``; returns the Settings."""
    settings = settings_of(args, *keys)
    for key in keys:
        value = getattr(settings, key)
        if key in ("corpora", "cache_dir", "report_dir"):
            value = str(settings.path(value))
        setattr(args, key, value)
    return settings
