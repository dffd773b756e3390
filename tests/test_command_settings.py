"""Every command reads the same Settings as the plugin: ``[tool.polytests]``, then ``--polytests-*``."""

from __future__ import annotations

import pytest

import polytests.engine.store
from polytests.cli import main

TOML = """[tool.polytests]
model = "model-from-toml"
corpora = "corpora-from-toml"
cache_dir = "cache-from-toml"
seed = 7
resamples = 199
report_dir = "reports-from-toml"
"""
OPTIONS = ["--polytests-model", "model-from-option", "--polytests-corpora", "corpora-from-option",
           "--polytests-cache-dir", "cache-from-option", "--polytests-seed", "3", "--polytests-resamples", "299"]


class Captured(Exception):
    pass


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(TOML)
    for name in ("corpora-from-toml", "corpora-from-option"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path)
    seen = {}

    def capture(settings, spec=None):
        seen["settings"] = settings
        raise Captured

    monkeypatch.setattr(polytests.engine.store, "load_settings_model", capture)
    return tmp_path, seen


def _values(settings, root):
    return (settings.model, settings.path(settings.corpora), settings.path(settings.cache_dir), settings.seed,
            settings.resamples)


@pytest.mark.parametrize("command", [["hunt"], ["show", "L0N1"]])
def test_activation_commands_read_the_pyproject_table_then_the_options(project, command):
    root, seen = project
    with pytest.raises(Captured):
        main(command)
    assert _values(seen["settings"], root) == (
        "model-from-toml", root / "corpora-from-toml", root / "cache-from-toml", 7, 199)
    with pytest.raises(Captured):
        main(command + OPTIONS)
    assert _values(seen["settings"], root) == (
        "model-from-option", root / "corpora-from-option", root / "cache-from-option", 3, 299)


def test_the_older_short_option_names_are_aliases(project):
    root, seen = project
    with pytest.raises(Captured):
        main(["hunt", "--model", "m", "--corpora-dir", "corpora-from-option", "--cache-dir", "c", "--seed", "5",
              "--resamples", "999"])
    assert _values(seen["settings"], root) == ("m", root / "corpora-from-option", root / "c", 5, 999)


def test_cache_key_reads_the_settings(project):
    root, seen = project
    with pytest.raises(Captured):
        main(["cache-key", "--polytests-model", "model-from-option"])
    assert seen["settings"].model == "model-from-option"


def test_calibrate_gets_the_settled_values(project, monkeypatch):
    root, _ = project
    got = {}
    import polytests.commands.calibrate as calibrate

    monkeypatch.setattr(calibrate, "main", lambda args: got.update(vars(args)) or 0)
    assert main(["calibrate"]) == 0
    assert (got["model"], got["corpora"], got["cache_dir"], got["seed"], got["resamples"]) == (
        "model-from-toml", str(root / "corpora-from-toml"), str(root / "cache-from-toml"), 7, 199)
    assert main(["calibrate", *OPTIONS]) == 0
    assert (got["model"], got["corpora"], got["cache_dir"], got["seed"], got["resamples"]) == (
        "model-from-option", str(root / "corpora-from-option"), str(root / "cache-from-option"), 3, 299)


def test_model_card_reads_the_corpora_folder(project, monkeypatch):
    root, _ = project
    got = {}
    import polytests.commands.model_card as card

    monkeypatch.setattr(card, "write_model_card", lambda model_dir, corpora, *a: got.setdefault("c", corpora))
    assert main(["model-card", "--no-previous"]) == 0
    assert got["c"] == str(root / "corpora-from-toml")


def test_history_reads_the_ledger_of_the_report_folder(project, capsys):
    root, _ = project
    assert main(["history"]) == 1
    assert str(root / "reports-from-toml" / "history.jsonl") in capsys.readouterr().out
    assert main(["history", "--polytests-report-dir", "elsewhere"]) == 1
    assert str(root / "elsewhere" / "history.jsonl") in capsys.readouterr().out


def test_a_bad_value_is_one_line_naming_the_option(project, capsys):
    assert main(["hunt", "--polytests-resamples", "5"]) == 2
    err = capsys.readouterr().err
    assert "--polytests-resamples 5" in err and "Traceback" not in err
