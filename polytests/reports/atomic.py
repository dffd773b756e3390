"""Writing report files so that a killed run never leaves a torn one.

Every file is written to a temporary file in the same folder, flushed to disk, and renamed
over the target (``os.replace`` is atomic on POSIX and Windows): a reader sees the old file
or the new one, never half of either. Runs that share a report folder take a file lock
(``filelock``) around read-modify-write sequences such as appending to the ledger.
"""

from __future__ import annotations

import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

LOCK_NAME = ".polytests.lock"
TEMP_PREFIX = ".polytests-tmp-"


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; reports are ordinary readable files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def report_lock(folder: str | Path, timeout: float = 600.0):
    """Hold the report folder's lock: one run at a time reads and rewrites its files."""
    from filelock import Timeout

    from polytests.locks import acquire

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK_NAME))
    if not acquire(lock, timeout, f"the report folder {folder}"):
        raise Timeout(str(folder / LOCK_NAME))
    try:
        yield
    finally:
        lock.release()


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Temporary files a killed run left behind (only call while holding the lock)."""
    removed = []
    for p in Path(folder).glob(TEMP_PREFIX + "*"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def finite_json(value):
    """``value`` with every non-finite float replaced by None, so ``json.dumps(..., allow_nan=False)``
    writes JSON that every reader accepts (``Infinity`` is not JSON; JavaScript's JSON.parse and
    strict parsers refuse it). The one infinite value a result carries is ``documents_needed`` of
    an effect on its bound (no number of documents decides it); it is null in the files."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value
