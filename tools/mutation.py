"""Mutation scores of the modules that decide verdicts, parse claims and keep the ledger.

    python tools/mutation.py                       # every module below, 2 workers
    python tools/mutation.py polytests/stats/multiplicity.py --jobs 1
    python tools/mutation.py --write-doc           # also rewrite docs/reliability.md's table
    python tools/mutation.py --json docs/mutation.json --merge polytests/stats/bounds.py  # re-measure one
    python tools/mutation.py --json docs/mutation.json --doc-only --write-doc  # the doc's table from the rows

For each module, a scratch copy of this working tree (``--scratch``, default
/tmp/polytests-mutation) gets a ``[tool.mutmut]`` section naming that module and the test files
that exercise it, and ``mutmut run`` (mutmut 3.8) mutates it there; nothing in the working tree
is touched. A mutant counts as killed when a selected test fails on it; "survived" means every
selected test passed, "no tests" that no selected test reaches the mutated function (both count
against the score); a timeout counts as killed (the mutant broke something). The score is killed
/ all mutants. Equivalent mutants (a change that cannot alter behaviour) are listed in
docs/reliability.md with why, when found; none is subtracted here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> the test files that exercise it (a mutant is judged by these alone)
MODULES: dict[str, tuple[str, ...]] = {  # the audit named the first four
    "polytests/stats/multiplicity.py": ("tests/stats/test_multiplicity.py", "tests/test_verdicts.py",
                                        "tests/test_predicates.py"),
    "polytests/stats/equivalence.py": ("tests/stats/test_equivalence.py",),
    "polytests/reports/ledger.py": ("tests/test_ledger_units.py", "tests/test_ledger.py", "tests/test_reports.py"),
    "polytests/claims/parse.py": ("tests/test_claim_files.py", "tests/test_bad_claims.py", "tests/test_schema.py"),
    "polytests/verdicts/decide.py": ("tests/test_decide.py", "tests/test_verdicts.py", "tests/test_predicates.py"),
    "polytests/verdicts/family.py": ("tests/test_verdicts.py",),
    "polytests/stats/relative.py": ("tests/stats/test_relative.py", "tests/stats/test_bounds.py"),
    "polytests/stats/bounds.py": ("tests/stats/test_bounds.py", "tests/stats/test_shapes.py"),
    "polytests/stats/correlation.py": ("tests/stats/test_correlation.py",
                                       "tests/stats/test_shapes.py::test_explained_by_keeps_alpha_at_the_bound"),
    "polytests/stats/effects.py": ("tests/stats/test_effects.py",),
    "polytests/stats/permutation.py": ("tests/stats/test_permutation.py", "tests/stats/test_kernels.py"),
}
KILLED, SURVIVED, NO_TESTS = 1, 0, 33  # mutmut's exit codes per mutant (others: timeouts, suspicious)
TIMEOUTS = {-24, 24, 36, 152, 255}  # mutmut's timeout codes (stats.py): counted as killed, and shown
# Modules whose selected tests run the model (torch) after mutmut's fork: forked straight from mutmut's
# process, where pytest already ran them once, they hang until the timeout, so every mutant that reaches
# them counts as killed (parse.py: a mutant whose tests pass in 7 s by hand "timed out" at 24 s and 59 s).
# mutmut's forkserver (its documented remedy for torch) with nothing imported before the fork avoids it.
FORKSERVER = {"polytests/claims/parse.py"}
DOC = ROOT / "docs" / "reliability.md"
START, END = "<!-- mutation: written by tools/mutation.py --write-doc -->", "<!-- /mutation -->"


def scratch_copy(scratch: Path) -> None:
    """This working tree (tracked and untracked files git does not ignore) copied to ``scratch``."""
    if scratch.exists():
        shutil.rmtree(scratch)
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            dst = scratch / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def configure(scratch: Path, module: str, tests: tuple[str, ...], timeout_multiplier: float = 15.0,
              forkserver: bool = False) -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = (f'\n[tool.mutmut]\nsource_paths = ["polytests"]\nonly_mutate = ["{module}"]\n'
               f"pytest_add_cli_args_test_selection = {json.dumps(list(tests))}\n"
               'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]\n'
               'also_copy = ["tests", "corpora", "conftest.py", "hypotheses", "docs"]\n'
               f"timeout_multiplier = {float(timeout_multiplier)}\n"
               + ('process_isolation = "forkserver"\nforkserver_warmup = "none"\n' if forkserver else ""))
    (scratch / "pyproject.toml").write_text(text + section, encoding="utf-8")
    shutil.rmtree(scratch / "mutants", ignore_errors=True)


def run_module(scratch: Path, module: str, tests: tuple[str, ...], jobs: int,
               timeout_multiplier: float = 15.0, forkserver: bool = False) -> dict:
    configure(scratch, module, tests, timeout_multiplier, forkserver or module in FORKSERVER)
    start = time.perf_counter()
    # Unmutated, the selected tests must pass: otherwise every mutant would count as killed.
    clean = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=scratch,
                           capture_output=True, text=True, check=False)
    if clean.returncode != 0:
        raise SystemExit(f"the tests selected for {module} fail without any mutation; fix them first:\n"
                         f"{clean.stdout[-2000:]}")
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)], cwd=scratch,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    meta = scratch / "mutants" / f"{module}.meta"
    if not meta.is_file():
        raise SystemExit(f"mutmut wrote no results for {module} (run it by hand in {scratch} to see why)")
    codes = Counter(json.loads(meta.read_text())["exit_code_by_key"].values())
    if codes[None]:  # mutmut stopped before testing them (e.g. its own unmutated run in mutants/ failed)
        raise SystemExit(f"mutmut tested no mutant of {module} ({codes[None]} of {sum(codes.values())} unchecked): "
                         f"run `python -m mutmut run --max-children 1` in {scratch} to see why")
    total = sum(codes.values())
    killed = total - codes[SURVIVED] - codes[NO_TESTS]
    survivors = sorted(k for k, v in json.loads(meta.read_text())["exit_code_by_key"].items() if v == SURVIVED)
    return {"module": module, "mutants": total, "killed": killed, "survived": codes[SURVIVED],
            "timeouts": sum(codes[c] for c in TIMEOUTS),
            "no_tests": codes[NO_TESTS], "score": killed / total if total else 1.0,
            "seconds": time.perf_counter() - start, "tests": tests, "survivors": survivors,
            "measured": time.strftime("%Y-%m-%d"), "mutmut": _mutmut_version()}


def table(rows: list[dict]) -> str:
    lines = ["| module | mutants | killed | survived | no tests | of the killed, by timeout | score | measured "
             "| tests run |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:  # rows measured before timeouts were counted show "?"
        lines.append(f"| `{r['module']}` | {r['mutants']} | {r['killed']} | {r['survived']} | {r['no_tests']} | "
                     f"{r.get('timeouts', '?')} | {r['score']:.0%} | {r.get('measured', '?')} | "
                     f"{', '.join(Path(t).name for t in r['tests'])} |")
    total = sum(r["mutants"] for r in rows)
    killed = sum(r["killed"] for r in rows)
    lines.append(f"| all | {total} | {killed} | {sum(r['survived'] for r in rows)} | "
                 f"{sum(r['no_tests'] for r in rows)} | | {killed / total:.0%} | | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"modules (default: all {len(MODULES)})")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--timeout-multiplier", type=float, default=15.0,
                        help="mutmut's timeout_multiplier (its default 15): a mutant's tests get about this x "
                             "(their measured time + 1 s) of wall time before it counts as a timeout, i.e. killed. "
                             "Lowering it makes looping mutants cheaper but can turn slow survivors into kills: "
                             "parse.py at 3 and at 6 counted passing mutants as timeouts")
    parser.add_argument("--forkserver", action="store_true",
                        help="fork every mutant from mutmut's fork server with nothing imported (always for the "
                             "modules in FORKSERVER); use it when a module's timeouts look like hangs")
    parser.add_argument("--scratch", default="/tmp/polytests-mutation")
    parser.add_argument("--write-doc", action="store_true", help="rewrite the table in docs/reliability.md")
    parser.add_argument("--json", help="also write every row (survivors included) here")
    parser.add_argument("--doc-only", action="store_true",
                        help="measure nothing: print (and with --write-doc, write) the table of the rows in --json")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other modules' rows already in --json (re-measure some modules only)")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]}; known: {', '.join(MODULES)}")
    if args.doc_only:
        if not args.json or not Path(args.json).is_file():
            parser.error("--doc-only reads the rows of --json FILE (written by earlier runs)")
        rows = sorted(json.loads(Path(args.json).read_text()), key=lambda r: list(MODULES).index(r["module"]))
        if args.write_doc:
            write_doc(rows, args.json)
        print(table(rows))
        return 0
    scratch = Path(args.scratch)
    scratch_copy(scratch)
    kept = []
    if args.merge and args.json and Path(args.json).is_file():
        kept = [r for r in json.loads(Path(args.json).read_text()) if r["module"] not in (args.modules or MODULES)]
    rows = []
    for module in args.modules or list(MODULES):
        row = run_module(scratch, module, MODULES[module], args.jobs, args.timeout_multiplier, args.forkserver)
        print(f"{module}: {row['killed']}/{row['mutants']} killed ({row['score']:.0%}), {row['survived']} survived, "
              f"{row['no_tests']} reached by no selected test, {row['timeouts']} killed by timeout, "
              f"{row['seconds']:.0f} s", flush=True)
        rows.append(row)
        # after every module, so that a long run stopped halfway keeps what it measured
        every = sorted(kept + rows, key=lambda r: list(MODULES).index(r["module"]))
        if args.json:
            Path(args.json).write_text(json.dumps(every, indent=1), encoding="utf-8")
        if args.write_doc:
            write_doc(every, args.json)
    print(table(sorted(kept + rows, key=lambda r: list(MODULES).index(r["module"]))))
    return 0


def write_doc(rows: list[dict], rows_file: str | None) -> None:
    """The table of ``rows`` between the markers of docs/reliability.md, with the commands behind it."""
    text = DOC.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    where = rows_file or "rows.json"
    missing = [m for m in MODULES if m not in {r["module"] for r in rows}]
    body = (f"Each row: `python tools/mutation.py MODULE --jobs 1 --json {where} --merge` (the date it was measured "
            f"is in the row); this table: `python tools/mutation.py --json {where} --doc-only --write-doc`"
            + (f". Not in the table: {', '.join(f'`{m}`' for m in missing)}" if missing else "")
            + f".\n\n{table(rows)}")
    DOC.write_text(f"{before}{START}\n{body}\n{END}{after}", encoding="utf-8")


def _mutmut_version() -> str:
    from importlib import metadata

    return metadata.version("mutmut")


if __name__ == "__main__":
    raise SystemExit(main())
