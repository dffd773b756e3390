"""Claim files and the Python form: one model, validated, errors naming file, line, field and fix."""

from __future__ import annotations

import textwrap
import tomllib

import pytest

from polytests import claim, fires_on, not_explained_by_one_token, polysemantic
from polytests.claims.parse import parse_claim_file
from polytests.errors import ClaimError
from polytests.neurons import NeuronRef

GOOD = """
[[claim]]
id = "spanish-fortran"
statement = "L1N40 fires on Spanish poetry and on Fortran"
neuron = "L1N40"
alpha = 0.01

[[claim.predicate]]
kind = "polysemantic"
corpora = ["spanish_poetry", "fortran"]
exclude_shared_tokens = true

[[claim.predicate]]
kind = "not_explained_by_one_token"
corpus = "fortran"
"""


def write(tmp_path, text, name="claim.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_toml_and_python_forms_build_the_same_claim(tmp_path):
    (from_toml,) = parse_claim_file(write(tmp_path, GOOD))
    from_python = claim(
        id="spanish-fortran", statement="L1N40 fires on Spanish poetry and on Fortran", neuron="L1N40",
        alpha=0.01, predicates=[polysemantic("spanish_poetry", "fortran", exclude_shared_tokens=True),
                                not_explained_by_one_token("fortran")])
    assert from_toml.predicates == from_python.predicates
    assert (from_toml.id, from_toml.neuron, from_toml.alpha) == (from_python.id, from_python.neuron, 0.01)
    assert from_toml.neuron == NeuronRef(1, 40)
    assert from_toml.corpora() == ("spanish_poetry", "fortran")


@pytest.mark.parametrize("edit, field, line, words", [
    (('neuron = "L1N40"', 'neuron = "layer1"'), "neuron", 5, "not of the form 'L<layer>N<index>'"),
    (('kind = "polysemantic"', 'kind = "polysemous"'), "predicate[0].kind", 9, "unknown predicate kind"),
    (('alpha = 0.01', 'alpha = 2.0'), "alpha", 6, "not in (0, 1)"),
    (('corpus = "fortran"', 'korpus = "fortran"'), "predicate[1].korpus", 15, "unknown key 'korpus'"),
    (('corpora = ["spanish_poetry", "fortran"]', 'corpora = ["spanish_poetry"]'), "predicate[0].corpora", 10,
     "at least 2 corpora"),
    (('id = "spanish-fortran"', 'id = "has space"'), "id", 3, "not a simple identifier"),
])
def test_errors_name_file_line_field_and_fix(tmp_path, edit, field, line, words):
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ClaimError) as info:
        parse_claim_file(path)
    err = info.value
    assert err.path == str(path) and err.field == field and words in err.message and err.fix
    if line is not None:
        assert err.line == line
    assert str(path) in str(err) and "Fix:" in str(err)


def test_missing_fields_and_bad_toml(tmp_path):
    with pytest.raises(ClaimError, match="missing required key 'statement'"):
        parse_claim_file(write(tmp_path, GOOD.replace('statement = "L1N40 fires on Spanish poetry and on Fortran"', "")))
    with pytest.raises(ClaimError, match=r"not valid TOML") as info:
        parse_claim_file(write(tmp_path, GOOD + "\nthis is = = broken\n"))
    assert info.value.line == 17
    with pytest.raises(ClaimError, match=r"no \[\[claim\]\] table"):
        parse_claim_file(write(tmp_path, "title = 'x'\n"))
    with pytest.raises(ClaimError, match="duplicate claim id"):
        parse_claim_file(write(tmp_path, GOOD + GOOD))


def test_python_form_errors_point_at_the_calling_file():
    with pytest.raises(ClaimError) as info:
        claim(id="x", statement="s", neuron="L1N1", predicates=[{"kind": "fires_on"}])
    assert info.value.path == __file__ and "missing required key 'corpus'" in str(info.value)
    with pytest.raises(ClaimError, match="asserts no predicate"):
        claim(id="x", statement="s", neuron="L1N1", predicates=[])


def test_expect_refuted_and_ablation_kinds_are_checked(tmp_path):
    text = GOOD.replace('alpha = 0.01', 'expect = "false"')
    with pytest.raises(ClaimError, match="expect 'false'"):
        parse_claim_file(write(tmp_path, text))
    with pytest.raises(ClaimError, match="unknown ablation kind 'shuffle'"):
        claim(id="x", statement="s", neuron="L1N1",
              predicates=[{"kind": "ablation_hurts", "corpora": ["a"], "kinds": ["shuffle"]}])
    assert fires_on("a", exclude_shared_tokens=["b"]) == {"kind": "fires_on", "corpus": "a",
                                                          "exclude_shared_tokens": ["b"]}


def test_a_python_claims_errors_speak_python():
    with pytest.raises(ClaimError) as info:
        claim(id="py-claim", neuron="L0N1", predicates=[fires_on("alpha")])
    assert "Fix: pass statement=" in str(info.value) and "[[claim" not in str(info.value)
    with pytest.raises(ClaimError) as info:
        claim(id="py-claim", statement="s", neuron="L0N1", predicates=[])
    assert "field 'predicates'" in str(info.value) and "predicates=[fires_on(" in str(info.value)


def test_a_fix_never_repeats_the_mistake():
    """#28: the suggested baseline contained the claimed corpus."""
    from polytests.claims.parse import claim_from_dict
    from polytests.errors import ClaimError

    raw = {"id": "c", "statement": "s", "neuron": "L1N2",
           "predicate": [{"kind": "fires_on", "corpus": "legal", "baseline": ["legal", "medical"]}]}
    with pytest.raises(ClaimError) as err:
        claim_from_dict(raw, source="claims.toml", lines={"": 1})
    assert err.value.fix == 'write baseline = ["medical"]'
    raw["predicate"][0]["baseline"] = ["legal"]
    with pytest.raises(ClaimError, match="remove baseline"):
        claim_from_dict(raw, source="claims.toml", lines={"": 1})


def test_an_error_found_after_parsing_speaks_the_language_of_a_python_claim_file():
    """#28: a claim written in Python got a TOML fix when the error came from checks after parsing
    (an unknown corpus, a neuron out of range)."""
    from polytests.claims.model import Claim

    raw = {"id": "c", "statement": "s", "neuron": "L1N2", "predicates": [{"kind": "fires_on", "corpus": "x"}]}
    raw = {**{k: v for k, v in raw.items() if k != "predicates"}, "predicate": raw["predicates"]}
    in_py = Claim.located(raw, source="test_claims.py", line=3, lines={})
    in_toml = Claim.located(raw, source="claims.toml", line=3, lines={})
    fix = 'write corpus = "medical"'
    assert in_toml.error("unknown corpus 'x'", "predicate[0].corpus", fix).fix == fix
    err = in_py.error("unknown corpus 'x'", "predicate[0].corpus", fix)
    assert err.fix == 'pass corpus="medical"' and err.field == "predicates[0].corpus"


def test_locate_finds_every_key_past_comments_strings_and_arrays():
    # line numbers by hand; each trap would shift or hide the keys after it if the scanner fell for it
    from polytests.claims.parse import locate

    lines = [
        "top = 1  # a comment with [ and { and ''' and \"\"\" in it",
        "[[claim]]",
        'id = "a"  # another [ comment',
        'statement = """a statement with',
        '[[claim]] inside, and a \\""" escaped quote"""',
        "\"neuron\" = 'L1N3'",
        "note = 'a literal \\ backslash [ and a \"quote'",
        'esc = "an \\" escaped [ quote"',
        'paths = ["a\\\\", "b"]',
        "why = '''literal",
        "[[claim]] not a header'''",
        'oneline = """one line [ string"""',
        'empty = """"""',
        "corpora = [",
        '  "x",  # [ comment inside an array',
        '  "y",',
        "]",
        "pairs = [",
        '  ["x", 1], [["y"]],',
        '  ["y", 2],',
        "]",
        '["a,b"]',
        "inside = 1",
        "[[claim.predicate]]",
        'kind = "fires_on"',
        'corpus = "x"',
        "[[ 'claim' . \"predicate\" ]]",
        "kind = 'polysemantic'",
        "[[claim.extras]]",
        "one = 1",
        "[claim.extra]",
        'depth = { a = [1, 2], b = "]" }',
        '[[ "claim" ]]',
        'id = "b"',
        "alpha = 0.05",
        "[meta.data]",
        "version = 1",
    ]
    text = "\n".join(lines)
    tomllib.loads(text)  # valid TOML: the scanner is judged on what TOML accepts
    where = locate(text)
    def at(start):  # the (1-based) line that starts so, found by hand's stand-in: plain text search
        (number,) = [n for n, line in enumerate(lines, start=1) if line.startswith(start)]
        return number

    # a table that is not a claim's: its name at the top (a claim.* table also names "claim" there)
    assert where.top == {"top": 1, "a,b": at('["a,b"]'), "claim": at("[[claim.extras]]"), "meta": at("[meta")}
    assert where.claims[0] == {
        "": 2, "id": 3, "statement": 4, "neuron": at('"neuron"'), "note": at("note"), "esc": at("esc"),
        "paths": at("paths"), "why": at("why"), "oneline": at("oneline"), "empty": at("empty"),
        "corpora": at("corpora"), "pairs": at("pairs"), "predicate[0]": at("[[claim.predicate]]"),
        "predicate[0].kind": at('kind = "'), "predicate[0].corpus": at("corpus ="), "predicate[1]": at("[[ 'claim"),
        "predicate[1].kind": at("kind = '"), "extras": at("[[claim.extras]]"), "extra": at("[claim.extra]")}
    assert where.claims[1] == {"": at('[[ "claim'), "id": at('[[ "claim') + 1, "alpha": at("alpha")}
    assert len(where.claims) == 2


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_of_either_byte_order_is_one_problem_naming_the_fix(tmp_path, encoding):
    from polytests.claims.parse import read_claim_file

    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    path = tmp_path / "claim.toml"
    path.write_bytes(bom + GOOD.encode(encoding))
    contents = read_claim_file(path)
    assert contents.claims == () and len(contents.problems) == 1
    error = contents.problems[0].error
    assert "UTF-16" in str(error) and error.line == 1 and "UTF-8" in error.fix


def test_a_file_that_cannot_be_read_is_one_problem_not_an_exception(tmp_path):
    from polytests.claims.parse import read_claim_file

    for path in (tmp_path / "missing.toml", tmp_path):  # no such file; a folder
        contents = read_claim_file(path)
        assert contents.claims == () and len(contents.problems) == 1
        problem = contents.problems[0]
        assert problem.name == path.name and "cannot read the file" in str(problem.error)
        assert problem.error.path == str(path)


@pytest.mark.parametrize("depth", [400, 100_000])
def test_a_deeply_nested_value_is_a_claim_error_not_a_recursion_error(tmp_path, depth):
    # 400 levels validate (and fail) in pydantic, but describing the bad value recursed past the limit
    from polytests.claims.parse import claim_from_dict, read_claim_file

    value: list = []
    for _ in range(depth):
        value = [value]
    raw = {"id": "deep", "statement": "s", "neuron": "L1N3", "predicate": [{"kind": "fires_on", "corpus": value}]}
    with pytest.raises(ClaimError, match="nested too deeply") as info:
        claim_from_dict(raw, source="x.toml", lines={"": 4})
    assert (info.value.message, info.value.path, info.value.line, info.value.fix) == (
        "values are nested too deeply", "x.toml", 4, "claim fields are strings, numbers or flat lists")
    if depth == 400:  # the same through a claim file: one problem, no exception
        path = tmp_path / "deep.toml"
        path.write_text('[[claim]]\nid = "deep"\nstatement = "s"\nneuron = "L1N3"\n[[claim.predicate]]\n'
                        f'kind = "fires_on"\ncorpus = {"[" * depth}{"]" * depth}\n')
        contents = read_claim_file(path)
        assert contents.claims == () and len(contents.problems) == 1
        assert "nested too deeply" in str(contents.problems[0].error)


def test_an_error_in_a_field_with_no_known_line_points_at_the_claims_line():
    from polytests.claims.parse import claim_from_dict

    raw = {"id": "a", "statement": "s", "neuron": "layer1", "predicate": [{"kind": "fires_on", "corpus": "x"}]}
    with pytest.raises(ClaimError) as info:
        claim_from_dict(raw, source="x.toml", lines={"": 7})  # where "neuron" is, nobody said
    assert (info.value.path, info.value.line, info.value.field) == ("x.toml", 7, "neuron")
    with pytest.raises(ClaimError) as info:
        claim_from_dict(raw, source="x.toml", lines={"": 7, "neuron": 9})
    assert info.value.line == 9
