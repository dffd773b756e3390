"""One timed `pytest` run of a source tree's claims in a subprocess (shared by the claim-run benchmarks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def timed_pytest(source: Path, scratch: Path, target: str = "hypotheses/") -> tuple[float, str]:
    """(wall seconds, last line of output) of `pytest TARGET` with ``source``'s package first on the
    path, its caches and reports in ``scratch``. Exits when pytest errors (not for failed claims)."""
    env = dict(os.environ, PYTHONPATH=str(source))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", target, "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--polytests-cache-dir={scratch / 'cache'}", f"--polytests-report-dir={scratch / 'reports'}"],
        cwd=source, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    if done.returncode not in (0, 1):
        raise SystemExit(f"pytest failed in {source}: {tail}")
    return seconds, tail
