"""The per-claim result cache: what its key covers, damage, and the lock workers share work by."""

from __future__ import annotations

import pytest

from polytests import claim, fires_on
from polytests.engine.result_cache import ResultCache, result_key

SETTINGS = {"seed": 1, "resamples": 999, "min_effect": 0.05, "min_effect_loss": 0.002, "alpha": 0.05}


def _claim(**changes):
    fields = dict(id="c1", statement="L1N2 fires on alpha", neuron="L1N2", predicates=[fires_on("alpha")])
    fields.update(changes)
    return claim(**fields)


def _key(c=None, **changes):
    args = dict(model_digest="m" * 64, corpus_hash="c" * 64, settings=SETTINGS)
    args.update(changes)
    return result_key(c or _claim(), **args)


def test_the_key_changes_with_everything_a_result_depends_on():
    base = _key()
    assert _key() == base
    changed = [
        _key(_claim(neuron="L1N3")), _key(_claim(predicates=[fires_on("beta")])), _key(_claim(alpha=0.01)),
        _key(_claim(split="explore")), _key(model_digest="n" * 64), _key(corpus_hash="d" * 64),
        *[_key(settings={**SETTINGS, name: value})
          for name, value in (("seed", 2), ("resamples", 9999), ("min_effect", 0.1), ("min_effect_loss", 0.01),
                              ("alpha", 0.01))],
    ]
    assert base not in changed and len(set(changed)) == len(changed)


def test_the_key_does_not_depend_on_where_the_claim_was_written():
    from polytests.claims.model import Claim

    a = _claim()
    b = Claim.located(a.model_dump(by_alias=True), source="/elsewhere/claims.toml", line=40, lines={})
    assert b.source == "/elsewhere/claims.toml" and _key(a) == _key(b)


def test_the_key_covers_the_source_code(monkeypatch):
    import polytests.engine.result_cache as rc

    base = _key()
    rc.code_versions.cache_clear()
    monkeypatch.setattr(rc, "source_digest", lambda: "edited")
    try:
        assert _key() != base
    finally:
        rc.code_versions.cache_clear()


def test_round_trip_and_damage(tmp_path):
    cache = ResultCache(tmp_path)
    path = cache.path_for("c1", "ab" * 32)
    value = ([{"p": 0.1 + 0.2}], {"n": 3})
    cache.save(path, value)
    assert cache.load(path) == value
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    with pytest.warns(UserWarning, match="damaged result cache entry"):
        assert cache.load(path) is None
    assert not path.exists()
    assert cache.load(path) is None  # absent: silently None


def test_a_held_lock_is_not_taken_without_waiting(tmp_path):
    cache = ResultCache(tmp_path)
    path = cache.path_for("c1", "cd" * 32)
    first = cache.lock(path, wait=False)
    assert first is not None
    assert cache.lock(path, wait=False) is None
    first.release()
    second = cache.lock(path, wait=False)
    assert second is not None
    second.release()


def test_the_key_covers_the_version_of_every_library_that_makes_the_numbers(monkeypatch):
    """TransformerLens 4 has no __version__: the version comes from the installed distribution,
    so upgrading it (or torch, numpy, scipy) changes the key instead of reading old results."""
    from importlib import metadata

    import polytests.engine.result_cache as rc
    from polytests.engine.provenance import library_versions

    versions = library_versions()
    assert versions["transformer_lens"] == metadata.version("transformer-lens")
    assert set(versions) >= {"polytests", "torch", "transformer_lens", "numpy", "scipy", "python"}
    base = _key()
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda d: "9.9.9" if d == "transformer-lens" else real(d))
    rc.code_versions.cache_clear()
    try:
        assert _key() != base
    finally:
        rc.code_versions.cache_clear()


def test_no_module_that_computes_a_result_imports_one_that_only_presents():
    # The source digest leaves out PRESENTATION; that is only sound while nothing it digests
    # imports a presentation module (at the top or inside a function).
    import ast

    from polytests.engine.result_cache import _SOURCE_ROOT, PRESENTATION, digested_sources

    def presentation(module: str) -> bool:
        parts = module.split(".")
        if parts[0] != "polytests" or len(parts) < 2:
            return False
        return parts[1] in PRESENTATION or f"{parts[1]}.py" in PRESENTATION

    digested = digested_sources()
    assert any(p.name == "bounds.py" for p in digested) and not any(p.name == "cli.py" for p in digested)
    offenders = []
    for path in digested:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [f"{path.relative_to(_SOURCE_ROOT)} imports {n}" for n in names if presentation(n)]
    assert not offenders, offenders


def test_editing_a_report_or_a_command_keeps_the_source_digest(tmp_path, monkeypatch):
    import shutil

    from polytests.engine import result_cache

    root = tmp_path / "polytests"
    shutil.copytree(result_cache._SOURCE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__", "embedded"))
    monkeypatch.setattr(result_cache, "_SOURCE_ROOT", root)

    def digest():
        result_cache.source_digest.cache_clear()
        return result_cache.source_digest()

    before = digest()
    (root / "reports" / "terminal.py").write_text("# edited\n", encoding="utf-8")
    (root / "cli.py").write_text("# edited\n", encoding="utf-8")
    assert digest() == before
    (root / "stats" / "bounds.py").write_text("# edited\n", encoding="utf-8")
    assert digest() != before
    result_cache.source_digest.cache_clear()
