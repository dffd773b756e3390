"""Shared fixtures: tiny corpora, a tiny random SoLU model and tiny models of each family
(tests/families.py), built once per session."""

from __future__ import annotations

import importlib.util

import pytest
import rich.console  # noqa: F401
import rich.table  # noqa: F401

# pytester's in-process runs drop the modules first imported inside them. Import up front what
# the plugin imports on the way (rich styles, torch through the runner, the reports), and numba,
# which the permutation engine imports when it first computes a test: numba imported again after
# its modules were dropped fails in its own registries ("cannot augment Function(list) with
# Function(list)", "duplicate registration"), so a claim judged in a later run crashed.
import polytests.reports  # noqa: F401
import polytests.verdicts.runner  # noqa: F401

if importlib.util.find_spec("numba") is not None:
    # Numba imports more of itself when it first compiles or loads a function: run each of the
    # engine's compiled loops once here, so all of it is imported before any pytester run.
    import numpy as np

    from polytests.stats.permutation import permutation_test, sign_flip_test

    permutation_test(np.arange(12.0), np.arange(14.0), n_resamples=9, seed=0)  # Monte Carlo
    permutation_test(np.arange(3.0), np.arange(4.0), seed=0)  # exact
    sign_flip_test(np.arange(10.0) - 3, n_resamples=9, seed=0)

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
    from polytests.engine.models import load_model

    return load_model(str(tiny_model_dir))


@pytest.fixture(scope="session")
def tiny_families(tmp_path_factory, tiny_corpora):
    """{family: spec} for GPT-2, GPT-NeoX, Llama, BERT and a GGUF llama (tests/families.py)."""
    from tests.families import write_families

    return write_families(tmp_path_factory.mktemp("families"), tiny_corpora)


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium session (tests/chromium.py), skipped where chromium or websocket-client is absent."""
    from tests.chromium import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)")
    pytest.importorskip("websocket", reason="websocket-client is not installed (pip install -e '.[test]')")
    session = Chromium(binary, tmp_path / "chromium-profile")
    yield session
    session.close()
