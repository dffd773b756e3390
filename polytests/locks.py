"""File locks that never wait in silence: while another process holds a lock, say who waits for
what every ``NOTICE_EVERY`` seconds (to stderr), and say plainly what happens when the wait ends."""

from __future__ import annotations

import sys
import time

from filelock import FileLock, Timeout

__all__ = ["NOTICE_EVERY", "acquire"]

NOTICE_EVERY = 30.0


def acquire(lock: FileLock, timeout: float, what: str, *, notice_every: float | None = None) -> bool:
    """Acquire ``lock`` within ``timeout`` seconds (0: try once). Returns whether it was acquired.

    Every ``notice_every`` seconds of waiting (default :data:`NOTICE_EVERY`) one line on stderr
    names ``what`` is waited for, the lock file and the time waited, so a held lock is never a
    silent pause.
    """
    every = NOTICE_EVERY if notice_every is None else notice_every
    start = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - start)
        try:
            lock.acquire(timeout=max(0.0, min(every, left)))
            return True
        except Timeout:
            waited = time.monotonic() - start
            if waited >= timeout:
                return False
            print(f"polytests: waiting for {what}: {lock.lock_file} is held by another process "
                  f"({waited:.0f}s of at most {timeout:g}s)", file=sys.stderr, flush=True)
