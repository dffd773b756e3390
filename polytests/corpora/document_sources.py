"""Where each document of a corpus comes from: ``<corpus>/sources.json``.

    {"default": {"origin": "authored", "licence": "CC0-1.0", "source": "written for polytests"},
     "documents": {"<name>": {"origin": "real", "registry": "pypi", "package": "f90wrap",
                              "version": "0.3.0", "path": "...", "licence": "LGPL-3.0-or-later", ...}}}

``origin`` is ``real`` (text nobody wrote for polytests, with its package, version, path and licence),
``authored`` (written for the project) or ``generated`` (made by code, e.g. gibberish). A document
without an entry takes ``default``; a corpus without the file is of ``unknown`` origin. The
manifest copies origin, licence and source of every document, so ``polytests corpora`` can say how
many documents of each corpus are real.
"""

from __future__ import annotations

import json
from pathlib import Path

from polytests.errors import CorpusError

SOURCES_NAME = "sources.json"
ORIGINS = ("real", "authored", "generated")


def _source_text(entry: dict) -> str:
    if "source" in entry:
        return str(entry["source"])
    parts = [entry.get("registry"), entry.get("package")]
    where = ":".join(str(p) for p in parts if p)
    if entry.get("version"):
        where += f"=={entry['version']}"
    if entry.get("path"):
        where += f" {entry['path']}"
    return where


def _check(entry, where: str, path: Path) -> dict:
    if not isinstance(entry, dict):
        raise CorpusError(f"{path}: {where} is not an object. Fix: write {{\"origin\": ..., \"licence\": ...}}")
    origin = entry.get("origin")
    if origin not in ORIGINS:
        raise CorpusError(f"{path}: {where}: field 'origin' is {origin!r}. Fix: one of {', '.join(ORIGINS)}")
    if not isinstance(entry.get("licence"), str) or not entry["licence"].strip():
        raise CorpusError(f"{path}: {where}: field 'licence' is missing. Fix: name the text's licence")
    out = {"origin": origin, "licence": entry["licence"], "source": _source_text(entry)}
    if not out["source"]:
        raise CorpusError(f"{path}: {where}: no 'source' (or registry/package/path). Fix: say where the text is from")
    if origin == "real" and not entry.get("version") and "source" not in entry:
        raise CorpusError(f"{path}: {where}: a real document needs field 'version'. Fix: the package's version")
    return out


def read_sources(folder: str | Path, names) -> dict[str, dict]:
    """Per document name of the corpus at ``folder``: {"origin", "licence", "source"}."""
    path = Path(folder) / SOURCES_NAME
    if not path.is_file():
        return {name: {"origin": "unknown"} for name in names}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{path}: not valid UTF-8 JSON ({exc}). Fix: repair the file or regenerate it "
                          "(tools/real_corpora/install.py)") from None
    if not isinstance(data, dict) or not set(data) <= {"default", "documents"}:
        raise CorpusError(f"{path}: top level must be an object with 'default' and/or 'documents'")
    documents = data.get("documents", {})
    if not isinstance(documents, dict):
        raise CorpusError(f"{path}: 'documents' must map document names to entries")
    names = list(names)
    stray = sorted(set(documents) - set(names))
    if stray:
        raise CorpusError(f"{path}: entry {stray[0]!r} names no document in docs/ ({len(stray)} such). Fix: remove "
                          "it or add the document")
    default = _check(data["default"], "'default'", path) if "default" in data else None
    out = {}
    for name in names:
        if name in documents:
            out[name] = _check(documents[name], f"document {name!r}", path)
        elif default is not None:
            out[name] = dict(default)
        else:
            raise CorpusError(f"{path}: document {name!r} has no entry and there is no 'default'. Fix: add one")
    return out


__all__ = ["ORIGINS", "SOURCES_NAME", "read_sources"]
