"""The reference text (issue #23): a claim's scale, bound and null neurons do not depend on corpora it
does not name; the embedded model's shipped reference and profiles are what the code computes."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from polytests.engine.reference import (
    PROFILES_FILE,
    REFERENCE_FILE,
    ReferenceProfiles,
    ReferenceTextError,
    read_profiles,
    read_reference,
    reference_donors,
    resolve_reference,
    sample_reference,
    write_reference,
)
from tests.helpers import WORDS


# -- the sampling rule and the file format ----------------------------------------------------
def _rows(n_per_kind=40, seed=0):
    rng = random.Random(seed)
    return [{"id": f"{kind}-{i}", "kind": kind, "text": " ".join(rng.choice(words) for _ in range(rng.randint(20, 400)))}
            for kind, words in WORDS.items() for i in range(n_per_kind)]


def test_sample_follows_the_mix_and_does_not_depend_on_row_order():
    rows = _rows()
    mix = {"alpha": 0.5, "beta": 0.3, "gamma": 0.2, "delta": 0.0}
    a = sample_reference(rows, mix, chars=20_000, doc_chars=1_000)
    b = sample_reference(list(reversed(rows)), mix, chars=20_000, doc_chars=1_000)
    assert a == b
    chars = {k: sum(len(r["text"]) for r in a if r["kind"] == k) for k in mix}
    assert chars["delta"] == 0
    for kind in ("alpha", "beta", "gamma"):  # each kind stops at the first document past its share
        assert mix[kind] * 20_000 <= chars[kind] < mix[kind] * 20_000 + 1_000
    assert max(len(r["text"]) for r in a) <= 1_000


def test_written_reference_reads_back_with_the_same_hash(tmp_path):
    rows = sample_reference(_rows(), {"alpha": 1.0}, chars=5_000)
    sha = write_reference(rows, tmp_path / "r.jsonl")
    ref = read_reference(tmp_path / "r.jsonl")
    assert ref.sha256 == sha == hashlib.sha256((tmp_path / "r.jsonl").read_bytes()).hexdigest()
    assert [d.text for d in ref.documents] == [r["text"] for r in rows] and ref.fixed


@pytest.mark.parametrize(("content", "match"), [
    ('{"text": "fine"}\nnot json\n', r"r\.jsonl, line 2: not JSON"),
    ('{"id": "x"}\n', r"line 1: field 'text' is missing"),
    ("\n\n", "holds no documents"),
])
def test_bad_reference_files_name_the_file_line_and_fix(tmp_path, content, match):
    (tmp_path / "r.jsonl").write_text(content)
    with pytest.raises(ReferenceTextError, match=match):
        read_reference(tmp_path / "r.jsonl")


def test_reference_folder_and_missing_path(tmp_path):
    (tmp_path / "ref").mkdir()
    with pytest.raises(ReferenceTextError, match="no \\*.txt files"):
        read_reference(tmp_path / "ref")
    (tmp_path / "ref" / "a.txt").write_text("one document")
    assert [d.text for d in read_reference(tmp_path / "ref").documents] == ["one document"]
    with pytest.raises(ReferenceTextError, match="does not exist.*reference = \"corpora\""):
        read_reference(tmp_path / "nowhere.jsonl")


def test_donors_depend_on_the_document_not_its_position():
    ids = [f"c/{i}" for i in range(50)]
    full = reference_donors(ids, 30, seed=7)
    assert np.array_equal(reference_donors(ids[10:], 30, seed=7), full[10:])
    assert not np.array_equal(reference_donors(ids, 30, seed=8), full)
    assert len(set(full.tolist())) > 15


# -- the embedded model's shipped reference ---------------------------------------------------
def test_embedded_reference_is_pinned_and_its_profiles_are_current():
    """The shipped profiles are keyed to the model's digest and the reference's bytes, and equal a
    recomputation (layer 1, both sites): stale profiles after retraining would fail here."""
    from polytests.engine.models import load_model
    from polytests.engine.models.loading import EMBEDDED_MODEL_DIR
    from polytests.engine.reference import POST_SITE

    model = load_model("embedded")
    ref = resolve_reference("model", model, ".", lambda: pytest.fail("not the corpora"), lambda: "")
    assert ref.fixed and Path(ref.source) == EMBEDDED_MODEL_DIR / REFERENCE_FILE
    found = read_profiles(EMBEDDED_MODEL_DIR / PROFILES_FILE)
    assert found is not None and found[0] == (model.digest, ref.sha256)
    shipped = ReferenceProfiles(model, ref)
    fresh = ReferenceProfiles(model, ref)
    fresh._shipped_profiles = {}  # force the computation
    for site in (None, POST_SITE):
        a, b = shipped.profile(1, site), fresh.profile(1, site)
        for name in ("scale", "rate", "magnitude", "mean"):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-5, atol=1e-7, err_msg=name)


def test_scale_is_the_linear_quantile_of_absolute_activations(tiny_model, tmp_path):
    from polytests.engine.activations import CollectionRequest, collect
    from polytests.neurons import NeuronRef

    (tmp_path / "r.jsonl").write_text("".join(json.dumps({"text": " ".join(w * 3)}) + "\n" for w in WORDS.values()))
    ref = read_reference(tmp_path / "r.jsonl")
    prof = ReferenceProfiles(tiny_model, ref, tmp_path / "cache")
    col = collect(tiny_model, prof.tokens, CollectionRequest(layers=(1,), neurons=(NeuronRef(1, 5),)))
    acts = np.asarray(col.token_acts[NeuronRef(1, 5)], dtype=np.float64)
    assert prof.scale(NeuronRef(1, 5)) == pytest.approx(np.quantile(np.abs(acts), 0.999), rel=1e-9)
    assert prof.profile(1).rate[5] == pytest.approx(np.mean(acts > 0))
    # Cached on disk: a new object reads the same numbers without the model running.
    again = ReferenceProfiles(tiny_model, ref, tmp_path / "cache")
    again._compute = lambda *a: pytest.fail("recomputed although cached")  # type: ignore[method-assign]
    assert again.scale(NeuronRef(1, 5)) == prof.scale(NeuronRef(1, 5))


# -- the corpus-swap test (issue #23's first "done when") ----------------------------------------
CLAIMS = """
[[claim]]
id = "fires"
statement = "L1N3 fires more on alpha than on beta"
neuron = "L1N3"
[[claim.predicate]]
kind = "fires_on"
corpus = "alpha"
baseline = ["beta"]

[[claim]]
id = "silent"
statement = "L1N7 is silent on gamma against beta"
neuron = "L1N7"
[[claim.predicate]]
kind = "silent_on"
corpus = "gamma"
baseline = ["beta"]

[[claim]]
id = "ablation"
statement = "zero- and resample-ablating L1N3 hurts alpha"
neuron = "L1N3"
[[claim.predicate]]
kind = "ablation_hurts"
corpora = ["alpha"]
kinds = ["zero", "resample"]
n_null = 19
"""


def _judge(tmp_path, corpora: Path, model_dir: Path, reference: str) -> dict:
    from polytests.claims.parse import parse_claim_file
    from polytests.settings import Settings
    from polytests.verdicts.runner import ClaimRunner

    claims_file = tmp_path / "claims.toml"
    claims_file.write_text(CLAIMS)
    claims = parse_claim_file(claims_file)
    runner = ClaimRunner(Settings(model=str(model_dir), corpora=str(corpora), reference=reference, resamples=999,
                                  cache_dir=str(tmp_path / f"cache-{corpora.name}-{reference.replace('/', '_')}")))
    for c in claims:
        runner.check_claim(c)
    out = {}
    for cid, r in runner.evaluate_family(claims).items():
        preds = [{"bound": p.bound, "estimate": p.estimate, "ci": p.ci, "p": p.pvalue, "p_refute": p.pvalue_refute,
                  "numbers": p.numbers, "summary": p.summary} for p in r.predicates]
        out[cid] = {"verdict": r.verdict, "p": r.pvalue, "p_refute": r.pvalue_refute, "predicates": preds,
                    "scale": r.provenance.get("scale")}
    return out


@pytest.fixture
def swap_project(tmp_path, tiny_corpora, tiny_model_dir):
    """The tiny corpora, and two copies where delta (named by no claim) is removed or replaced."""
    full = shutil.copytree(tiny_corpora, tmp_path / "full")
    removed = shutil.copytree(tiny_corpora, tmp_path / "removed")
    shutil.rmtree(removed / "delta")
    replaced = shutil.copytree(tiny_corpora, tmp_path / "replaced")
    rng = random.Random(5)
    for f in (replaced / "delta" / "docs").glob("*.txt"):  # other text, and twice the documents
        f.write_text(" ".join(rng.choice(WORDS["gamma"] + WORDS["alpha"]) for _ in range(40)) + ".\n")
        (f.parent / f"more_{f.name}").write_text(" ".join(rng.choice(WORDS["beta"]) for _ in range(60)) + ".\n")
    reference = tmp_path / "reference.jsonl"
    words = [w for ws in WORDS.values() for w in ws]
    reference.write_text("".join(json.dumps({"text": " ".join(rng.choice(words) for _ in range(rng.randint(30, 90)))})
                                 + "\n" for _ in range(40)))
    return tmp_path, (full, removed, replaced), tiny_model_dir, str(reference)


@pytest.mark.slow
def test_swapping_a_corpus_no_claim_names_changes_nothing(swap_project):
    tmp_path, (full, removed, replaced), model_dir, reference = swap_project
    base = _judge(tmp_path, full, model_dir, reference)
    assert base["fires"]["predicates"][0]["bound"] > 0
    assert base["ablation"]["predicates"][0]["numbers"]["per_kind"]  # the ablation ran, with its null neurons
    for variant in (removed, replaced):
        assert _judge(tmp_path, variant, model_dir, reference) == base, variant.name


@pytest.mark.slow
def test_without_a_reference_the_swap_moves_the_bound(swap_project):
    """The same swap under reference = "corpora" (the behaviour before #23) moves the bound: the
    test above can fail, and on the code before the reference it did."""
    tmp_path, (full, removed, replaced), model_dir, _ = swap_project
    base = _judge(tmp_path, full, model_dir, "corpora")
    other = _judge(tmp_path, replaced, model_dir, "corpora")
    assert other["fires"]["predicates"][0]["bound"] != base["fires"]["predicates"][0]["bound"]
