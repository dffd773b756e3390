"""Shared fixtures: tiny corpora and a tiny random SoLU model, built once per session."""

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
