"""The hunt's k-of-N logic on a synthetic store whose answer is known, and its claim files."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats

from polytests.claims.evaluate import neuron_scale
from polytests.claims.parse import parse_claim_file
from polytests.commands.hunt import hunt, scale_top_k, scan_responses, write_candidates
from polytests.commands.hunt.scan import _group_seed, scales_of_layer
from polytests.stats.relative import shift_pvalues_above
from polytests.engine.activations import Collection
from polytests.engine.aggregates import doc_stats_direct
from polytests.engine.store import ActivationStore
from polytests.engine.tokenization import TokenizedDocuments
from polytests.neurons import NeuronRef
from polytests.stats.bounds import bound_test

PERIOD = 0
OWN = {"alpha": range(10, 30), "beta": range(30, 50), "gamma": range(50, 70), "delta": range(70, 90)}
SHARED_BD = range(90, 95)  # token types that beta and delta share
VOCAB = ["."] + [f"t{i}" for i in range(1, 100)]


def _docs(rng, n_docs=12):
    docs = {}
    for corpus, own in OWN.items():
        docs[corpus] = []
        for _ in range(n_docs):
            toks = []
            for _ in range(rng.integers(6, 10)):  # sentences of 4 words and a period
                pool = list(own) + (list(SHARED_BD) * 2 if corpus in ("beta", "delta") else [])
                toks += [int(t) for t in rng.choice(pool, 4)] + [PERIOD]
            docs[corpus].append(toks)
    return docs


def _planted(corpus, tok):
    """[neurons] activations of one token: N0 feature on alpha and beta; N1 feature on alpha and the
    period of gamma only; N2 fires on the tokens beta and delta share; N3.. noise only."""
    return np.array([
        1.0 if corpus in ("alpha", "beta") else 0.0,
        1.0 if corpus == "alpha" or (corpus == "gamma" and tok == PERIOD) else 0.0,
        1.0 if tok in SHARED_BD else 0.0,
    ])


def make_store(n_noise=3, seed=0, plant=True, noise_sd=0.05):
    """A store with every neuron's per-token activations and the top-k tier (as the engine keeps it)."""
    rng = np.random.default_rng(seed)
    docs = _docs(rng)
    ids, offsets, doc_ids, corpus_of, rows = [], [0], [], [], []
    for corpus, documents in docs.items():
        for i, toks in enumerate(documents):
            ids += toks
            offsets.append(offsets[-1] + len(toks))
            doc_ids.append(f"{corpus}/{i}")
            corpus_of.append(corpus)
            for t in toks:
                rows.append(_planted(corpus, t) if plant else np.zeros(3))
    acts = np.asarray(rows)
    acts = np.concatenate([acts, np.zeros((len(acts), n_noise))], 1) + noise_sd * rng.normal(size=(len(acts), 3 + n_noise))
    acts = acts.astype(np.float32)
    tokens = TokenizedDocuments(tuple(doc_ids), tuple(corpus_of), np.asarray(ids, np.int32), np.asarray(offsets))
    stats = doc_stats_direct(acts, tokens.doc_index_per_token(), tokens.n_docs, (0.0,))
    k = scale_top_k(tokens.n_tokens)
    top = -np.sort(-acts, axis=0)[:k]
    col = Collection(site="blocks.{layer}.mlp.hook_post", stats={0: stats}, masked_stats={},
                     topk_values={0: top}, topk_index={0: np.zeros_like(top, dtype=np.int64)},
                     token_acts={NeuronRef(0, n): acts[:, n].copy() for n in range(acts.shape[1])})
    return ActivationStore("synthetic", "0" * 64, "explore", tokens, col)


def without_token_acts(store):
    col = store.collection
    return ActivationStore(store.model_name, store.model_digest, store.split, store.tokens,
                           Collection(col.site, col.stats, {}, col.topk_values, col.topk_index, {}))


@pytest.fixture(scope="module")
def store():
    return make_store()


@pytest.fixture(scope="module")
def result_k2(store):
    return hunt(store, [0], VOCAB, k=2, n_resamples=199, seed=1, min_occurrences=30)


def by_neuron(result):
    return {str(c.neuron): c for c in result.candidates}


def test_a_neuron_planted_on_two_corpora_is_found_with_k2_not_k1(store, result_k2):
    r = result_k2.responses
    assert set(r.responding(0)) == {"alpha", "beta"}
    assert [str(r.neurons[i]) for i in r.with_k(2)][:3] and "L0N0" in [str(r.neurons[i]) for i in r.with_k(2)]
    assert "L0N0" not in [str(r.neurons[i]) for i in r.with_k(1)]
    found = by_neuron(result_k2)["L0N0"]
    assert found.verdict == "finding" and found.shared.holds and found.one_token.holds
    assert found.token_matched.holds  # the period in alpha against the period in gamma/delta
    # the noise neurons respond to nothing
    assert all(r.n_responding[i] == 0 for i in range(3, len(r.neurons)))


def test_a_period_carried_neuron_is_a_one_token_artifact(result_k2):
    c = by_neuron(result_k2)["L0N1"]
    assert set(c.corpora) == {"alpha", "gamma"} and c.response.holds
    assert c.verdict == "one-token artifact" and c.artifact_token == "." and c.is_artifact
    assert "gamma" in c.reason and "'.'" in c.reason


def test_a_shared_token_neuron_is_a_shared_token_artifact(result_k2):
    c = by_neuron(result_k2)["L0N2"]
    assert set(c.corpora) == {"beta", "delta"} and c.response.holds
    assert c.one_token.holds  # five shared token types: removing one is not enough
    assert c.verdict == "shared-token artifact" and not c.shared.holds


def test_min_effect_is_a_bound_not_a_significance_level(store):
    # A tiny but clear difference: N1's period response on gamma is ~0.2 x scale.
    big = scan_responses(store, [0], min_effect=0.5, n_resamples=199, seed=1)
    assert big.responding(1) == ("alpha",)
    small = scan_responses(store, [0], min_effect=0.1, n_resamples=199, seed=1)
    assert set(small.responding(1)) == {"alpha", "gamma"}


def test_top_k_scale_equals_the_exact_scale(store):
    exact, how = scales_of_layer(store, 0, 6)
    estimate, how_estimate = scales_of_layer(without_token_acts(store), 0, 6)
    assert (how, how_estimate) == ("exact", "top-k")
    # exact where the largest |activations| are positive (the planted neurons) ...
    np.testing.assert_allclose(estimate[:3], exact[:3], rtol=1e-6)
    # ... and never above the exact scale (symmetric noise: the negative tail counts too)
    assert np.all(estimate <= exact + 1e-12) and np.any(estimate[3:] < exact[3:])
    assert exact[0] == pytest.approx(neuron_scale(store, NeuronRef(0, 0)))


@pytest.mark.parametrize("permutation", [False, True])
def test_the_scan_p_value_is_the_bound_test_times_the_sets_it_was_chosen_from(store, permutation):
    r = scan_responses(store, [0], min_effect=0.9, n_resamples=199, seed=3, permutation=permutation)
    for i in (0, 1, 2):  # top-1 corpus against the pooled three others
        top = r.corpora[r.order[i, 0]]
        means = store.doc_means(NeuronRef(0, i))
        x = means[store.docs_of(top)]
        y = np.concatenate([means[store.docs_of(c)] for c in r.corpora if c != top])
        b = 0.9 * r.scale[i]
        approx = _brunner_munzel_t(x - b, y)
        full = bound_test(x, y, b, n_resamples=199, seed=_group_seed(3, int(r.order[i, 0]),
                                                                     tuple(sorted(r.order[i, 1:].tolist()))) % 2**63)
        expected = min(1.0, 4 * (approx if not permutation or 4 * approx > 0.05 else max(approx, full.pvalue_above)))
        assert r.pvalues[i, 0] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def _brunner_munzel_t(x, y):
    """scipy's Brunner-Munzel t test (one-sided: x above y), floored as the package floors it."""
    from polytests.stats.relative import separation_floor

    import warnings

    with warnings.catch_warnings():  # separated samples: scipy's variance is 0 (p 0 or nan); ours is floored
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.brunnermunzel(x, y, alternative="greater", distribution="t")
    if not np.isfinite(res.pvalue):  # complete separation, one way or the other
        return separation_floor(len(x), len(y)) if x.min() > y.max() else 1.0
    return max(float(res.pvalue), separation_floor(len(x), len(y)))


def test_the_scan_tests_the_claims_estimand_column_by_column():
    # Against scipy's Brunner-Munzel on each column, for shapes where the variance floors do not bite.
    rng = np.random.default_rng(5)
    x = rng.lognormal(0, 1, (14, 6)) * (rng.random((14, 6)) < 0.6)
    y = rng.lognormal(-0.5, 1.5, (40, 6)) * (rng.random((40, 6)) < 0.4)
    bound = np.linspace(0, 0.5, 6)
    got = shift_pvalues_above(x, y, bound)
    want = [_brunner_munzel_t(x[:, k] - bound[k], y[:, k]) for k in range(6)]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    # ... and never above the claims' test, which takes the larger of it and the permutation p
    from polytests.stats.relative import relative_effect_test

    for k in range(6):
        assert got[k] <= relative_effect_test(x[:, k], y[:, k], bound[k], n_resamples=99).pvalue_above + 1e-12
    assert np.all(shift_pvalues_above(x[:9], y, bound) == 1.0)  # under 10 documents: not judged, as in the claims


def test_bh_over_the_scan_controls_false_positives_on_noise():
    noise = make_store(n_noise=150, seed=7, plant=False)
    r = scan_responses(noise, [0], min_effect=0.0, q=0.05, n_resamples=199, seed=2)
    assert r.counts().get(0, 0) == len(r.neurons)  # nothing responds
    # each test's p-value holds its level although the top corpus was picked by looking
    assert np.mean(r.pvalues[:, 0] <= 0.05) <= 0.08


def test_candidate_files_parse_and_artifacts_expect_refuted(result_k2, tmp_path):
    paths = write_candidates(tmp_path, list(result_k2.candidates), min_effect=0.1, explicit_baseline=False)
    assert len(paths) == len(result_k2.candidates) >= 3
    claims = {str(c.neuron): c for p in paths for c in parse_claim_file(p)}
    finding, period, shared = claims["L0N0"], claims["L0N1"], claims["L0N2"]
    assert finding.expect == "confirmed" and period.expect == "refuted" and shared.expect == "refuted"
    kinds = [p.kind for p in finding.predicates]
    assert kinds[0] == "polysemantic" and finding.predicates[0].exclude_shared_tokens
    assert kinds.count("not_explained_by_one_token") == 2 and "token_matched" in kinds
    assert finding.split == "confirm" and finding.predicates[0].min_effect == 0.1
    text = (tmp_path / f"{period.id}.toml").read_text()
    assert "one-token artifact" in text and text.startswith("# Found by `polytests hunt` on the explore split")


def test_explicit_baseline_names_the_other_chosen_corpora(result_k2, tmp_path):
    (path,) = write_candidates(tmp_path, [by_neuron(result_k2)["L0N0"]], min_effect=0.1, explicit_baseline=True)
    (claim,) = parse_claim_file(path)
    assert set(claim.predicates[0].baseline) == {"gamma", "delta"}


def test_k_out_of_range_and_unknown_corpus_are_errors(store):
    with pytest.raises(ValueError, match="at most 3"):
        hunt(store, [0], VOCAB, k=4, n_resamples=99)
    with pytest.raises(ValueError, match="'fortran' is not in the store"):
        scan_responses(store, [0], corpora=["fortran", "alpha"])
    with pytest.raises(ValueError, match="top_k"):
        scan_responses(ActivationStore("s", "0", "explore", store.tokens, Collection(
            store.collection.site, store.collection.stats, {}, {}, {}, {})), [0])


def test_a_reference_scale_is_what_the_scan_bounds_by(store):
    """With reference profiles (as claims use), the scan's scale is the reference's, not the split's:
    a reference on which every neuron fires twice as hard halves every effect in scale units."""
    from types import SimpleNamespace

    exact, _ = scales_of_layer(store, 0, 6)

    class Profiles:
        def profile(self, layer, site):
            assert layer == 0 and site == store.site
            return SimpleNamespace(scale=2 * exact)

    # min_effect 0.1 of a doubled scale is the same bound as 0.2 of the split's scale.
    split = scan_responses(store, [0], min_effect=0.2, n_resamples=199, seed=1)
    ref = scan_responses(store, [0], min_effect=0.1, n_resamples=199, seed=1, profiles=Profiles())
    assert ref.scale_method == "reference"
    np.testing.assert_allclose(ref.scale, 2 * exact)
    assert [ref.responding(i) for i in range(6)] == [split.responding(i) for i in range(6)]
    np.testing.assert_allclose(ref.pvalues, split.pvalues)
    np.testing.assert_allclose(ref.effect, split.effect / 2, rtol=1e-9)


def test_an_artifact_label_needs_its_control_decided():
    """#26: L3N183 was labelled a shared-token artifact with its control undecided (+0.094, p = .79)."""
    from polytests.commands.hunt.controls import Control, label

    holds = Control("response", "holds", 0.001, 0.99, 0.5, "")
    unclear = Control("shared", "unclear", 0.79, 0.2, 0.094, "")
    below = Control("shared", "below", 0.99, 0.001, -0.01, "")
    one_ok = Control("one_token", "holds", 0.001, 0.99, 0.4, "")
    matched = Control("token_matched", "holds", 0.001, 0.99, 0.4, "")
    parts = {"medical": one_ok, "fortran": one_ok}
    tokens = {"medical": (".", 0.5), "fortran": (" x", 0.1)}
    verdict, reason, *_ = label(holds, unclear, one_ok, matched, parts, tokens, 1.0)
    assert verdict == "undecided" and "+0.094 x scale" in reason and "p above 0.79" in reason
    assert label(holds, below, one_ok, matched, parts, tokens, 1.0)[0] == "shared-token artifact"
    one_unclear = Control("one_token", "unclear", 0.3, 0.4, 0.1, "")
    assert label(holds, below, one_unclear, matched, {"medical": one_unclear}, tokens, 1.0)[0] == \
        "shared-token artifact"
    assert label(holds, Control("shared", "holds", 0.001, 0.9, 0.3, ""), one_unclear, matched,
                 {"medical": one_unclear}, tokens, 1.0)[0] == "undecided"
    one_below = Control("one_token", "below", 0.99, 0.002, -0.1, "")
    verdict, reason, token, share = label(holds, unclear, one_below, matched, {"medical": one_below}, tokens, 1.0)
    assert verdict == "one-token artifact" and token == "." and share == 0.5
    na = Control("shared", "n/a", None, None, None, "one corpus: nothing shared")
    assert label(holds, na, one_ok, matched, parts, tokens, 1.0)[0] == "finding"


# ---- #26: the hunt's outputs for notebooks and the page: CSV, near-silent, k+1, heatmap rows, scales ----


def _fake_responses(n: int, corpora=("a", "b", "c", "d"), seed: int = 0):
    """Responses of ``n`` neurons of one layer that each respond to 1 or 2 corpora (a picture test)."""
    from polytests.commands.hunt import Responses

    rng = np.random.default_rng(seed)
    means = rng.random((n, len(corpora)))
    order = np.argsort(-means, axis=1, kind="stable")
    n_resp = rng.integers(1, 3, n)
    q = rng.random((n, len(corpora) - 1)) * 0.01
    return Responses(tuple(NeuronRef(1, i) for i in range(n)), tuple(corpora), means, rng.random(n) + 0.5, "exact",
                     order, q, q, n_resp, rng.random(n), 0.1, 0.05, 99, {c: 12 for c in corpora})


def test_the_csv_holds_every_neuron_and_corpus_with_the_scans_numbers(result_k2, tmp_path):
    import csv

    from polytests.commands.hunt.run import write_outputs

    write_outputs(result_k2, out=tmp_path, html=None, views=[])
    with (tmp_path / "neurons.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    r = result_k2.responses
    assert len(rows) == len(r.neurons) * len(r.corpora)
    scales = r.scale
    for row in rows:
        i, c = int(row["index"]), r.corpora.index(row["corpus"])
        assert row["neuron"] == str(r.neurons[i]) == f"L{row['layer']}N{row['index']}"
        assert float(row["mean"]) == r.corpus_means[i, c]
        assert float(row["scale"]) == scales[i]
        assert float(row["mean_over_scale"]) == pytest.approx(r.corpus_means[i, c] / scales[i], rel=1e-12)
        assert int(row["n_docs"]) == 12  # make_store: twelve documents per corpus
        assert int(row["n_responding"]) == len(r.responding(i))
        assert row["responds"] == ("1" if row["corpus"] in r.responding(i) else "0")
        ranked = sorted(r.corpora, key=lambda k: -r.corpus_means[i, r.corpora.index(k)])
        assert int(row["rank"]) == ranked.index(row["corpus"]) + 1
        m = int(row["q_m"])
        assert m == (len(r.responding(i)) or int(np.argmin(r.qvalues[i])) + 1)
        assert float(row["q"]) == r.qvalues[i, m - 1]
        median = np.median(scales)  # one layer
        assert row["near_silent"] == ("1" if scales[i] < 0.1 * median else "0")
    assert {row["neuron"] for row in rows if row["responds"] == "1"} == {"L0N0", "L0N1", "L0N2"}


def test_near_silent_is_below_a_fraction_of_the_layers_median_scale(result_k2):
    import dataclasses

    from rich.console import Console

    from polytests.commands.hunt.run import near_silent

    r = result_k2.responses
    quiet = r.scale.copy()
    quiet[2] = 0.0034  # the L2N245: tiny, yet its gaps x scale look as large as anyone's
    r = dataclasses.replace(r, scale=quiet)
    for fraction in (0.01, 0.1, 0.5):
        want = quiet < fraction * np.median(quiet)
        np.testing.assert_array_equal(near_silent(r, fraction), want)
    assert near_silent(r).tolist() == [False, False, True, False, False, False]
    # in two layers each neuron is measured against its own layer's median
    two = dataclasses.replace(r, neurons=tuple(NeuronRef(n % 2, n) for n in range(6)))
    want = np.zeros(6, bool)
    for layer in (0, 1):
        idx = np.arange(layer, 6, 2)
        want[idx] = quiet[idx] < 0.1 * np.median(quiet[idx])
    np.testing.assert_array_equal(near_silent(two), want)
    flagged = dataclasses.replace(result_k2, responses=r, near_silent=near_silent(r))
    console = Console(width=200, record=True)
    console.print(flagged)
    text = console.export_text()
    assert "L0N2 (near-silent)" in text and "L0N0 (near-silent)" not in text and "1 neurons are near-silent" in text


def test_the_heatmap_labels_every_row_in_legible_figures_and_links_every_row(monkeypatch):
    from polytests.commands.hunt import pictures
    from polytests.commands.hunt.run import HuntResult

    r = _fake_responses(130)
    labels = []

    def record(fig):
        labels.append([t.get_text() for t in fig.axes[0].get_yticklabels()])
        return b"png"

    monkeypatch.setattr(pictures, "png_bytes", record)
    silent = np.zeros(130, bool)
    silent[7] = True
    heat = pictures.heatmap_of(r, [3, 5], silent)
    assert heat.pngs() == [b"png"] * 3 and [len(x) for x in labels] == [60, 60, 10]
    drawn = [name for figure in labels for name in figure]
    assert sorted(drawn) == sorted(str(n) + (" (near-silent)" if i == 7 else "") for i, n in enumerate(r.neurons))
    # the HTML: every row a link to an element of the page
    result = HuntResult(r, 2, (), int(np.sum(r.n_responding == 2)), "explore", 0.05, near_silent=silent)
    page = pictures.hunt_page(result, heat, [], {}, heat_pngs=[])
    rows = re.findall(r"<tr id='heat-([^']+)'[^>]*><th><a href='#([^']+)'>([^<]+)</a>", page)
    assert sorted(n for n, _, _ in rows) == sorted(str(n) for n in r.neurons)
    assert all(a == b == c for a, b, c in rows)
    ids = set(re.findall(r"id='([^']+)'", page))
    assert all(target in ids for target in re.findall(r"href='#([^']+)'", page))
    assert "L1N7</a> <span class='silent'>near-silent</span>" in page


def test_no_candidates_says_so_instead_of_an_empty_table(store):
    from rich.console import Console

    from polytests.commands.hunt.pictures import heatmap_of, hunt_page

    result = hunt(store, [0], VOCAB, k=3, n_resamples=99, seed=1)
    assert result.candidates == ()
    page = hunt_page(result, heatmap_of(result.responses, []), [], {}, heat_pngs=[])
    assert "no candidates: no neuron responds to exactly 3 of the 4 corpora" in page
    assert "<th>without shared tokens</th>" not in page
    for table in re.findall(r"<table.*?</table>", page):
        assert "<td" in table
    console = Console(width=200, record=True)
    console.print(result)
    assert "no candidates" in console.export_text() and "without shared" not in console.export_text()


def test_neurons_responding_to_more_than_k_corpora_are_listed(store):
    from rich.console import Console

    from polytests.commands.hunt.pictures import heatmap_of, hunt_page

    result = hunt(store, [0], VOCAB, k=1, n_resamples=99, seed=1, min_occurrences=30)
    r = result.responses
    want = [str(r.neurons[i]) for i in np.flatnonzero(r.n_responding > 1)]
    assert sorted(want) == ["L0N0", "L0N1", "L0N2"]
    assert sorted(str(r.neurons[i]) for i in result.more_than_k()) == want
    console = Console(width=200, record=True)
    console.print(result)
    text = console.export_text().split("neurons responding to more than 1 corpora")[1]
    for name in want:
        i = [str(n) for n in r.neurons].index(name)
        assert re.search(rf"{name} +│ +2 │ {', '.join(r.responding(i))}", text), text
    page = hunt_page(result, heatmap_of(r, []), [], {}, heat_pngs=[])
    more = page.split("neurons responding to more than 1 corpora (3)")[1].split("</table>")[0]
    assert sorted(re.findall(r"<a href='#([^']+)'>", more)) == want


def test_each_control_shows_its_weaker_corpus_whatever_the_p_values():
    """#26: the "no shared" column showed the part with the largest p, the weaker corpus at one bound
    and the stronger at another; now always the smallest estimate."""
    from polytests.claims.results import PredicateResult
    from polytests.commands.hunt.controls import Control, _control, _worst

    def part(estimate):
        return {"test": {"estimate": estimate}}

    # the stronger corpus (beta) has the larger p (fewer documents): the evaluator reports beta
    result = PredicateResult("polysemantic", "", 0.3, "", {"per_corpus": {"alpha": part(0.02), "beta": part(0.05)}},
                             pvalue_refute=0.4, estimate=0.05)
    ctl = _control("shared", result, 0.05)
    assert (ctl.corpus, ctl.estimate, ctl.p_above) == ("alpha", 0.02, 0.3)
    parts = [Control("one_token", "holds", 0.01, 0.9, 0.04, "", "alpha"),
             Control("one_token", "unclear", 0.2, 0.3, 0.09, "", "beta")]
    worst = _worst("one_token", parts)
    assert (worst.corpus, worst.estimate, worst.p_above, worst.status) == ("alpha", 0.04, 0.2, "unclear")


def test_the_shown_corpus_is_the_same_at_every_bound(store, result_k2):
    from polytests.commands.hunt.controls import ScaledContext, check_candidate

    for neuron in (0, 2):
        seen = set()
        c = by_neuron(result_k2)[f"L0N{neuron}"]
        for min_effect in (0.05, 0.3, 0.6):
            ctx = ScaledContext(store, VOCAB, n_resamples=99, seed=1, min_effect=min_effect)
            again = check_candidate(ctx, c.neuron, c.corpora, c.baseline, min_effect=min_effect,
                                    min_occurrences=30)
            seen.add((again.response.corpus, again.shared.corpus, again.one_token.corpus))
        assert len(seen) == 1, seen


def test_given_scales_bound_the_scan_and_the_controls(store):
    """The scale from every corpus of the split (LayerScales) is what the scan and every control use."""
    from polytests.commands.hunt.scan import LayerScales, layer_scales

    exact, _ = scales_of_layer(store, 0, 6)
    given = LayerScales({0: 2 * exact}, "exact", "every corpus of a bigger split")
    result = hunt(store, [0], VOCAB, k=2, n_resamples=99, seed=1, min_occurrences=30, scales=given)
    np.testing.assert_allclose(result.responses.scale, 2 * exact)
    assert result.candidates and result.scale_on == "every corpus of a bigger split"
    for c in result.candidates:
        assert c.scale == 2 * exact[c.neuron.index]  # the controls' bound: min_effect x this
    plain = hunt(store, [0], VOCAB, k=2, n_resamples=99, seed=1, min_occurrences=30)
    assert [c.scale for c in plain.candidates] == [pytest.approx(exact[c.neuron.index]) for c in plain.candidates]
    got = layer_scales(store, [0])
    np.testing.assert_array_equal(got.values[0], exact)
    assert got.method == "exact" and got.on == "every corpus of the explore split"
