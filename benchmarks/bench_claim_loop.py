"""Writing one new claim: how long until its verdict, before and after selections compute only what
they select (issue #25).

For each of ``--before`` (default b4caba2, the last commit before the change) and this tree, in a
temporary git worktree: a new claim file ``hypotheses/zz_new_claim.toml`` (one fires_on claim on a
neuron no other claim names), then

* fresh: ``pytest hypotheses/zz_new_claim.toml`` with an empty cache folder (a fresh clone);
* warm: the same command again (everything cached);
* warm, all: ``pytest hypotheses/`` after those two. Before the change the first run had computed
  the whole family, so this one is warm; after it, the first run computed only the new claim, so
  this one computes the other 22 (the work moves to the run that asks for it).

Each run's wall time (process start to exit) and its last line are printed, and the ratios.

Usage: python benchmarks/bench_claim_loop.py [--before REV]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from _pytest_run import timed_pytest  # benchmarks/ is the script's folder, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
NEW_CLAIM = """[[claim]]
id = "zz-new-l2n100-legal"
statement = "L2N100 fires on legal text"
neuron = "L2N100"

[[claim.predicate]]
kind = "fires_on"
corpus = "legal"
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="b4caba2")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": Path(tmp) / "before", "now": Path(tmp) / "now"}
        subprocess.run(["git", "worktree", "add", "--detach", str(trees["before"]), args.before], cwd=ROOT,
                       check=True, capture_output=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(trees["now"]), "HEAD"], cwd=ROOT, check=True,
                       capture_output=True)
        times: dict[tuple[str, str], float] = {}
        try:
            print(f"one new claim: {args.before} against this tree (HEAD), each in a fresh worktree and cache")
            for label, source in trees.items():
                (source / "hypotheses" / "zz_new_claim.toml").write_text(NEW_CLAIM)
                scratch = Path(tmp) / f"{label}-scratch"
                scratch.mkdir()
                for step, target in (("fresh", "hypotheses/zz_new_claim.toml"),
                                     ("warm", "hypotheses/zz_new_claim.toml"), ("warm, all", "hypotheses/")):
                    seconds, tail = timed_pytest(source, scratch, target)
                    times[(label, step)] = seconds
                    print(f"  {label:>6} {step:<9}: {seconds:6.1f} s  ({tail})", flush=True)
        finally:
            for source in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(source)], cwd=ROOT, capture_output=True)
        for step in ("fresh", "warm", "warm, all"):
            print(f"  {step:<9}: before / now = {times[('before', step)] / times[('now', step)]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
