"""The polytests command."""

from __future__ import annotations

import shutil
from pathlib import Path

from polytests.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_corpora_command_checks_the_manifest(capsys):
    assert main(["corpora", "--root", str(ROOT / "corpora")]) == 0
    out = capsys.readouterr().out
    assert "fortran" in out and "explore/confirm" in out and "train" not in out


def test_corpora_command_fails_on_a_stale_manifest(tmp_path, capsys):
    root = tmp_path / "corpora"
    shutil.copytree(ROOT / "corpora", root)
    doc = next((root / "legal" / "docs").glob("*.txt"))
    doc.write_text(doc.read_text() + "\nAmended.\n")
    assert main(["corpora", "--root", str(root)]) == 1
    assert f"legal/{doc.stem}" in capsys.readouterr().err
    assert main(["corpora", "--root", str(root), "--write-manifest"]) == 0
