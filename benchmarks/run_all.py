"""Run every benchmark in benchmarks/ and collect their outputs in one Markdown file.

Each benchmark runs in its own process, one after the other, with the sizes below; each
section of the output starts with the command that produced it. A complete run (no --only, the
default --out) also copies the output into docs/benchmarks.md between its markers, so the
document's figures are those of the last run (tests/test_benchmarks.py holds the two equal). A benchmark that exits non-zero (a target it checks for correctness
failed, e.g. verdicts or p-values that differ) is reported and the others still run; the
exit code is then 1. A ``bench_*.py`` not listed here runs with its own defaults.

Budget: all together under 20 minutes on the development machine (2 cores). Per benchmark, at
the sizes run here (the times of the run of 2026-11-28 at the previous sizes, scaled; each
section of the output ends with what it took):

=====================  ======================================================  =======
benchmark              sizes here                                              budget
=====================  ======================================================  =======
bench_load.py          3 fresh processes (its default)                         0.5 min
bench_permutation.py   15 tests x 9,999 resamples, 5 repeats (its default)     0.8 min
bench_ablation.py      8 neurons, 16 documents, every layer, plus one          2 min
                       real-effect claim with 499 null neurons
bench_scale.py         --tokens 50000 --neuron-tokens 12500 (the smallest      3.3 min
                       that gives the scan 2 corpora of 2 documents at its
                       smallest size; its defaults, 250,000 and 62,500,
                       take about 8 minutes; --full 1M)
bench_notebook.py      its 8 default claims, --n-null 19, 1 repeat (its        3 min
                       defaults: 3 repeats of the pytest runs)
bench_profile.py       cold and warm under cProfile, then serial and -n 2      8 min
                       cold (its defaults)
=====================  ======================================================  =======

Together about 17 minutes; bench_profile is half of it, running ``pytest hypotheses/`` four
times (cold and warm under the profiler, then serial and ``-n 2`` cold). bench_collection.py
is not run here (see SKIPPED).

Usage: python benchmarks/run_all.py [--out docs/benchmarks-output.md] [--only bench_load.py ...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_OUT = REPO / "docs" / "benchmarks-output.md"
DOC = REPO / "docs" / "benchmarks.md"
# Not run by run_all, with the reason (each still runs alone with its own defaults).
SKIPPED = {
    "bench_collection.py": "superseded by bench_scale.py, which times the same collection pass and its peak "
                           "memory against the FLOP and kept-bytes floors (and 4 minutes would put run_all over "
                           "its 20-minute budget); run it alone: python benchmarks/bench_collection.py",
    "bench_verdicts.py": "a before/after comparison for one change (issue #21: the shape-robust verdicts against "
                         "the revision before them), four cold runs of pytest hypotheses/ (about 6.5 minutes); "
                         "run it alone: python benchmarks/bench_verdicts.py",
}
# name -> (arguments, budget in seconds on a quiet development machine)
PLAN: dict[str, tuple[list[str], int]] = {
    "bench_load.py": ([], 30),
    "bench_permutation.py": ([], 45),
    "bench_ablation.py": (["--neurons", "8", "--documents", "16"], 120),
    "bench_scale.py": (["--tokens", "50000", "--neuron-tokens", "12500"], 200),
    "bench_notebook.py": (["--n-null", "19", "--repeats", "1"], 180),
    "bench_profile.py": ([], 480),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help="the Markdown file written (default docs/benchmarks-output.md)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks (file names)")
    args = parser.parse_args()
    found = sorted(p.name for p in HERE.glob("bench_*.py"))
    names = [n for n in PLAN if n in found] + [n for n in found if n not in PLAN and n not in SKIPPED]
    if args.only:
        unknown = [n for n in args.only if n not in found]
        if unknown:
            parser.error(f"no benchmark {unknown[0]} in {HERE} (found: {', '.join(found)})")
        names = [n for n in names if n in args.only]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = (f"# Benchmark output\n\n`python benchmarks/run_all.py` on {platform.node()} "
            f"({os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}), started "
            f"{datetime.datetime.now().isoformat(timespec='minutes')}, commit {_commit()}, OMP_NUM_THREADS "
            f"{os.environ.get('OMP_NUM_THREADS', 'unset')}. Each section ends with the 1-minute load average before "
            "and after it. A benchmark adds about 1 itself (2 with torch's 2 threads); beyond that, other work shared "
            "the 2 CPUs and the times are inflated, several-fold with torch's default threads (bench_ablation's naive "
            "way once took 448 s instead of 35 s at load 3.5).\n")
    head += "".join(f"\n{name} is not run here: {why}.\n" for name, why in SKIPPED.items()
                    if name in found and not args.only)
    out.write_text(head, encoding="utf-8")
    print(head, flush=True)
    failed, total = [], 0.0
    for name in names:
        extra, budget = PLAN.get(name, ([], None))
        command = " ".join(["python", f"benchmarks/{name}", *extra])
        load_before = _load()
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / name), *extra], cwd=REPO, env=env, capture_output=True,
                              text=True)
        seconds = time.perf_counter() - t
        total += seconds
        budget_words = f"budget {budget / 60:.1f} min" if budget else "no budget stated in run_all.py"
        status = "" if proc.returncode == 0 else f"; **exit code {proc.returncode}**"
        section = (f"\n## {name}\n\n    {command}\n\n{proc.stdout.rstrip()}\n\n"
                   f"({seconds / 60:.1f} min, {budget_words}; load average {load_before} before, {_load()} after"
                   f"{status})\n")
        if proc.returncode != 0:
            failed.append(name)
            section += "\nstderr (last lines):\n\n" + "\n".join(
                "    " + line for line in proc.stderr.rstrip().splitlines()[-30:]) + "\n"
        with out.open("a", encoding="utf-8") as f:
            f.write(section)
        print(section, flush=True)
    tail = (f"\nAll {len(names)} benchmarks: {total / 60:.1f} min"
            + (f"; failed: {', '.join(failed)}" if failed else "") + ".\n")
    with out.open("a", encoding="utf-8") as f:
        f.write(tail)
    print(tail + f"written to {out}")
    if not args.only and out.resolve() == DEFAULT_OUT.resolve():
        embed_output(DOC, out.read_text(encoding="utf-8"))
        print(f"and copied into {DOC} between its markers")
    return 1 if failed else 0


BEGIN, END = "<!-- run_all output: begin -->", "<!-- run_all output: end -->"


def embed_output(doc: Path, output: str) -> None:
    """Put ``output`` between the markers of ``doc`` (docs/benchmarks.md), so the figures the
    document discusses are those of the last complete run; headings move down two levels."""
    text = doc.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc} has no {BEGIN} ... {END} markers to hold the output")
    body = "\n".join(("##" + line) if line.startswith("#") else line for line in output.strip().splitlines())
    head, rest = text.split(BEGIN, 1)
    doc.write_text(f"{head}{BEGIN}\n\n{body}\n\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # not available on this platform
        return "n/a"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
