"""Property tests: for any input, the parser, the schema and the settings either accept it or
raise the project's own error (ClaimError / SettingsError) — never anything else — and
whatever they accept carries the declared types."""

from __future__ import annotations

import math
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytests.claims.model import PREDICATES, Claim
from polytests.claims.parse import claim_from_dict, read_claim_file
from polytests.errors import ClaimError
from polytests.settings import Settings, SettingsError, settings_from

KEYS = ["id", "statement", "neuron", "predicate", "model", "split", "alpha", "expect", "site", "corpra", "kind",
        "corpus", "corpora", "baseline", "margin", "k", "min_precision", "exclude_shared_tokens", "exclude_tokens",
        "versus", "against", "min_occurrences", "min_count", "max_per_document", "tokens", "regex",
        "min_correlation", "threshold", "kinds", "n_null"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), st.text(max_size=12),
                    st.sampled_from(["alpha", "L1N3", "fires_on", "zero", "confirm", "blocks.{layer}.mlp.hook_post",
                                     *PREDICATES]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
                      max_leaves=12)
predicate = st.fixed_dictionaries({"kind": st.sampled_from([*PREDICATES, "nope", 3])},
                                  optional={k: values for k in KEYS[9:] if k != "kind"})
raw_claim = st.fixed_dictionaries(
    {}, optional={"id": st.one_of(st.just("c1"), values), "statement": st.one_of(st.just("s"), values),
                  "neuron": st.one_of(st.just("L1N3"), values), "predicate": st.one_of(st.lists(predicate, max_size=3),
                                                                                      values),
                  "alpha": values, "split": values, "expect": values, "site": values, "model": values})


def _check_types(claim: Claim) -> None:
    assert isinstance(claim.id, str) and isinstance(claim.statement, str) and claim.statement.strip()
    assert claim.alpha is None or (isinstance(claim.alpha, float) and 0 < claim.alpha < 1)
    for p in claim.predicates:
        for name, info in type(p).model_fields.items():
            value = getattr(p, name)
            if isinstance(value, tuple):
                assert all(isinstance(v, str) for v in value), (name, value)
            if isinstance(value, float):
                assert math.isfinite(value), (name, value)
            if name in ("k", "min_occurrences", "min_count", "max_per_document", "n_null"):
                assert type(value) is int and value >= 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_claim)
def test_any_claim_table_is_accepted_well_typed_or_a_claim_error(raw):
    try:
        claim = claim_from_dict(raw, source="fuzz.toml", lines={"": 1})
    except ClaimError as exc:
        assert exc.path == "fuzz.toml" and exc.fix and exc.line is not None
        return
    _check_types(claim)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_in_a_claim_file_give_claims_or_problems(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "claims.toml"
    path.write_bytes(data)
    contents = read_claim_file(path)  # never raises
    for problem in contents.problems:
        assert isinstance(problem.error, ClaimError) and problem.error.fix and str(path) in str(problem.error)
    for claim in contents.claims:
        _check_types(claim)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS[:9]), values, max_size=6).map(lambda d: {"claim": [d]}))
def test_toml_round_trip_of_random_claims(tmp_path_factory, data):
    import json

    # TOML cannot hold None; JSON-ish values serialised through a tiny writer are enough here
    def lit(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return "nan" if v != v else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(lit(x) for x in v if x is not None) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {lit(x)}" for k, x in v.items() if x is not None) + "}"
        return '""'
    text = "[[claim]]\n" + "".join(f"{k} = {lit(v)}\n" for k, v in data["claim"][0].items() if v is not None)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    path = tmp_path_factory.mktemp("fuzz") / "claims.toml"
    path.write_text(text)
    contents = read_claim_file(path)
    assert len(contents.claims) + len(contents.problems) >= 1
    for problem in contents.problems:
        assert problem.error.line is not None, str(problem.error)


option_text = st.one_of(st.text(max_size=10), st.sampled_from(["0", "-1", "99", "1e4", "nan", "inf", "0.05",
                                                               "holm", "cuda", "cpu", "true"]))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["alpha", "correction", "resamples", "seed", "model", "cache_dir"]),
                       option_text, max_size=4))
def test_any_option_values_give_settings_or_one_line(options):
    try:
        got = settings_from(Settings(), options)
    except SettingsError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("--polytests-")
        return
    assert 0 < got.alpha < 1 and got.resamples >= 99 and got.seed >= 0 and got.correction in (
        "holm", "bh", "bonferroni", "none")
