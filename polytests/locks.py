"""File locks that never wait in silence.

While another process holds a lock, the waiter says within :data:`FIRST_NOTICE` seconds what it
waits for, the lock file and who holds it (pid, host, since when: each holder writes them beside
the lock, ``<lock>.holder``), then again every :data:`NOTICE_EVERY` seconds, and the caller says
plainly what happens when the wait ends (``[tool.polytests] lock_timeout``, docs/reliability.md).

The locks are ``filelock`` locks (``fcntl`` on Linux and macOS): the kernel releases a lock
whose process has died, so a dead run never holds one. Its holder note may remain; the message
then says that the process it names has ended.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from filelock import FileLock, Timeout

__all__ = ["FIRST_NOTICE", "NOTICE_EVERY", "acquire", "holder_of"]

FIRST_NOTICE = 2.0
NOTICE_EVERY = 30.0


def _holder_path(lock: FileLock) -> Path:
    return Path(str(lock.lock_file) + ".holder")


def holder_of(lock: FileLock) -> str:
    """Who holds ``lock``, in words, from its holder note ("another process" when there is none)."""
    try:
        note = json.loads(_holder_path(lock).read_text(encoding="utf-8"))
        pid, host, since = int(note["pid"]), str(note["host"]), float(note["since"])
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
    when = time.strftime("%H:%M:%S", time.localtime(since))
    words = f"pid {pid} on {host} since {when} ({time.time() - since:.0f}s ago)"
    if host == socket.gethostname() and not _alive(pid):
        words += "; that process has ended, so the lock is held by a process that took it since"
    return words


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _note_holder(lock: FileLock) -> None:
    try:
        _holder_path(lock).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                  "since": time.time()}), encoding="utf-8")
    except OSError:
        pass  # the note is for messages only


def acquire(lock: FileLock, timeout: float, what: str, *, notice_every: float | None = None,
            first_notice: float | None = None) -> bool:
    """Acquire ``lock`` within ``timeout`` seconds (0: try once). Returns whether it was acquired.

    After ``first_notice`` seconds of waiting (default :data:`FIRST_NOTICE`) and then every
    ``notice_every`` seconds (default :data:`NOTICE_EVERY`), one line on stderr names ``what``
    is waited for, the lock file, its holder and the time waited, so a held lock is never a
    silent pause.
    """
    every = NOTICE_EVERY if notice_every is None else notice_every
    first = FIRST_NOTICE if first_notice is None else first_notice
    start = time.monotonic()
    next_notice = first
    while True:
        waited = time.monotonic() - start
        left = timeout - waited
        try:
            lock.acquire(timeout=max(0.0, min(next_notice - waited, left)))
        except Timeout:
            waited = time.monotonic() - start
            if waited >= timeout:
                return False
            if waited >= next_notice:
                print(f"polytests: waiting for {what}: {lock.lock_file} is held by {holder_of(lock)} "
                      f"({waited:.0f}s of at most {timeout:g}s; [tool.polytests] lock_timeout sets it)",
                      file=sys.stderr, flush=True)
                next_notice = waited + every
            continue
        _note_holder(lock)
        return True
