"""Cold `pytest hypotheses/` with the verdicts of another revision against this tree, back to back.

The shape-robust verdicts (issue #21) replaced the mean-difference test by the Brunner-Munzel
permutation test, doubled the family (both sides of every claim) and resample unresolved
claims again; the target is a cold run no more than 1.5x slower than before. This script
checks out ``--before`` (default: 0677469, the last commit before that change) into a
temporary git worktree, then runs a cold `pytest hypotheses/` (an empty cache folder each)
with that revision's package and with this tree's, alternating, ``--repeats`` times, and
prints each wall time and the ratio of the medians.

Usage: python benchmarks/bench_verdicts.py [--before REV] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _pytest_run import timed_pytest  # benchmarks/ is the script's folder, first on sys.path

ROOT = Path(__file__).resolve().parent.parent


def cold_run(source: Path, scratch: Path) -> float:
    """Wall seconds of `pytest hypotheses/` on ``source``'s package and claims, caches in ``scratch``."""
    seconds, tail = timed_pytest(source, scratch)
    print(f"  {source.name:>12}: {seconds:6.1f} s  ({tail})", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="0677469")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(before), args.before], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            times: dict[str, list[float]] = {"before": [], "now": []}
            print(f"cold pytest hypotheses/: {args.before} against this tree, {args.repeats} each, alternating")
            for i in range(args.repeats):
                for label, source in (("before", before), ("now", ROOT)):
                    scratch = Path(tmp) / f"{label}-{i}"
                    scratch.mkdir()
                    times[label].append(cold_run(source, scratch))
            b, n = statistics.median(times["before"]), statistics.median(times["now"])
            print(f"median before {b:.1f} s, now {n:.1f} s: now / before = {n / b:.2f}x (target <= 1.5x)")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, capture_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
