"""The published JSON Schema agrees with the claim model: it accepts every claim in
hypotheses/ and rejects the malformed claim files that JSON Schema can express."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from polytests.claims.model import json_schema
from polytests.cli import main

ROOT = Path(__file__).resolve().parent.parent
BAD = Path(__file__).parent / "bad_claims"

# Rules JSON Schema cannot state (cross-field, regex syntax, non-finite floats, facts about
# the model or the corpora): the pydantic model and the runner catch these; editors do not.
BEYOND_JSON_SCHEMA = {
    "baseline_has_claimed", "polysemantic_baseline_overlap", "exclude_shared_lists_self", "token_matched_self",
    "regex_bad", "duplicate_id_in_file", "margin_inf", "min_effect_inf", "threshold_inf", "alpha_nan",
    "corpus_unknown", "layer_out_of_range", "index_out_of_range", "model_missing_path", "site_unknown_hook",
    "bom_accepted",
}


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_accepts_every_claim_in_hypotheses(validator):
    files = sorted((ROOT / "hypotheses").glob("*.toml"))
    assert files
    for path in files:
        errors = list(validator.iter_errors(tomllib.loads(path.read_text())))
        assert not errors, f"{path.name}: {errors[0].message}"


def _loadable_bad_files():
    for path in sorted(BAD.glob("*.toml")):
        try:
            yield path, tomllib.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
            continue  # not TOML at all: an editor reports these before any schema


def test_schema_rejects_the_bad_claim_files(validator):
    accepted = {p.stem for p, data in _loadable_bad_files() if validator.is_valid(data)}
    assert accepted <= BEYOND_JSON_SCHEMA, sorted(accepted - BEYOND_JSON_SCHEMA)
    assert len([1 for _ in _loadable_bad_files()]) - len(accepted) >= 60


def test_schema_command_prints_and_writes_it(capsys, tmp_path):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "polytests claim file" and "claim" in printed["properties"]
    assert set(printed["$defs"]["FiresOn"]["required"]) == {"kind", "corpus"}
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == printed
