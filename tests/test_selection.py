"""A selection computes what it selects, refinements included (issue #25)."""

from __future__ import annotations


def test_refining_a_selected_claim_collects_only_the_selection_s_layers(tmp_path, tiny_model_dir, tiny_corpora,
                                                                       monkeypatch):
    # A decision within Monte Carlo error of alpha is resampled again. That used to rebuild the
    # activation store for the whole family of the group (every claim's neuron), collecting layers
    # the selection never names: 4 minutes of the 6 a new claim took in a fresh clone.
    import polytests.verdicts.runner as runner_module
    from polytests.claims.api import claim
    from polytests.settings import Settings

    requests = []
    real_open_store = runner_module.open_store

    def spy(settings, model, split, request, **kw):
        requests.append(request)
        return real_open_store(settings, model, split, request, **kw)

    monkeypatch.setattr(runner_module, "open_store", spy)
    # every decision unresolved: each selected claim is refined REFINE_ROUNDS times
    monkeypatch.setattr(runner_module.FamilyDecision, "resolved", lambda self, alpha: False)
    runner = runner_module.ClaimRunner(Settings(model=str(tiny_model_dir), corpora=str(tiny_corpora), resamples=99,
                                                cache_dir=str(tmp_path / "cache")))
    selected = claim(id="sel", statement="s", neuron="L0N1", predicates=[{"kind": "fires_on", "corpus": "alpha"}])
    other = claim(id="other", statement="s", neuron="L1N2", predicates=[{"kind": "fires_on", "corpus": "alpha"}])
    results = runner.evaluate_family([selected, other], compute={"sel"})
    assert set(results) == {"sel"} and results["sel"].provenance["resamples"] == 9999  # (99 + 1) * 10 - 1, twice
    assert requests and all(r.layers == (0,) for r in requests), [r.layers for r in requests]
    cached = {p.name.rsplit("-", 1)[0] for p in (tmp_path / "cache" / "results").glob("*.pkl")}
    assert cached == {"sel"}
