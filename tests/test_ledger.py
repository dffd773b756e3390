"""The ledger and the report files survive killed and concurrent runs; `polytests history`."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from polytests.cli import main
from polytests.reports import read_ledger, write_reports
from tests.test_reports import result

ROOT = Path(__file__).resolve().parent.parent

# A run in a child process; STOP_AT names a file whose atomic rename blocks (the run is then
# killed between writing the complete temporary file and renaming it into place).
CHILD = textwrap.dedent("""
    import dataclasses, os, sys, time
    from polytests.reports import write_reports
    from tests.test_reports import result

    folder, stop_at, verdict, runs, n_docs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    real_replace = os.replace

    def replace(src, dst):
        if os.path.basename(dst) == stop_at:
            print("mid-write", flush=True)
            time.sleep(120)
        real_replace(src, dst)

    os.replace = replace
    r = dataclasses.replace(result(verdict), doc_means={"medical": tuple(0.001 * i for i in range(n_docs)), "legal": (0.0,)})
    for i in range(runs):
        print(f"run {i}", flush=True)
        write_reports([r], folder)
    print("done", flush=True)
""")


def child(tmp_path: Path, folder: Path, stop_at: str = "-", verdict: str = "refuted", runs: int = 1,
          n_docs: int = 10) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, str(script), str(folder), stop_at, verdict, str(runs), str(n_docs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def wait_for(proc: subprocess.Popen, line: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = proc.stdout.readline()
        if got.strip() == line:
            return
        if not got and proc.poll() is not None:
            raise AssertionError(f"child ended before {line!r}: {proc.stderr.read()}")
    raise AssertionError(f"child never printed {line!r}")


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def check_intact(folder: Path) -> tuple[int, dict]:
    ledger = read_ledger(folder / "history.jsonl")
    assert not ledger.rejected, ledger.rejected
    report = json.loads((folder / "claims.json").read_text())
    assert report["claims"][0]["claim_id"] == "c1"
    return len(ledger.entries), report


@pytest.mark.parametrize("stop_at", ["history.jsonl", "claims.json", "claims.html"])
def test_a_run_killed_mid_write_leaves_ledger_and_report_intact(tmp_path, stop_at):
    folder = tmp_path / "reports"
    write_reports([result("confirmed")], folder)
    before = (folder / "history.jsonl").read_bytes()
    proc = child(tmp_path, folder, stop_at)
    wait_for(proc, "mid-write")
    kill(proc)
    n, report = check_intact(folder)
    if stop_at == "history.jsonl":
        assert (folder / "history.jsonl").read_bytes() == before and n == 1
        assert report["claims"][0]["verdict"] == "confirmed"  # the old report, whole
    else:
        assert n == 2  # the ledger line landed before the report files
    # The next run cleans the killed run's temporary files and appends normally.
    written = write_reports([result("refuted")], folder)
    assert check_intact(folder)[0] == n + 1
    assert not list(folder.glob(".polytests-tmp-*"))
    assert [f["claim_id"] for f in written.flips] == (["c1"] if n == 1 else [])


def test_runs_killed_at_random_moments_never_tear_a_file(tmp_path):
    folder = tmp_path / "reports"
    write_reports([result("confirmed")], folder)
    rng = random.Random(11)
    counts = [1]
    for _ in range(3):
        proc = child(tmp_path, folder, runs=1000, n_docs=40_000)  # ~1 MB of JSON a write
        wait_for(proc, "run 1")
        time.sleep(rng.uniform(0.0, 0.4))
        kill(proc)
        counts.append(check_intact(folder)[0])
    assert counts == sorted(counts) and counts[-1] > 1


def test_concurrent_runs_all_land_in_the_ledger(tmp_path):
    folder = tmp_path / "reports"
    procs = [child(tmp_path, folder, verdict=v, runs=4) for v in ("confirmed", "refuted")]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    n, _ = check_intact(folder)
    assert n == 8
    verdicts = [e["claims"]["c1"]["verdict"] for e in read_ledger(folder / "history.jsonl").entries]
    assert verdicts.count("confirmed") == 4 and verdicts.count("refuted") == 4


def test_history_command_lists_runs_and_flips(tmp_path, capsys):
    folder = tmp_path / "reports"
    write_reports([result("confirmed"), result(claim_id="c2")], folder)
    write_reports([result("refuted", digest="ef" * 32), result(claim_id="c2")], folder)
    ledger = str(folder / "history.jsonl")
    assert main(["history", "--ledger", ledger]) == 0
    out = capsys.readouterr().out
    assert "2 runs in" in out and "c1" in out and "CR" in out and "(1 flip)" in out
    assert main(["history", "c1", "--ledger", ledger]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "c1: 2 runs" and "confirmed" in lines[2] and "+0.01 [-0.02, +0.04]" in lines[2]
    assert "FLIPPED from confirmed (model digest abababababab -> efefefefefef)" in lines[3]
    silent = result(claim_id="quiet")
    silent = dataclasses.replace(silent, predicates=(dataclasses.replace(
        silent.predicates[0], kind="silent_on", numbers={"difference": -0.001, "margin": 0.05}),))
    write_reports([silent], folder)
    assert main(["history", "quiet", "--ledger", ledger]) == 0
    assert "-0.001 vs ±0.05" in capsys.readouterr().out
    assert main(["history", "nope", "--ledger", ledger]) == 1
    assert "known: c1, c2, quiet" in capsys.readouterr().out
    assert main(["history", "--ledger", str(tmp_path / "none.jsonl")]) == 1


def test_a_flip_from_alpha_or_min_effect_is_explained_by_it():
    from polytests.reports.ledger import describe_changes, what_changed

    before = {"model_digest": "a" * 64, "seed": 1, "alpha": 0.05, "min_effect": 0.05, "versions": {"torch": "2"}}
    after = dict(before, alpha=0.01)
    changed = what_changed(before, after)
    assert changed == [{"what": "alpha", "before": 0.05, "after": 0.01}]
    assert "alpha" in describe_changes(changed)
    changed = what_changed(before, dict(before, min_effect=0.1, versions={"torch": "3"}))
    assert [c["what"] for c in changed] == ["min_effect", "torch"]
    assert describe_changes(what_changed(before, dict(before))) == "same model, corpora, libraries and seed"
    # records written before these fields existed explain nothing by them
    assert what_changed({k: v for k, v in before.items() if k != "alpha"}, after) == []


def test_a_non_utf8_ledger_line_is_set_aside_and_said_not_rewritten(tmp_path):
    """#28: a byte that is not UTF-8 used to be replaced silently and the line accepted as a run."""
    prov = {"model_digest": "a" * 64, "corpus_hash": "b" * 64, "seed": 1}
    good = json.dumps({"schema": 1, "claims": {"c1": {"verdict": "confirmed", **prov}}}).encode()
    bad = b'{"schema": 1, "claims": {"c\xff": {"verdict": "refuted"}}}'
    (tmp_path / "history.jsonl").write_bytes(good + b"\n" + bad + b"\n")
    contents = read_ledger(tmp_path / "history.jsonl")
    assert [list(e["claims"]) for e in contents.entries] == [["c1"]]
    assert [(n, why) for n, _, why in contents.rejected] == [(2, "not UTF-8 (byte 0xff at column 28)")]


@pytest.mark.parametrize("record, why", [
    ({"verdict": "confirmed"}, "has no provenance (model_digest, corpus_hash, seed)"),
    ({"verdict": "maybe", "model_digest": "a", "corpus_hash": "b", "seed": 1}, "verdict 'maybe' is none of"),
])
def test_a_hand_written_ledger_line_is_not_taken_for_a_run(tmp_path, record, why):
    """#28: a line with a verdict and nothing else used to count as a run, and a flip against it
    was explained as "same model, corpora, libraries and seed"."""
    real = {"verdict": "refuted", "model_digest": "a" * 64, "corpus_hash": "b" * 64, "seed": 1}
    lines = [json.dumps({"schema": 1, "claims": {"c1": real}}), json.dumps({"schema": 1, "claims": {"c1": record}})]
    (tmp_path / "history.jsonl").write_text("\n".join(lines) + "\n")
    contents = read_ledger(tmp_path / "history.jsonl")
    assert [e["claims"]["c1"]["verdict"] for e in contents.entries] == ["refuted"]
    assert len(contents.rejected) == 1 and contents.rejected[0][0] == 2 and why in contents.rejected[0][2]


def test_an_edited_claim_is_told_apart_from_a_flip(tmp_path):
    """#28: the record carries the claim's digest; a verdict that changes with the claim's text says so."""
    from polytests.reports.ledger import describe_changes, what_changed

    before = {"verdict": "confirmed", "claim_digest": "1" * 64, "model_digest": "m", "seed": 1}
    after = dict(before, verdict="refuted", claim_digest="2" * 64)
    changed = what_changed(before, after)
    assert changed[0]["what"] == "claim_digest"
    assert describe_changes(changed).startswith("the claim itself was edited (digest 111111111111 -> 222222222222)")
    assert describe_changes(what_changed(before, dict(before, verdict="refuted"))) == \
        "same model, corpora, libraries and seed"


def test_a_claims_digest_is_what_it_says_not_where_it_is_written():
    from polytests.claims.model import Claim

    raw = {"id": "c", "statement": "s", "neuron": "L1N2", "predicates": [{"kind": "fires_on", "corpus": "a"}]}
    here = Claim.located(raw, source="a.toml", line=1, lines={})
    there = Claim.located(raw, source="b/c.toml", line=40, lines={})
    edited = Claim.located({**raw, "predicates": [{"kind": "fires_on", "corpus": "a", "min_effect": 0.2}]},
                           source="a.toml", line=1, lines={})
    assert here.digest == there.digest != edited.digest and len(here.digest) == 64


def test_a_flip_after_a_change_of_polytests_code_names_it():
    from polytests.reports.ledger import describe_changes, what_changed

    before = {"verdict": "confirmed", "versions": {"numpy": "2.0", "polytests_source": "a" * 64}}
    after = {"verdict": "inconclusive", "versions": {"numpy": "2.0", "polytests_source": "b" * 64}}
    assert describe_changes(what_changed(before, after)) == "polytests' code aaaaaaaaaaaa -> bbbbbbbbbbbb"
