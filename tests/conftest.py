"""Shared fixtures: tiny corpora, a tiny random SoLU model and tiny models of each family
(tests/families.py), built once per session."""

from __future__ import annotations

import pytest

from tests.helpers import write_tiny_corpora, write_tiny_native_model

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def tiny_corpora(tmp_path_factory):
    return write_tiny_corpora(tmp_path_factory.mktemp("corpora"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_corpora):
    return write_tiny_native_model(tmp_path_factory.mktemp("model") / "tiny-solu", tiny_corpora)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from polytests.models import load_model

    return load_model(str(tiny_model_dir))


@pytest.fixture(scope="session")
def tiny_families(tmp_path_factory, tiny_corpora):
    """{family: spec} for GPT-2, GPT-NeoX, Llama, BERT and a GGUF llama (tests/families.py)."""
    from tests.families import write_families

    return write_families(tmp_path_factory.mktemp("families"), tiny_corpora)
