"""The pytest plugin: claim files and Claim objects become test items.

Registered through the ``pytest11`` entry point. This module holds pytest's hooks only:
options, collection, the session fixture, the terminal summary. The nodes are in
:mod:`polytests.items`, the family and its results in :mod:`polytests.session`.
The family of claims (for the multiple-comparison correction) is every claim
collected from the configured hypothesis paths before ``-k``/``-m`` deselect
anything, plus the TOML claims of those paths that this run did not collect.
Only the selected claims are computed; the rest are read from the result cache or
enter the correction at p = 1, so a selection never confirms or refutes a claim that
the full run would not (docs/statistics.md, "Running a selection").
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from polytests.claims.model import Claim
from polytests.claims.parse import read_claim_file
from polytests.claims.results import ClaimResult
from polytests.items import ClaimFile, ClaimItem, ClaimModule
from polytests.session import NOT_JUDGED_PROPERTY, RESULT_PROPERTY, SESSION_KEY, PolytestsSession
from polytests.settings import (
    CORRECTIONS,
    Settings,
    SettingsError,
    load_pyproject_settings,
    settings_from,
)

# Result dictionaries of the claims that ran (from test reports, so xdist workers' count too).
RESULTS_KEY = pytest.StashKey[dict[str, ClaimResult]]()
NOT_JUDGED_KEY = pytest.StashKey[dict[str, str]]()  # broken claim files' items: where -> why
WRITTEN_KEY = pytest.StashKey[object]()
REPORT_ERROR_KEY = pytest.StashKey[str]()



OPTIONS = ("model", "corpora", "reference", "alpha", "min_effect", "min_effect_loss", "correction", "resamples", "seed",
           "report_dir", "cache_dir", "lock_timeout", "device", "strict_inconclusive", "recompute")


def pytest_addoption(parser: pytest.Parser) -> None:
    # Values are validated by the Settings model in pytest_configure, the same checks as
    # [tool.polytests], so each option's error is one line naming the option and the fix.
    group = parser.getgroup("polytests", "claims about neurons, tested")
    group.addoption("--polytests-model", help="model spec: 'embedded', a local directory, or an alias like solu-4l")
    group.addoption("--polytests-corpora", help="folder of corpora (default: [tool.polytests] corpora)")
    group.addoption("--polytests-reference",
                    help="where neuron scales and ablation baselines are measured: 'model' (the model's shipped "
                         "reference text, else the corpora), 'corpora', or a .jsonl file / folder of .txt files "
                         "(default: [tool.polytests] reference, else model)")
    group.addoption("--polytests-alpha", help="alpha for claims that state none (default 0.05)")
    group.addoption("--polytests-min-effect",
                    help="smallest effect of activation predicates that state none, in units of the neuron's "
                         "scale (default 0.05)")
    group.addoption("--polytests-min-effect-loss",
                    help="smallest effect of ablation predicates that state none, nats/token (default 0.002)")
    group.addoption("--polytests-correction",
                    help=f"multiple-comparison correction across the claim family: {', '.join(CORRECTIONS)} "
                         "(default holm)")
    group.addoption("--polytests-resamples", help="permutation resamples, >= 99 (default 9999)")
    group.addoption("--polytests-seed", help="seed for every resampling")
    group.addoption("--polytests-report-dir", help="where claims.json/.md/.html go (default reports/)")
    group.addoption("--polytests-cache-dir", help="activation cache folder (default .polytests_cache)")
    group.addoption("--polytests-lock-timeout",
                    help="seconds to wait for another run's lock on a cache entry or the report folder (default 600)")
    group.addoption("--polytests-device", help="torch device: auto, cpu, cuda (default auto: CUDA when present)")
    group.addoption("--polytests-strict-inconclusive", action="store_true", default=None,
                    help="fail inconclusive claims instead of skipping them")
    group.addoption("--polytests-recompute", action="store_true", default=None,
                    help="recompute every claim instead of reading results cached by earlier runs "
                         "(activations are still read from the cache)")
    group.addoption("--polytests-no-reports", action="store_true", default=False,
                    help="do not write report files (nor the ledger line)")
    group.addoption("--polytests-fail-on-flip", action="store_true", default=False,
                    help="fail the run when a claim's verdict differs from its last run in the ledger")


def pytest_configure(config: pytest.Config) -> None:
    overrides = {}
    for name in OPTIONS:
        value = config.getoption(f"--polytests-{name.replace('_', '-')}")
        if value is not None:
            overrides[name] = value
    try:
        settings = settings_from(load_pyproject_settings(config.rootpath), overrides)
    except SettingsError as exc:
        raise pytest.UsageError(f"polytests: {exc}") from None
    config.stash[SESSION_KEY] = PolytestsSession(settings)
    config.stash[RESULTS_KEY] = {}
    config.stash[NOT_JUDGED_KEY] = {}
    config.pluginmanager.register(_ResultCollector(config.stash[RESULTS_KEY], config.stash[NOT_JUDGED_KEY]),
                                  "polytests-results")


def _hypothesis_roots(config: pytest.Config) -> list[Path]:
    settings = config.stash[SESSION_KEY].settings
    return [settings.path(p).resolve() for p in settings.hypotheses]


def _in_hypothesis_roots(config: pytest.Config, path: Path) -> bool:
    resolved = path.resolve()
    return any(root == resolved.parent or root in resolved.parents for root in _hypothesis_roots(config))


def _is_claim_file(config: pytest.Config, path: Path) -> bool:
    return path.suffix == ".toml" and _in_hypothesis_roots(config, path)


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if _is_claim_file(parent.config, file_path):
        return ClaimFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):
    """Python claim files in the hypothesis folders: one that fails to import is one failing
    item, not an interrupted collection."""
    if module_path.name == "__init__.py" or not _in_hypothesis_roots(parent.config, module_path):
        return None
    return ClaimModule.from_parent(parent, path=module_path)


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object):
    if isinstance(obj, Claim):
        return ClaimItem.from_parent(collector, name=obj.id, claim=obj)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items) -> None:
    state = config.stash[SESSION_KEY]
    for item in items:
        if isinstance(item, ClaimItem):
            state.add(item.claim)
    collected = {Path(item.claim.source).resolve() for item in items
                 if isinstance(item, ClaimItem) and item.claim.source}
    for root in _hypothesis_roots(config):
        for path in sorted(root.rglob("*.toml")) if root.is_dir() else []:
            for claim in read_claim_file(path).claims:  # the invalid ones fail their own items
                state.add(claim)
        # Python claim files that this run does not collect (a path or -k selection) are
        # still members of the family, so a verdict does not depend on what was selected.
        for path in sorted(root.rglob("test_*.py")) if root.is_dir() else []:
            if path.resolve() not in collected:
                for claim in _claims_of_python_file(path):
                    state.add(claim)
    if not config.option.collectonly and any(isinstance(item, ClaimItem) for item in items):
        # Before any activation is collected: a bad run-wide model is one session error, and a
        # claim that cannot be judged is refused now rather than after the family's evaluation.
        state.check_run_model(_model_origin(config, state.settings))
        state.check_family()
        _announce_refusals(config, state)


def _model_origin(config: pytest.Config, settings: Settings) -> str:
    given = config.getoption("--polytests-model")
    if given is not None:
        return f"--polytests-model {given}"
    if settings.model != "embedded":
        return f"[tool.polytests] model = {settings.model!r} in {config.rootpath / 'pyproject.toml'}"
    return "the default model 'embedded'"


def _announce_refusals(config: pytest.Config, state: PolytestsSession) -> None:
    """Say at collection which claims were refused or skipped (their items fail or skip with the reason)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not (state.invalid or state.skipped):
        return
    if state.invalid:
        reporter.write_line(f"polytests: {len(state.invalid)} claim(s) refused before any activation was "
                            "collected: " + "; ".join(f"{cid}: {str(exc).splitlines()[0]}"
                                                      for cid, exc in sorted(state.invalid.items())), red=True)
    if state.skipped:
        reporter.write_line(f"polytests: {len(state.skipped)} claim(s) will be skipped, their model is not on "
                            "this machine: " + ", ".join(sorted(state.skipped)), yellow=True)


def _claims_of_python_file(path: Path) -> list[Claim]:
    """Module-level claims of a Python claim file, imported apart from pytest's collection.

    A file that fails to import contributes nothing here; when it is collected, its import
    error is its own failing item.
    """
    import hashlib
    import importlib.util

    name = "_polytests_family_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - a broken claim file must not end the session
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return []
    return [v for v in vars(module).values() if isinstance(v, Claim)]


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    """Judge the family before the first claim runs, outside output capture, so the
    progress bar reaches the terminal and no test's captured output holds it."""
    if not session.config.option.collectonly and any(isinstance(i, ClaimItem) for i in session.items):
        capture = session.config.pluginmanager.getplugin("capturemanager")
        state = session.config.stash[SESSION_KEY]
        # Only the selected claims (after paths, -k and -m) are computed; the rest of the family
        # is read from the result cache or enters the correction at p = 1 (session.evaluate_all).
        selected = {i.claim.id for i in session.items if isinstance(i, ClaimItem)}
        state.selected = None if set(state.family) <= selected else selected
        _report_progress(session.config, state)
        if capture is not None:
            with capture.global_and_fixture_disabled():
                state.evaluate_all()
        else:
            state.evaluate_all()
    return (yield)


def _report_progress(config: pytest.Config, state: PolytestsSession) -> None:
    """Progress lines of the family's computation go to the terminal: every step, or, when output is
    not a terminal and ``-q`` was given, one line a minute at most."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return
    from polytests.progress import at_most_every

    quiet = config.get_verbosity() < 0 and not reporter.isatty()
    state.runner.progress = at_most_every(60.0 if quiet else 0.0, reporter.write_line)


@pytest.fixture(scope="session")
def polytests(request: pytest.FixtureRequest) -> PolytestsSession:
    """The polytests session: ``polytests.check(claim)``, ``polytests.model(...)``, settings."""
    return request.config.stash[SESSION_KEY]


class _ResultCollector:
    """Keeps every claim result that a test report carries (in xdist, the controller sees the
    workers' reports), for the reports and the ledger at the end of the session."""

    def __init__(self, results: dict, not_judged: dict | None = None) -> None:
        self.results = results
        self.not_judged = {} if not_judged is None else not_judged

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in getattr(report, "user_properties", ()):
            if name == NOT_JUDGED_PROPERTY:
                item = json.loads(value)
                self.not_judged[item["claim"]] = item["why"]
            if name == RESULT_PROPERTY:
                result = ClaimResult.from_dict(json.loads(value))
                self.results.setdefault(result.claim_id, result)


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    """Write the reports and the ledger line; with --polytests-fail-on-flip a flip fails the run."""
    config = session.config
    results = sorted(config.stash.get(RESULTS_KEY, {}).values(), key=lambda r: r.claim_id)
    if not results or hasattr(config, "workerinput"):
        return
    from polytests.reports import detect_flips, write_reports

    broken = config.stash.get(NOT_JUDGED_KEY, {})
    if broken:  # broken claim files are listed in every report beside the claims the family left out
        results = [dataclasses.replace(r, family_excluded={**r.family_excluded, **broken}) for r in results]

    state = config.stash[SESSION_KEY]
    report_dir = state.settings.path(state.settings.report_dir)
    try:
        if config.getoption("--polytests-no-reports"):
            written = detect_flips(results, report_dir)
        else:
            written = write_reports(results, report_dir,
                                    figure_cache=state.settings.path(state.settings.cache_dir) / "figures",
                                    lock_timeout=state.settings.lock_timeout)
    except TimeoutError as exc:  # filelock.Timeout: another run holds the report folder's lock
        config.stash[REPORT_ERROR_KEY] = (
            f"the report folder {report_dir} stayed locked by another polytests run for lock_timeout = "
            f"{state.settings.lock_timeout:g}s ({exc}); the verdicts above stand, but no report and no ledger line "
            "were written. Fix: rerun when that run ends, or raise [tool.polytests] lock_timeout")
        return
    except OSError as exc:
        # The verdicts stand (they are the test outcomes); only the files are missing.
        config.stash[REPORT_ERROR_KEY] = (
            f"could not write the reports to {report_dir} ({exc.strerror or exc}); the verdicts above stand. "
            "Fix: make the folder writable or set --polytests-report-dir")
        return
    config.stash[WRITTEN_KEY] = written
    if written.flips and config.getoption("--polytests-fail-on-flip") and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    results = sorted(config.stash.get(RESULTS_KEY, {}).values(), key=lambda r: r.claim_id)
    if not results or hasattr(config, "workerinput"):
        return
    import io

    from rich.console import Console

    from polytests.reports import SummaryTable, explanations
    from polytests.reports.terminal import piped_width
    from polytests.reports.format import not_judged as not_judged_in

    error = config.stash.get(REPORT_ERROR_KEY, None)
    if error:
        terminalreporter.write_line(f"polytests: {error}", red=True, bold=True)
    written = config.stash.get(WRITTEN_KEY, None)
    flips = written.flips if written is not None else []
    buffer = io.StringIO()
    width = piped_width(terminalreporter.isatty(), config.get_terminal_writer().fullwidth)
    console = Console(file=buffer, width=width,
                      force_terminal=terminalreporter.hasmarkup, no_color=not terminalreporter.hasmarkup,
                      highlight=False, emoji=False)
    console.print(SummaryTable(results, {f["claim_id"] for f in flips}))
    console.print(explanations(results))
    not_judged = {**not_judged_in(results), **config.stash.get(NOT_JUDGED_KEY, {})}
    if not_judged:
        terminalreporter.write_line(f"polytests: {len(not_judged)} claim(s) not judged: "
                                    + "; ".join(f"{cid}: {why}" for cid, why in sorted(not_judged.items())),
                                    yellow=True)
    terminalreporter.write(buffer.getvalue())
    missing = max((r.provenance.get("family_not_computed", 0) for r in results), default=0)
    if missing:
        size = results[0].family_size
        terminalreporter.write_line(
            f"polytests: {missing} of the family's {size} claims were not selected and had no cached result: "
            f"they entered the correction at p = 1, so an inconclusive verdict here may be decided by the full "
            f"run (no verdict of this run can be reversed by it)", yellow=True)
    if written is None:
        return
    for flip in flips:
        terminalreporter.write_line(f"polytests: VERDICT FLIPPED for {flip['claim_id']}: {flip['before']} -> "
                                    f"{flip['after']} ({flip['explanation']})", yellow=True, bold=True)
    if flips and config.getoption("--polytests-fail-on-flip"):
        terminalreporter.write_line(f"polytests: failing the run: {len(flips)} verdict(s) flipped "
                                    "(--polytests-fail-on-flip)", red=True, bold=True)
    for warning in written.warnings:
        terminalreporter.write_line(f"polytests: warning: {warning}", yellow=True)
    if written.paths:
        terminalreporter.write_line(f"polytests: reports in {written.folder}: claims.html, claims.md, claims.json, "
                                    f"summary.md, history.jsonl and {len(written.figures)} figures")
