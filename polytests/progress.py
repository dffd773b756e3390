"""Progress lines for long steps: what is being computed, how far along, and about how long is left.

A run that computes claims says so claim by claim (and stage by stage where a claim is long),
so nothing long runs in silence. Where output is not a terminal and the user asked for quiet
(``-q``), one line a minute at most.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Steps", "at_most_every"]


def at_most_every(seconds: float, write: Callable[[str], None], *,
                  clock: Callable[[], float] = time.monotonic) -> Callable[[str], None]:
    """``write``, passing on at most one line per ``seconds`` (the first at once; 0: every line)."""
    last: list[float] = []

    def gated(line: str) -> None:
        now = clock()
        if last and now - last[0] < seconds:
            return
        last[:] = [now]
        write(line)

    return gated


class Steps:
    """Report ``total`` steps through ``write``, one line each (:func:`at_most_every` thins them).

    ``steps(done, what)`` says that step ``done + 1`` of ``total``, ``what``, starts now; the
    estimate of the time left is the mean time of the steps so far times the steps left.
    """

    def __init__(self, write: Callable[[str], None] | None, total: int, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write, self.total, self.clock = write, total, clock
        self.started = clock()

    def __call__(self, done: int, what: str) -> None:
        if self.write is None:
            return
        elapsed = self.clock() - self.started
        left = f", about {_seconds(elapsed / done * (self.total - done))} left" if done else ""
        self.write(f"polytests: {what} ({done + 1}/{self.total}; {_seconds(elapsed)} so far{left})")

    def finish(self, what: str) -> None:
        if self.write is not None:
            self.write(f"polytests: {what} in {_seconds(self.clock() - self.started)}")


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"
