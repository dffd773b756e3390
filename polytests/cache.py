"""On-disk cache of activation collections (safetensors).

A cache entry is keyed by everything that changes the numbers: the model's
weights digest, the activation site, the corpus manifest hash, the split, the
dtype, the collection options and this module's format version. Writes go to a
temporary file in the same folder and are renamed into place, so a reader
never sees half a file; a file lock per entry keeps two pytest-xdist workers
from computing the same entry twice. Every entry carries a SHA-256 of its
tensors: a truncated or corrupted file is reported in one line and recomputed,
never read as numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from polytests.errors import CacheError

FORMAT_VERSION = 1


def cache_key(**fields) -> str:
    """A stable hex digest of the key fields (JSON with sorted keys)."""
    fields = dict(fields, format_version=FORMAT_VERSION)
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_entry(path: Path, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Atomically write ``arrays`` and JSON ``metadata`` to ``path``."""
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    meta = {"polytests": json.dumps(metadata, sort_keys=True), "checksum": _checksum(arrays),
            "format_version": str(FORMAT_VERSION)}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(arrays, tmp, metadata=meta)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_entry(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read and verify an entry; raise :class:`CacheError` if it is damaged."""
    from safetensors import safe_open

    try:
        arrays = {}
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
            for name in handle.keys():
                arrays[name] = handle.get_tensor(name)
    except Exception as exc:  # safetensors raises its own error types for damaged headers
        raise CacheError(f"{path}: unreadable cache file ({exc.__class__.__name__}: {exc})") from exc
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise CacheError(f"{path}: cache format {meta.get('format_version')!r}, expected {FORMAT_VERSION}")
    if meta.get("checksum") != _checksum(arrays):
        raise CacheError(f"{path}: checksum mismatch (the file is corrupted)")
    try:
        return arrays, json.loads(meta["polytests"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise CacheError(f"{path}: metadata missing or not JSON") from exc


class ActivationCache:
    """A folder of cache entries, one file per key."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, key: str, label: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
        return self.root / f"{safe}-{key[:24]}.safetensors"

    def lock_for(self, path: Path):
        from filelock import FileLock

        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path) + ".lock")

    def load(self, path: Path) -> tuple[dict[str, np.ndarray], dict] | None:
        """The entry at ``path``, or None if absent or damaged (damage is reported, then removed)."""
        if not path.exists():
            return None
        try:
            return read_entry(path)
        except CacheError as exc:
            warnings.warn(f"polytests: {exc}; recomputing", stacklevel=2)
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            return None
