"""The ledger's pure parts (polytests/reports/ledger.py), on hand-made lines and results whose right
answer is known: which lines are set aside and why, what a record keeps, what a flip names.
(tests/test_ledger.py runs whole runs: killed, concurrent; these take a fraction of a second.)"""

from __future__ import annotations

import dataclasses
import json
import re


from polytests.claims.results import ClaimResult, PredicateResult
from polytests.reports.ledger import (
    LedgerContents,
    _check_entry,
    _previous_record,
    append_entry,
    claim_history,
    claim_record,
    describe_changes,
    find_flips,
    latest_record,
    ledger_entry,
    read_ledger,
    what_changed,
)

PROVENANCE = {"claim_digest": "c" * 64, "model": "tiny", "model_digest": "d" * 64, "corpus_hash": "e" * 64,
              "reference_sha256": "f" * 64, "seed": 7, "resamples": 999, "split": "confirm", "min_effect": 0.05,
              "min_effect_loss": 0.01, "documents": 40, "versions": {"torch": "2.1", "numpy": "2.0"}}


def claim(verdict="confirmed", claim_id="c1", predicates=None, **prov):
    if predicates is None:
        predicates = (PredicateResult("silent_on", "s", 0.01, "quiet", estimate=-0.5, bound=0.0),
                      PredicateResult("fires_on", "f", 0.03, "fires", estimate=0.3, bound=0.1, ci=(0.2, 0.4)))
    return ClaimResult(claim_id, "L0N1 fires on medical", "L0N1", "blocks.0.mlp.hook_post", "confirmed", 0.01,
                       predicates, 0.03, 0.06, verdict, "why", "holm", 4, provenance=PROVENANCE | prov)


def record(verdict="confirmed", **over):
    """A ledger record as a run writes it (the keys _check_entry requires)."""
    return {"verdict": verdict, "model_digest": "d" * 64, "corpus_hash": "e" * 64, "seed": 7} | over


def entry(generated="2026-01-01", run="r1", **claims):
    return {"schema": 1, "run": run, "generated": generated, "claims": claims}


# --- which lines are set aside, and why ------------------------------------------------------------

def test_a_well_formed_line_passes_and_each_malformed_one_says_why():
    assert _check_entry(entry(a=record(), b=record("refuted"), c=record("inconclusive"))) is None
    assert _check_entry(entry()) is None  # a run with no claims
    assert _check_entry([1]) == "not a JSON object"
    assert _check_entry({"claims": [record()]}) == "no 'claims' object"
    assert _check_entry({}) == "no 'claims' object"
    assert _check_entry(entry(a=record(), b="confirmed")) == "a claim without a verdict"
    assert _check_entry(entry(a=record(), b={"verdict": 1})) == "a claim without a verdict"
    assert _check_entry(entry(a=record(), b={"seed": 1})) == "a claim without a verdict"
    assert _check_entry(entry(a=record(), b=record("passed"))) == (
        "claim 'b': verdict 'passed' is none of confirmed, refuted, inconclusive")
    no_provenance = {"verdict": "refuted", "corpus_hash": "e"}
    assert _check_entry(entry(a=record(), b=no_provenance, c=record("maybe"))) == (
        "claim 'b' has no provenance (model_digest, seed): a line no polytests run wrote; "
        "it would be compared as if it were one")


def test_reading_keeps_good_lines_in_order_and_sets_the_rest_aside_with_their_line_numbers(tmp_path):
    path = tmp_path / "history.jsonl"
    assert read_ledger(path) == LedgerContents([], [])  # no ledger yet
    first, second = entry(run="r1", a=record()), entry(run="r2", a=record("refuted"))
    lines = [json.dumps(first).encode(), b"", b"   ", b'{"claims": {}, "x": \xff}', b"{not json",
             json.dumps({"claims": {"a": {"verdict": "yes"}}}).encode(), json.dumps(second).encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    contents = read_ledger(path)
    assert contents.entries == [first, second]
    assert [(n, why) for n, _, why in contents.rejected] == [
        (4, "not UTF-8 (byte 0xff at column 21)"),
        (5, "not JSON: Expecting property name enclosed in double quotes"),
        (6, "claim 'a': verdict 'yes' is none of confirmed, refuted, inconclusive")]
    assert contents.rejected[0][1] == '{"claims": {}, "x": \ufffd}' and contents.rejected[1][1] == "{not json"
    assert contents.warnings(path) == [
        f"{path}:4: malformed ledger line set aside in history.rejected.jsonl (not UTF-8 (byte 0xff at column 21))",
        f"{path}:5: malformed ledger line set aside in history.rejected.jsonl "
        "(not JSON: Expecting property name enclosed in double quotes)",
        f"{path}:6: malformed ledger line set aside in history.rejected.jsonl "
        "(claim 'a': verdict 'yes' is none of confirmed, refuted, inconclusive)"]


# --- what a record keeps -----------------------------------------------------------------------------

def test_a_record_keeps_the_verdict_the_deciding_effect_and_the_provenance():
    r = dataclasses.replace(claim(), provenance=PROVENANCE | {"family_not_computed": 2})
    assert claim_record(r) == {
        "verdict": "confirmed", "expect": "confirmed", "pvalue": 0.03, "pvalue_adjusted": 0.06, "correction": "holm",
        "family_size": 4, "family_not_computed": 2, "neuron": "L0N1", "site": "blocks.0.mlp.hook_post",
        # the predicate with the largest p decides an intersection-union claim
        "effect": {"predicate": "fires_on", "label": "", "estimate": 0.3, "low": 0.2, "high": 0.4, "bound": 0.1,
                   "unit": "", "symmetric_bound": False},
        "claim_digest": "c" * 64, "model": "tiny", "model_digest": "d" * 64, "corpus_hash": "e" * 64,
        "reference_sha256": "f" * 64, "seed": 7, "resamples": 999, "split": "confirm", "min_effect": 0.05,
        "min_effect_loss": 0.01, "alpha": 0.01, "versions": {"torch": "2.1", "numpy": "2.0"}}


def test_a_record_without_an_effect_or_provenance_says_none():
    bare = dataclasses.replace(claim(predicates=()), provenance={"seed": 3, "versions": None})
    rec = claim_record(bare)
    assert rec["effect"] is None and rec["family_not_computed"] == 0 and rec["versions"] == {}
    assert rec["seed"] == 3 and all(rec[k] is None for k in ("model_digest", "corpus_hash", "claim_digest"))
    no_numbers = claim(predicates=(PredicateResult("top_k", "t", 0.2, "top"),))
    assert claim_record(no_numbers)["effect"] is None


def test_a_previous_claims_json_gives_the_same_record_or_its_verdict_and_provenance():
    r = claim("refuted")
    assert _previous_record(r.to_dict()) == claim_record(r)
    # another version of polytests wrote other fields: verdict and provenance only
    older = {"claim_id": "c1", "verdict": "refuted", "p": 0.3, "provenance": {"seed": 5, "model_digest": "m",
                                                                             "versions": {"torch": "1.0"}}}
    assert _previous_record(older) == {"verdict": "refuted", "claim_digest": None, "model": None,
                                       "model_digest": "m", "corpus_hash": None, "reference_sha256": None,
                                       "seed": 5, "resamples": None, "split": None, "min_effect": None,
                                       "min_effect_loss": None, "versions": {"torch": "1.0"}}
    for provenance in ({"provenance": "not a dict"}, {}):
        rec = _previous_record({"verdict": "confirmed", **provenance})
        assert rec["verdict"] == "confirmed" and rec["versions"] == {} and rec["seed"] is None
    # a field of the right name but the wrong shape
    broken = r.to_dict() | {"predicates": [{"kind": "fires_on"}]}
    assert _previous_record(broken)["verdict"] == "refuted" and "effect" not in _previous_record(broken)


def test_a_ledger_line_holds_every_claim_under_a_fresh_run_id():
    a, b = claim(claim_id="a"), claim("refuted", claim_id="b")
    line = ledger_entry([a, b], "2026-02-03T04:05:06")
    assert line["schema"] == 1 and line["generated"] == "2026-02-03T04:05:06"
    assert line["claims"] == {"a": claim_record(a), "b": claim_record(b)}
    assert re.fullmatch(r"[0-9a-f]{12}", line["run"]) and ledger_entry([], "x")["run"] != line["run"]
    assert _check_entry(line) is None  # what a run writes, it reads back


def test_appending_rewrites_the_good_lines_plus_one_and_moves_the_bad_ones(tmp_path):
    path = tmp_path / "history.jsonl"
    first = entry(run="r1", a=record())
    path.write_text(json.dumps(first) + "\n{broken\n", encoding="utf-8")
    (tmp_path / "history.rejected.jsonl").write_text('{"line": 9, "why": "earlier", "text": "x"}\n', encoding="utf-8")
    new = entry(run="r2", a=record("refuted", documents_needed=float("inf")))
    before = append_entry(path, new)
    assert before.entries == [first] and [n for n, _, _ in before.rejected] == [2]
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and text.count("\n") == 2 and ", " not in text and ": " not in text
    assert [json.loads(line) for line in text.splitlines()] == [
        first, entry(run="r2", a=record("refuted", documents_needed=None))]  # infinity is not JSON: null
    moved = (tmp_path / "history.rejected.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in moved] == [
        {"line": 9, "why": "earlier", "text": "x"},
        {"line": 2, "why": "not JSON: Expecting property name enclosed in double quotes", "text": "{broken"}]
    # contents already read under the lock are used as they are (the file is not read again)
    append_entry(path, entry(run="r3"), LedgerContents([first], []))
    assert [json.loads(line)["run"] for line in path.read_text(encoding="utf-8").splitlines()] == ["r1", "r3"]
    assert len((tmp_path / "history.rejected.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_the_first_rejected_lines_start_the_rejected_file_one_line_each(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text("[1]\n\"caf\u00e9\"\n", encoding="utf-8")
    append_entry(path, entry())
    moved = (tmp_path / "history.rejected.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in moved] == [{"line": 1, "why": "not a JSON object", "text": "[1]"},
                                                    {"line": 2, "why": "not a JSON object", "text": '"caf\u00e9"'}]


# --- what changed, and flips -------------------------------------------------------------------------

def test_latest_record_is_the_claims_most_recent_line():
    entries = [entry(run="r1", a=record()), entry(run="r2", a=record("refuted"), b=record()), entry(run="r3", b=record())]
    assert latest_record(entries, "a") == (entries[1], entries[1]["claims"]["a"])
    assert latest_record(entries, "b") == (entries[2], entries[2]["claims"]["b"])
    assert latest_record(entries, "z") is None and latest_record([], "a") is None


def test_what_changed_lists_differing_provenance_in_order_and_ignores_what_one_side_lacks():
    before = {"seed": 1, "model_digest": "m1", "alpha": 0.05, "split": None, "resamples": 99,
              "versions": {"torch": "2.0", "numpy": "1.0", "scipy": "1.1"}}
    after = {"seed": 2, "model_digest": "m2", "alpha": 0.05, "split": "confirm",
             "versions": {"torch": "2.1", "numpy": "1.0", "jax": "0.4"}}
    assert what_changed(before, after) == [
        {"what": "model_digest", "before": "m1", "after": "m2"}, {"what": "seed", "before": 1, "after": 2},
        {"what": "jax", "before": None, "after": "0.4"}, {"what": "scipy", "before": "1.1", "after": None},
        {"what": "torch", "before": "2.0", "after": "2.1"}]
    # versions known on one side only (an older ledger line) are not a change
    assert what_changed({"versions": {"torch": "2.0"}}, {"versions": {}}) == []
    assert what_changed({}, {"versions": {"torch": "2.0"}}) == []
    assert what_changed({"seed": 0, "alpha": 0.05}, {"seed": 0, "alpha": 0.01}) == [
        {"what": "alpha", "before": 0.05, "after": 0.01}]  # a zero seed is a seed


def test_changes_are_described_in_words_with_digests_shortened():
    assert describe_changes([]) == "same model, corpora, libraries and seed"
    assert describe_changes([{"what": "claim_digest", "before": "a" * 64, "after": "b" * 64},
                             {"what": "polytests_source", "before": "c" * 64, "after": "d" * 63},
                             {"what": "family_size", "before": 3, "after": 4},
                             {"what": "model_digest", "before": "e" * 65, "after": None}]) == (
        f"the claim itself was edited (digest {'a' * 12} -> {'b' * 12}); polytests' code {'c' * 12} -> {'d' * 63}; "
        f"family size 3 -> 4; model digest {'e' * 65} -> None")


def test_a_flip_is_a_verdict_that_differs_from_the_latest_earlier_one_and_names_what_changed():
    now = claim("refuted", claim_id="a", seed=8)
    entries = [entry("t1", a=record("refuted", seed=7)), entry("t2", a=record("confirmed", seed=7))]
    assert find_flips([now], entries) == [{
        "claim_id": "a", "before": "confirmed", "after": "refuted",
        "changed": [{"what": "seed", "before": 7, "after": 8}], "explanation": "seed 7 -> 8",
        "previous_run": "t2", "source": "ledger"}]
    assert find_flips([claim("confirmed", claim_id="a")], entries) == []  # same verdict
    assert find_flips([claim("refuted", claim_id="new")], entries) == []  # never judged before
    # neither stops the search: the claims after them are still compared
    entries.append(entry("t3", b=record("refuted")))
    both = [claim("confirmed", claim_id="new"), claim("refuted", claim_id="b"), now]
    assert [f["claim_id"] for f in find_flips(both, entries)] == ["a"]
    # the ledger wins over a previous claims.json
    report = {"generated": "t0", "claims": [claim("refuted", claim_id="a").to_dict()]}
    assert find_flips([now], entries, report)[0]["source"] == "ledger"


def test_without_a_ledger_line_a_flip_is_read_from_the_previous_claims_json():
    before = claim("confirmed", claim_id="a", seed=7)
    report = {"generated": "t0", "claims": ["junk", {"verdict": "refuted"}, {"claim_id": "b"}, before.to_dict()]}
    flips = find_flips([claim("refuted", claim_id="a"), claim("refuted", claim_id="b")], [], report)
    assert flips == [{"claim_id": "a", "before": "confirmed", "after": "refuted",
                      "changed": [],
                      "explanation": "same model, corpora, libraries and seed",
                      "previous_run": "t0", "source": "claims.json"}]
    later = find_flips([claim("refuted", claim_id="a", model_digest="x")], [], report)[0]
    assert later["explanation"] == f"model digest {'d' * 12} -> x"
    assert find_flips([claim("refuted", claim_id="a")], [], None) == []


def test_a_claims_history_marks_each_run_whose_verdict_differs_from_the_one_before():
    entries = [entry("t1", "r1", a=record("confirmed")), entry("t2", "r2", b=record()),
               entry("t3", "r3", a=record("confirmed")), entry("t4", "r4", a=record("refuted")),
               entry("t5", "r5", a=record("refuted"))]
    history = claim_history(entries, "a")
    assert [(h["generated"], h["run"], h["verdict"], h["flipped"]) for h in history] == [
        ("t1", "r1", "confirmed", False), ("t3", "r3", "confirmed", False), ("t4", "r4", "refuted", True),
        ("t5", "r5", "refuted", False)]
    assert history[0]["seed"] == 7 and claim_history(entries, "z") == []
    assert "flipped" not in entries[0]["claims"]["a"]  # the ledger's own records are not touched
