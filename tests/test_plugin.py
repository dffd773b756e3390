"""The pytest plugin end to end, driven by pytester on a tiny model and tiny corpora."""

from __future__ import annotations

import json
import re
import textwrap
from xml.etree import ElementTree

import pytest

from polytests.corpora import load_corpora
from tests.helpers import alpha_neurons


@pytest.fixture(scope="module")
def neurons(tiny_model, tiny_corpora):
    """(strongest alpha neuron, neuron least active on alpha): found from the data, not assumed."""
    docs = [d for c in load_corpora(tiny_corpora).values() for d in c.split("confirm")]
    return alpha_neurons(tiny_model, docs)


def claim_toml(id, neuron, predicates, extra=""):
    preds = "".join(f"\n[[claim.predicate]]\n{p}\n" for p in predicates)
    return f'[[claim]]\nid = "{id}"\nstatement = "{id} in words"\nneuron = "{neuron}"\n{extra}\n{preds}'


def project_neurons(pytester):
    return pytester.polytests_neurons


@pytest.fixture
def project(pytester, tiny_model_dir, tiny_corpora, neurons):
    strong, weak = neurons
    pytester.polytests_neurons = neurons
    pytester.makepyprojecttoml(textwrap.dedent(f"""
        [tool.polytests]
        model = "{tiny_model_dir}"
        corpora = "{tiny_corpora}"
        resamples = 999
        # The tiny model's strongest alpha neuron sits at 1.3x the default bound (0.05 of its scale),
        # too close for 14 documents a corpus to decide; the machinery under test needs a clear case.
        min_effect = 0.02
        cache_dir = "{pytester.path / 'cache'}"
    """))
    hyp = pytester.mkdir("hypotheses")
    (hyp / "claims.toml").write_text(
        claim_toml("alpha-feature", strong, ['kind = "fires_on"\ncorpus = "alpha"'])
        + claim_toml("alpha-wrong", weak, ['kind = "fires_on"\ncorpus = "alpha"'])
        + claim_toml("alpha-documented-false", weak, ['kind = "fires_on"\ncorpus = "alpha"'],
                     extra='expect = "refuted"'))
    (hyp / "broken.toml").write_text('[[claim]]\nid = "broken"\nstatement = "x"\nneuron = "L1N2"\n'
                                     '[[claim.predicate]]\nkind = "fires_onn"\ncorpus = "alpha"\n')
    (hyp / "test_python_claims.py").write_text(textwrap.dedent(f"""
        from polytests import claim, fires_on, top_k_precision

        alpha_python = claim(id="alpha-python", statement="same as alpha-feature, in Python",
                             neuron="{strong}", predicates=[fires_on("alpha")])

        def test_check_from_an_ordinary_test(polytests):
            result = polytests.check(alpha_python)
            assert result.verdict in ("confirmed", "refuted", "inconclusive")
            assert result.site == "blocks.1.mlp.ln.hook_in"
            store = polytests.store(["{strong}"])
            assert store.site_of(1) == result.site and set(store.corpora) == {{"alpha", "beta", "gamma", "delta"}}
            assert polytests.model().n_layers == 2
    """))
    return pytester


def run(pytester, *args):
    return pytester.runpytest("hypotheses", "-p", "no:cacheprovider", *args)


def report(pytester):
    return {c["claim_id"]: c for c in json.loads((pytester.path / "reports" / "claims.json").read_text())["claims"]}


def test_claims_run_end_to_end(project):
    result = run(project)
    result.assert_outcomes(passed=4, failed=2)  # alpha-wrong is refuted; broken.toml is one failure
    out = result.stdout.str()
    assert "invalid claim file" in out and "unknown predicate kind 'fires_onn'" in out and "broken.toml:6" in out
    assert "claim alpha-wrong" in out and "verdict: REFUTED" in out and "fires_on" in out
    assert "polytests: claims" in out  # the summary table
    claims = report(project)
    assert claims["alpha-feature"]["verdict"] == "confirmed"
    assert claims["alpha-python"]["verdict"] == "confirmed"
    # Same neuron and predicate in both forms: the same evidence (seeds differ by claim id).
    assert claims["alpha-feature"]["pvalue"] <= 0.05 and claims["alpha-python"]["pvalue"] <= 0.05
    feature, python = (claims[k]["predicates"][0]["numbers"] for k in ("alpha-feature", "alpha-python"))
    assert feature["difference"] == python["difference"] and feature["n_docs"] == python["n_docs"]
    assert claims["alpha-documented-false"]["verdict"] == "refuted"
    assert claims["alpha-feature"]["family_size"] == 4
    prov = claims["alpha-feature"]["provenance"]
    assert len(prov["model_digest"]) == 64 and len(prov["corpus_hash"]) == 64 and prov["seed"] == 20261125
    assert len(prov["claim_digest"]) == 64 and len(prov["versions"]["polytests_source"]) == 64
    ledger = [json.loads(line) for line in (project.path / "reports" / "history.jsonl").read_text().splitlines()]
    assert ledger[-1]["claims"]["alpha-feature"]["claim_digest"] == prov["claim_digest"]
    assert (project.path / "reports" / "claims.html").is_file()
    # #26: the broken claim file is in every report: the terminal summary, HTML, Markdown.
    assert "polytests: 1 claim(s) not judged: broken (broken.toml): invalid claim file" in out
    html = (project.path / "reports" / "claims.html").read_text()
    assert "4 claims judged, <a href='#not-judged'>1 not judged</a>" in html and "id='not-judged'" in html
    for name in ("claims.md", "summary.md"):
        text = (project.path / "reports" / name).read_text()
        assert "Not judged (1)" in text and "| broken " in text and "fires_onn" in text, name


def test_verdicts_do_not_change_with_k(project):
    run(project)
    full = report(project)["alpha-feature"]
    result = run(project, "-k", "alpha-feature")
    result.assert_outcomes(passed=1)
    selected = report(project)["alpha-feature"]
    assert selected["family_size"] == full["family_size"] == 4
    assert selected["pvalue_adjusted"] == full["pvalue_adjusted"]
    # Selecting one file by path leaves the Python claim file uncollected: still in the family.
    project.runpytest("hypotheses/claims.toml", "-p", "no:cacheprovider")
    by_path = report(project)["alpha-feature"]
    assert by_path["family_size"] == 4 and by_path["pvalue_adjusted"] == full["pvalue_adjusted"]


def test_a_selection_computes_only_what_it_selected_and_never_decides_more_than_the_full_run(project):
    # A fresh cache: -k computes alpha-feature alone; the three other valid claims enter Holm at p = 1.
    result = run(project, "-k", "alpha-feature")
    result.assert_outcomes(passed=1)
    computed = {p.name.rsplit("-", 1)[0] for p in (project.path / "cache" / "results").glob("*.pkl")}
    assert computed == {"alpha-feature"}  # (a refined result of it is a second entry)
    selected = report(project)["alpha-feature"]
    assert selected["family_size"] == 4 and selected["provenance"]["family_not_computed"] == 3
    assert "3 of the family's 4 claims were not selected" in result.stdout.str()
    run(project)
    full = report(project)
    assert full["alpha-feature"]["provenance"]["family_not_computed"] == 0
    # Holm is non-decreasing in every input: the stand-ins at p = 1 can only raise the adjusted p.
    assert selected["pvalue_adjusted"] >= full["alpha-feature"]["pvalue_adjusted"]
    assert selected["pvalue_refute_adjusted"] >= full["alpha-feature"]["pvalue_refute_adjusted"]
    if selected["verdict"] != "inconclusive":
        assert full["alpha-feature"]["verdict"] == selected["verdict"]
    # Now everything is cached: the selection reads the others and is exact.
    run(project, "-k", "alpha-feature")
    again = report(project)["alpha-feature"]
    assert again["provenance"]["family_not_computed"] == 0
    assert again["pvalue_adjusted"] == full["alpha-feature"]["pvalue_adjusted"]


def test_a_claim_checked_from_a_test_in_a_selection_is_judged_within_the_family(project):
    # alpha-python is a member of the family that this selection does not select as an item; the
    # ordinary test that checks it gets it computed then, in the family of 4 (not alone).
    project.makeconftest(textwrap.dedent("""
        import pytest

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(item):
            yield
            if item.name == "test_check_from_an_ordinary_test":
                from polytests.session import SESSION_KEY
                state = item.config.stash[SESSION_KEY]
                r = state.result_for(state.family["alpha-python"])
                assert r.family_size == 4, r.family_size
    """))
    result = run(project, "-k", "alpha-feature or check_from_an_ordinary")
    result.assert_outcomes(passed=2)
    computed = {p.name.rsplit("-", 1)[0] for p in (project.path / "cache" / "results").glob("*.pkl")}
    assert computed == {"alpha-feature", "alpha-python"}


def test_computing_claims_is_never_silent_and_quiet_means_a_line_a_minute(project):
    # pytester's output is not a terminal: with -q one progress line a minute at most (the run is
    # shorter than that), without -q one line per claim, each with its stage, count and time.
    quiet = run(project, "-q").stdout.str()
    lines = [line for line in quiet.splitlines() if line.startswith("polytests: claim ")]
    assert len(lines) == 1 and "(1/4;" in lines[0] and "fires_on on L" in lines[0] and "so far" in lines[0]
    assert "claim(s) computed in" not in quiet  # inside the same minute
    loud = run(project, "--polytests-recompute").stdout.str()
    lines = [line for line in loud.splitlines() if line.startswith("polytests: claim ")]
    lines = [line for line in lines if "/4;" in line]  # (refinement lines too, where a claim needs them)
    assert [re.search(r"\((\d)/4;", line).group(1) for line in lines] == ["1", "2", "3", "4"]
    assert "polytests: 4 claim(s) computed in" in loud
    assert all("left)" in line for line in lines[1:])
    # Nothing to compute: no progress lines at all.
    assert "polytests: claim " not in run(project).stdout.str()


def test_a_summary_piped_to_a_file_is_not_cut_at_80_columns(project, monkeypatch):
    # #26: piped output was cut mid-word ("respo…", "FAI") at 80 columns. (COLUMNS, when set, rules:
    # pytest-xdist sets it in its workers.)
    monkeypatch.delenv("COLUMNS", raising=False)
    strong, _ = project_neurons(project)
    long_id = "a-claim-id-long-enough-to-fill-half-the-line-x"
    (project.path / "hypotheses" / "long.toml").write_text(
        claim_toml(long_id, strong, ['kind = "fires_on"\ncorpus = "alpha"']))
    out = run(project, "-k", long_id).stdout.str()
    row = next(line for line in out.splitlines() if line.lstrip().startswith(long_id))
    assert "…" not in row and "confirmed" in row and strong in row and "passed" in row


def test_same_inputs_same_pvalues_bit_for_bit(project):
    run(project)
    first = report(project)
    run(project)
    second = report(project)
    assert {k: v["pvalue"] for k, v in first.items()} == {k: v["pvalue"] for k, v in second.items()}
    assert second["alpha-feature"]["provenance"]["from_cache"]


def _from_cache(pytester) -> dict:
    return {cid: c["provenance"]["result_from_cache"] for cid, c in report(pytester).items()}


def test_a_rerun_reads_results_and_recomputes_only_the_changed_claim(project, neurons):
    run(project)
    first = report(project)
    assert not any(_from_cache(project).values())
    run(project)
    assert all(_from_cache(project).values())
    assert {k: (v["pvalue"], v["pvalue_adjusted"], v["verdict"]) for k, v in report(project).items()} == \
        {k: (v["pvalue"], v["pvalue_adjusted"], v["verdict"]) for k, v in first.items()}
    # One claim edited: only it is recomputed, and the family correction still covers all four.
    claims = project.path / "hypotheses" / "claims.toml"
    claims.write_text(claims.read_text().replace(
        f'id = "alpha-wrong"\nstatement = "alpha-wrong in words"\nneuron = "{neurons[1]}"',
        f'id = "alpha-wrong"\nstatement = "alpha-wrong in words"\nneuron = "{neurons[1]}"\nalpha = 0.01'))
    run(project)
    assert _from_cache(project) == {"alpha-feature": True, "alpha-wrong": False, "alpha-documented-false": True,
                                    "alpha-python": True}
    assert report(project)["alpha-feature"]["family_size"] == 4
    # --polytests-recompute reads nothing and gives the same numbers.
    run(project, "--polytests-recompute")
    assert not any(_from_cache(project).values())
    assert report(project)["alpha-feature"]["pvalue"] == first["alpha-feature"]["pvalue"]


def test_a_damaged_result_entry_is_reported_and_recomputed(project):
    run(project)
    first = report(project)
    # one entry at the configured resamples, and one per refinement that settled its Monte Carlo range
    entries = sorted((project.path / "cache" / "results").glob("alpha-feature-*.pkl"))
    assert len(entries) >= 1
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:-20] + b"x" * 20)
    with pytest.warns(UserWarning, match="damaged result cache entry.*recomputing"):
        result = run(project)
    result.assert_outcomes(passed=4, failed=2)
    again = report(project)
    assert not again["alpha-feature"]["provenance"]["result_from_cache"]
    assert again["alpha-feature"]["pvalue"] == first["alpha-feature"]["pvalue"]


def _verdicts_and_numbers(pytester) -> dict:
    """Each claim's verdict and p-values and every predicate's numbers, without timestamps or paths."""
    out = {}
    for cid, c in report(pytester).items():
        out[cid] = (c["verdict"], c["pvalue"], c["pvalue_refute"], c["pvalue_adjusted"],
                    json.dumps([p["numbers"] for p in c["predicates"]], sort_keys=True, default=str))
    return out


def _close(a, b) -> bool:
    """Nested JSON values equal, numbers within a relative 1e-6."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= 1e-6 * max(abs(a), abs(b))
    return a == b


def test_cold_runs_and_two_workers_give_identical_results(project):
    (project.path / "hypotheses" / "ablation.toml").write_text(claim_toml("alpha-ablation", "L1N3", [
        'kind = "ablation_hurts"\ncorpora = ["alpha"]\nkinds = ["zero", "resample"]\nn_null = 19']))
    runs = []
    for i, extra in enumerate(([], [], ["-n", "2"])):
        cache = project.path / f"cache{i}"  # every run cold: its own activation cache
        project.runpytest_subprocess("hypotheses", "-p", "no:cacheprovider", "-p", "no:randomly",
                                     f"--polytests-cache-dir={cache}", *extra)
        runs.append(_verdicts_and_numbers(project))
    assert runs[0] == runs[1], "two cold serial runs differ"
    # Verdicts and p-values are identical; the other numbers may differ in float32's last bits where
    # the CPU's matrix kernels split a product differently for one thread (each worker) than for two.
    assert {k: v[:4] for k, v in runs[0].items()} == {k: v[:4] for k, v in runs[2].items()}, \
        "a run on two xdist workers differs from the serial run"
    for key in runs[0]:
        assert _close(json.loads(runs[0][key][4]), json.loads(runs[2][key][4])), key
    assert "alpha-ablation" in runs[2]
    # The -n 2 run's figure cache (its workers draw into it: tests/test_reports.py checks that the
    # reports then draw nothing) holds the serial run's figures byte for byte (entries are named
    # by key and content digest). The keys digest the figure's numbers, which may differ in their last
    # bits (above); the pictures may not: compare the content digests.
    # (History figures are left out: they plot each run's time, which differs from run to run.)
    def drawn(folder):
        return sorted(p.stem.rsplit("-", 1)[1] for p in (project.path / folder / "figures").glob("*.png")
                      if not p.name.startswith("history-"))

    serial, workers = drawn("cache0"), drawn("cache2")
    assert serial and workers == serial


def test_unknown_corpus_and_neuron_fail_only_their_claim(project):
    hyp = project.path / "hypotheses"
    (hyp / "typos.toml").write_text(
        claim_toml("bad-corpus", "L1N1", ['kind = "fires_on"\ncorpus = "alfa"'])
        + claim_toml("bad-layer", "L7N1", ['kind = "fires_on"\ncorpus = "alpha"']))
    result = run(project)
    result.assert_outcomes(passed=4, failed=4)
    out = result.stdout.str()
    assert "unknown corpus 'alfa'; known: alpha, beta, delta, gamma" in out
    assert "layer 7 out of range: the model has 2 layers" in out and "typos.toml" in out


def test_inconclusive_is_skipped_unless_strict(project):
    hyp = project.path / "hypotheses"
    (hyp / "claims.toml").write_text(claim_toml(
        "no-tokens", "L1N1", ['kind = "token_matched"\ncorpus = "alpha"\nagainst = "beta"\nmin_occurrences = 100000']))
    (hyp / "broken.toml").unlink()
    (hyp / "test_python_claims.py").unlink()
    result = run(project)
    result.assert_outcomes(skipped=1)
    assert "inconclusive" in result.stdout.str()
    run(project, "--polytests-strict-inconclusive").assert_outcomes(failed=1)


@pytest.mark.parametrize("args, words", [
    (("--polytests-correction", "fdr"), "--polytests-correction fdr: must be one of 'holm', 'bh'"),
    (("--polytests-resamples", "0"), "--polytests-resamples 0: must be greater than or equal to 99"),
    (("--polytests-resamples", "many"), "--polytests-resamples many: must be a valid integer"),
    (("--polytests-alpha", "nan"), "--polytests-alpha nan: must be a finite number"),
    (("--polytests-corpora", "/nonexistent"), "--polytests-corpora /nonexistent: no such folder"),
    (("--polytests-device", "nonsense"), "--polytests-device nonsense: not a torch device"),
    (("--polytests-report-dir", "pyproject.toml/reports"), "pyproject.toml is a file, not a folder"),
])
def test_options_are_validated_in_one_line(project, args, words):
    result = run(project, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert words in err and "Fix:" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_bad_run_wide_model_is_one_session_error_not_one_per_claim(project, tmp_path):
    result = run(project, "--polytests-model", str(tmp_path / "nowhere"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes()  # nothing ran: no claim blames its own `model` field
    err = result.stderr.str()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"--polytests-model {tmp_path / 'nowhere'}" in err and "nowhere does not exist" in err and "Fix:" in err


def test_a_claims_own_bad_model_fails_only_that_claim(project, neurons, tmp_path):
    (project.path / "hypotheses" / "elsewhere.toml").write_text(
        claim_toml("elsewhere", neurons[0], ['kind = "fires_on"\ncorpus = "alpha"'],
                   extra=f'model = "{tmp_path / "nowhere"}"'))
    result = run(project)
    result.assert_outcomes(passed=4, failed=3)  # alpha-wrong, the broken file and this claim
    out = result.stdout.str()
    assert "field 'model'" in out and "nowhere does not exist" in out
    assert "refused before any activation was collected: elsewhere:" in out


@pytest.mark.parametrize("name", ["zz_again.toml", "aa_again.toml"])
def test_duplicate_ids_across_files_fail_both_claims(project, neurons, name):
    # Whichever file is collected first, neither claim is judged: the id's entry in claims.json
    # and the ledger never silently switches to another claim (before, the first collected won,
    # so a file sorting before the original took its id over).
    run(project)
    (project.path / "hypotheses" / name).write_text(
        claim_toml("alpha-feature", neurons[1], ['kind = "fires_on"\ncorpus = "beta"']))
    result = run(project)
    result.assert_outcomes(passed=3, failed=4)
    out = result.stdout.str()
    assert out.count("duplicate claim id 'alpha-feature', also used at") >= 2 and name in out
    assert "neither claim is judged" in out
    assert "alpha-feature" not in report(project)
    ledger = [json.loads(line) for line in (project.path / "reports" / "history.jsonl").read_text().splitlines()]
    assert "alpha-feature" in ledger[0]["claims"] and "alpha-feature" not in ledger[-1]["claims"]


def _rewrite_last_ledger_line(project, claim_id, **changes):
    path = project.path / "reports" / "history.jsonl"
    lines = path.read_text().splitlines()
    entry = json.loads(lines[-1])
    entry["claims"][claim_id].update(changes)
    path.write_text("\n".join(lines[:-1] + [json.dumps(entry)]) + "\n")


def test_a_flipped_verdict_is_flagged_with_what_changed(project):
    run(project)
    _rewrite_last_ledger_line(project, "alpha-feature", verdict="refuted", model_digest="0" * 64)
    result = run(project)
    result.assert_outcomes(passed=4, failed=2)  # a flip alone does not fail the run by default
    out = result.stdout.str()
    assert "VERDICT FLIPPED for alpha-feature: refuted -> confirmed (model digest 000000000000 -> " in out
    flips = json.loads((project.path / "reports" / "claims.json").read_text())["flips"]
    assert [f["claim_id"] for f in flips] == ["alpha-feature"]
    assert "VERDICT FLIPPED" not in run(project).stdout.str()
    lines = (project.path / "reports" / "history.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["claims"]["alpha-feature"] for line in lines)


def test_fail_on_flip_fails_an_otherwise_green_run(project):
    hyp = project.path / "hypotheses"
    (hyp / "broken.toml").unlink()
    (hyp / "claims.toml").write_text(claim_toml("alpha-feature", project_neurons(project)[0],
                                                ['kind = "fires_on"\ncorpus = "alpha"']))
    assert run(project, "--polytests-fail-on-flip").ret == 0
    _rewrite_last_ledger_line(project, "alpha-feature", verdict="inconclusive", seed=7)
    result = run(project, "--polytests-fail-on-flip")
    result.assert_outcomes(passed=3)
    assert result.ret == 1
    out = result.stdout.str()
    assert "inconclusive -> confirmed (seed 7 -> 20261125)" in out and "failing the run: 1 verdict(s) flipped" in out
    assert run(project, "--polytests-fail-on-flip").ret == 0  # the flip is recorded; the next run is green


def test_summary_at_80_columns_without_colour_and_junit_names(project, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    result = run(project, "--junitxml", str(project.path / "junit.xml"))
    out = result.stdout.str()
    assert "\x1b[" not in out
    table = out[out.index("polytests: claims"):out.index("polytests: reports in")]
    assert all(len(line) <= 80 for line in table.splitlines())
    for claim_id in ("alpha-feature", "alpha-documented-false", "alpha-wrong", "alpha-python"):
        assert re.search(rf"^ ?{claim_id}\b", table, re.M), claim_id  # whole, at the start of a row
    assert "alpha-wrong: REFUTED (expected confirmed)" in table and "to decide:" in table
    junit = ElementTree.parse(project.path / "junit.xml").getroot()
    names = {case.get("name") for case in junit.iter("testcase")}
    assert {"alpha-feature", "alpha-wrong", "alpha-documented-false", "alpha-python"} <= names
    verdicts = {case.get("name"): prop.get("value") for case in junit.iter("testcase")
                for prop in case.iter("property") if prop.get("name") == "polytests_verdict"}
    assert verdicts["alpha-wrong"] == "refuted" and verdicts["alpha-feature"] == "confirmed"
    summary = (project.path / "reports" / "summary.md").read_text()
    assert "| alpha-wrong | refuted | confirmed |" in summary


def test_ablation_predicates_in_a_toml_claim(project):
    hyp = project.path / "hypotheses"
    (hyp / "ablation.toml").write_text(claim_toml("alpha-ablation", "L1N3", [
        'kind = "ablation_hurts"\ncorpora = ["alpha"]\nkinds = ["zero", "mean", "resample"]\nn_null = 19',
        'kind = "ablation_specific"\ncorpora = ["alpha"]',
        'kind = "ablation_spares"\ncorpus = "beta"\nmargin = 0.5'], extra='expect = "refuted"'))
    run(project)
    result = report(project)["alpha-ablation"]
    kinds = [p["kind"] for p in result["predicates"]]
    assert kinds == ["ablation_hurts", "ablation_specific", "ablation_spares"]
    hurts = result["predicates"][0]["numbers"]["per_kind"]
    assert set(hurts) == {"zero", "mean", "resample"}
    assert all(1 / 20 <= v["p_rank"] <= 1 and v["null_evaluated"] >= 10 for v in hurts.values())
    # 19 null neurons: the rank p is at least 1/20, so ablation_hurts is never shown above its
    # bound in a family of 5 unless every other claim is decisive; a random-weight model's
    # neuron is not confirmed.
    assert result["verdict"] != "confirmed" and result["predicates"][0]["min_pvalue"] >= 1 / 20


def test_a_warm_run_imports_neither_torch_nor_transformer_lens_nor_scipy(project):
    # Every result cached: the model is known by its files (no boot), the evaluators are not
    # imported, and the family correction needs only polytests' own Holm (docs/benchmarks.md).
    (project.path / "hypotheses" / "test_python_claims.py").unlink()  # it boots the model on purpose
    project.makeconftest("""
        import json, sys

        def pytest_unconfigure(config):
            heavy = [m for m in ("torch", "transformer_lens", "scipy", "statsmodels") if m in sys.modules]
            with open("imported.json", "w") as handle:
                json.dump(heavy, handle)
    """)
    imported = project.path / "imported.json"
    project.runpytest_subprocess("hypotheses", "-p", "no:cacheprovider")
    assert {"torch", "transformer_lens", "scipy"} <= set(json.loads(imported.read_text()))  # the spy sees imports
    assert not any(_from_cache(project).values())
    cold = report(project)
    project.runpytest_subprocess("hypotheses", "-p", "no:cacheprovider")
    assert all(_from_cache(project).values())
    assert json.loads(imported.read_text()) == []
    assert {k: (v["pvalue"], v["verdict"]) for k, v in report(project).items()} == \
        {k: (v["pvalue"], v["verdict"]) for k, v in cold.items()}
