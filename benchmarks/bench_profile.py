"""Where the time of `pytest hypotheses/` goes, cold and warm; and serial against `-n 2`.

Table 1 (profile): two runs of `pytest hypotheses/` under cProfile, each in a fresh process:
**cold** (an empty cache folder: activations collected, every claim computed) and **warm**
(the same cache folder again, nothing changed: activations and per-claim results read from
the cache). The wall time of each process is measured from outside; the phases are
cumulative times of the functions that do the work, read from the profile; "start-up and
the rest" is the wall time not in any phase (Python, pytest and its plugins, importing
numpy/scipy/torch, collection of the claim files, the family correction). cProfile adds
overhead to Python-heavy phases, so compare phases within a run, not with table 2.

Table 2 (parallel, unless --skip-parallel): cold runs without the profiler, serial and with
`-n WORKERS`, each with its own empty cache folder, back to back; then the verdicts and
p-values of both runs are compared and the script fails if any differ.

Usage: python benchmarks/bench_profile.py [--hypotheses hypotheses] [--workers 2] [--skip-parallel]
       [--skip-profile]
"""

from __future__ import annotations

import argparse
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# (label, functions whose cumulative time makes the phase: (file suffix, function name))
PHASES = [
    ("model load (TransformerLens import included)", [("polytests/models/loading.py", "load_model")]),
    ("corpora: read and hash", [("polytests/corpora/documents.py", "load_corpora"),
                                ("polytests/corpora/manifest.py", "build_manifest")]),
    ("tokenizing", [("polytests/engine/tokenization.py", "tokenize_documents")]),
    ("activation collection (forward passes)", [("polytests/engine/activations.py", "collect")]),
    ("activation cache: read, verify, write", [("polytests/engine/cache.py", "read_entry"),
                                               ("polytests/engine/cache.py", "write_entry")]),
    ("ablation forward passes", [("polytests/engine/delta_loss.py", "batched_delta_loss")]),
    ("permutation and sign-flip tests", [("polytests/stats/permutation.py", "permutation_test"),
                                         ("polytests/stats/permutation.py", "sign_flip_test")]),
    ("bootstrap confidence intervals", [("scipy/stats/_resampling.py", "bootstrap")]),
    ("per-claim result cache: read, write", [("polytests/engine/result_cache.py", "load"),
                                             ("polytests/engine/result_cache.py", "save")]),
    ("reports and figures (HTML, JSON, Markdown, ledger)", [("polytests/reports/files.py", "write_reports")]),
    ("terminal summary", [("polytests/plugin.py", "pytest_terminal_summary")]),
]


def _pytest(args: list[str], cwd: Path, profile: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    cmd = [sys.executable]
    if profile is not None:
        cmd += ["-m", "cProfile", "-o", str(profile)]
    cmd += ["-m", "pytest", *args]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):  # 1: a claim failed, which is a verdict, not a crash
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"pytest exited {proc.returncode}: {' '.join(cmd)}")
    return elapsed, proc


def phases(profile: Path) -> dict[str, float]:
    stats = pstats.Stats(str(profile)).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    out = {}
    for label, functions in PHASES:
        total = 0.0
        for suffix, name in functions:
            for (filename, _line, func), (_cc, _nc, _tt, ct, callers) in stats.items():
                if func == name and filename.replace("\\", "/").endswith(suffix):
                    # Count only the outermost calls: time spent inside another call of the same
                    # function is already in that call's cumulative time.
                    total += ct - sum(c[3] for key, c in callers.items()
                                      if key[2] == name and key[0].replace("\\", "/").endswith(suffix))
        out[label] = total
    return out


def claims_numbers(report_dir: Path) -> dict:
    data = json.loads((report_dir / "claims.json").read_text())
    return {c["claim_id"]: (c["verdict"], c["pvalue"], c["pvalue_refute"], c["pvalue_adjusted"])
            for c in data["claims"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hypotheses", default="hypotheses")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-parallel", action="store_true")
    parser.add_argument("--skip-profile", action="store_true", help="only table 2 (serial against -n WORKERS)")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    common = [args.hypotheses, "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    with tempfile.TemporaryDirectory(prefix="polytests-bench-") as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        runs = {}
        for name in () if args.skip_profile else ("cold", "warm"):
            wall, _ = _pytest(common + [f"--polytests-cache-dir={cache}", f"--polytests-report-dir={tmp / name}"],
                              root, tmp / f"{name}.prof")
            runs[name] = (wall, phases(tmp / f"{name}.prof"))
        if args.skip_profile:
            return _parallel(args, common, tmp, root)
        print(f"`pytest {args.hypotheses}/`, {len(claims_numbers(tmp / 'cold'))} claims, under cProfile "
              "(one fresh process each)\n")
        print("| phase | cold (s) | cold share | warm (s) | warm share |")
        print("|---|---|---|---|---|")
        for label, _ in PHASES:
            c, w = runs["cold"][1][label], runs["warm"][1][label]
            print(f"| {label} | {c:.1f} | {c / runs['cold'][0]:.0%} | {w:.2f} | {w / runs['warm'][0]:.0%} |")
        rest = {k: runs[k][0] - sum(runs[k][1].values()) for k in runs}
        print(f"| start-up and the rest (Python, pytest, imports, family correction) | {rest['cold']:.1f} | "
              f"{rest['cold'] / runs['cold'][0]:.0%} | {rest['warm']:.2f} | {rest['warm'] / runs['warm'][0]:.0%} |")
        print(f"| **wall time of the process** | **{runs['cold'][0]:.1f}** | | **{runs['warm'][0]:.2f}** | |")
        print(f"\nwarm / cold = {runs['warm'][0] / runs['cold'][0]:.3f} "
              f"({runs['cold'][0] / runs['warm'][0]:.1f}x faster warm)")
        same = claims_numbers(tmp / "cold") == claims_numbers(tmp / "warm")
        print(f"cold and warm verdicts and p-values identical: {same}")
        if not same:
            raise SystemExit("warm results differ from cold ones")
        if not args.skip_parallel:
            _parallel(args, common, tmp, root)


def _parallel(args, common: list[str], tmp: Path, root: Path) -> None:
    """Table 2: cold serial and cold ``-n WORKERS`` runs, back to back, their results compared."""
    timings = {}
    for name, extra in (("serial", []), (f"-n {args.workers}", ["-n", str(args.workers)])):
        wall, _ = _pytest(common + extra + [f"--polytests-cache-dir={tmp / ('cache-' + name)}",
                                            f"--polytests-report-dir={tmp / ('rep-' + name)}"], root)
        timings[name] = wall
    print("\nCold runs without the profiler, each with an empty cache folder, back to back\n")
    print("| run | wall time (s) | vs serial |")
    print("|---|---|---|")
    for name, wall in timings.items():
        print(f"| {name} | {wall:.1f} | {timings['serial'] / wall:.2f}x |")
    same = claims_numbers(tmp / "rep-serial") == claims_numbers(tmp / f"rep--n {args.workers}")
    print(f"\nserial and -n {args.workers} verdicts and p-values identical: {same}")
    if not same:
        raise SystemExit("parallel results differ from serial ones")


if __name__ == "__main__":
    main()
