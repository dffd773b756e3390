"""On-disk cache of activation collections (safetensors).

A cache entry is keyed by everything that changes the numbers: the model's
weights digest, the activation site, the corpus manifest hash, the split, the
dtype, the collection options and this module's format version. Writes go to a
temporary file in the same folder and are renamed into place, so a reader
never sees half a file; a file lock per entry keeps two pytest-xdist workers
from computing the same entry twice. Every entry carries a SHA-256 of its
tensors *and* of its metadata (the header: what the numbers are of), so a
truncated or corrupted file is reported in one line and recomputed, never read
as numbers or as the wrong corpus.

Faults that are not the entry's own never cost a run its verdicts: a cache folder
that cannot be written falls back to a temporary folder for this run (with a
warning), a lock held past ``lock_timeout`` seconds is reported and the entry is
computed without it, and temporary files left by a killed writer are removed.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from polytests.errors import CacheError

FORMAT_VERSION = 2  # 2: the checksum covers the metadata too
STALE_TMP_SECONDS = 24 * 3600


def cache_key(**fields) -> str:
    """A stable hex digest of the key fields (JSON with sorted keys)."""
    fields = dict(fields, format_version=FORMAT_VERSION)
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _checksum(arrays: dict[str, np.ndarray], metadata_json: str = "") -> str:
    h = hashlib.sha256()
    h.update(metadata_json.encode())
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
    meta_json = json.dumps(metadata, sort_keys=True)
    meta = {"polytests": meta_json, "checksum": _checksum(arrays, meta_json), "format_version": str(FORMAT_VERSION)}
    # The writer's pid in the name lets a later run tell a killed writer's file from a live one's.
    fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
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
    if meta.get("checksum") != _checksum(arrays, meta.get("polytests", "")):
        raise CacheError(f"{path}: checksum mismatch (the file is corrupted)")
    try:
        return arrays, json.loads(meta["polytests"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise CacheError(f"{path}: metadata missing or not JSON") from exc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def remove_stale_temp_files(root: Path, max_age: float = STALE_TMP_SECONDS) -> list[Path]:
    """Remove ``*.tmp`` files whose writer died (or that are older than ``max_age`` seconds)."""
    removed = []
    for tmp in root.glob("*.tmp"):
        parts = tmp.name.split(".")
        pid = int(parts[-3]) if len(parts) >= 3 and parts[-3].isdigit() else None
        try:
            old = time.time() - tmp.stat().st_mtime > max_age
            if old or (pid is not None and pid != os.getpid() and not _pid_alive(pid)):
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    return removed


class ActivationCache:
    """A folder of cache entries, one file per key.

    ``lock_timeout``: seconds to wait for another process's lock on an entry before
    computing it without the lock (and saying so).
    """

    def __init__(self, root: str | Path, *, lock_timeout: float = 600.0) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self.fallback_reason: str | None = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-", suffix=".probe"):
                pass
        except OSError as exc:
            self.fallback_reason = f"{exc.strerror or exc}"
            self.root = Path(tempfile.mkdtemp(prefix="polytests-cache-"))
            atexit.register(shutil.rmtree, self.root, ignore_errors=True)
            warnings.warn(f"polytests: cache folder {root} is unusable ({self.fallback_reason}); computing "
                          f"without a persistent cache this run. Fix: make it writable or set "
                          f"--polytests-cache-dir", stacklevel=2)
            return
        for tmp in remove_stale_temp_files(self.root):
            warnings.warn(f"polytests: removed {tmp.name}, left in the cache by an interrupted write",
                          stacklevel=2)

    def path_for(self, key: str, label: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
        return self.root / f"{safe}-{key[:24]}.safetensors"

    @contextlib.contextmanager
    def lock_for(self, path: Path):
        """Hold the entry's lock; after ``lock_timeout`` seconds, warn and go on without it
        (writes are atomic renames, so two writers cannot leave half a file)."""
        from filelock import FileLock

        from polytests.locks import acquire

        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock")
        if not acquire(lock, self.lock_timeout, f"cached activations ({path.name})"):
            warnings.warn(f"polytests: {path.name}.lock has been held by another process for "
                          f"{self.lock_timeout:g}s; computing this entry without waiting. Fix: if no other "
                          f"polytests run is going, delete {path}.lock", stacklevel=3)
            yield
            return
        try:
            yield
        finally:
            lock.release()

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
            except OSError:
                pass
            return None
