"""The pytest plugin: claim files and Claim objects become test items.

Registered through the ``pytest11`` entry point. This module only wires pytest
to the library: options, collection, the session fixture, the terminal summary.
The family of claims (for the multiple-comparison correction) is every claim
collected from the configured hypothesis paths before ``-k``/``-m`` deselect
anything, plus the TOML claims of those paths that this run did not collect,
so a verdict does not change with what you run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from polytests.claims.model import Claim
from polytests.claims.parse import read_claim_file
from polytests.claims.results import ClaimResult
from polytests.errors import ClaimCrashed, ClaimError, PolytestsError
from polytests.session import PolytestsSession
from polytests.settings import CORRECTIONS, Settings, SettingsError, load_pyproject_settings, settings_from

RESULT_PROPERTY = "polytests_result"


SESSION_KEY = pytest.StashKey[PolytestsSession]()
# Result dictionaries of the claims that ran (from test reports, so xdist workers' count too).
RESULTS_KEY = pytest.StashKey[dict[str, ClaimResult]]()
WRITTEN_KEY = pytest.StashKey[object]()
REPORT_ERROR_KEY = pytest.StashKey[str]()


OPTIONS = ("model", "corpora", "alpha", "min_effect", "min_effect_loss", "correction", "resamples", "seed",
           "report_dir", "cache_dir", "device", "strict_inconclusive", "recompute")


def pytest_addoption(parser: pytest.Parser) -> None:
    # Values are validated by the Settings model in pytest_configure, the same checks as
    # [tool.polytests], so each option's error is one line naming the option and the fix.
    group = parser.getgroup("polytests", "claims about neurons, tested")
    group.addoption("--polytests-model", help="model spec: 'embedded', a local directory, or an alias like solu-4l")
    group.addoption("--polytests-corpora", help="folder of corpora (default: [tool.polytests] corpora)")
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
    config.pluginmanager.register(_ResultCollector(config.stash[RESULTS_KEY]), "polytests-results")


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
        if capture is not None:
            with capture.global_and_fixture_disabled():
                state.evaluate_all()
        else:
            state.evaluate_all()
    return (yield)


class ClaimFile(pytest.File):
    def collect(self):
        contents = read_claim_file(self.path)
        names: set[str] = set()
        for claim in contents.claims:
            names.add(claim.id)
            yield ClaimItem.from_parent(self, name=claim.id, claim=claim)
        for problem in contents.problems:
            name = problem.name
            while name in names:
                name += "'"
            names.add(name)
            yield BrokenClaimFile.from_parent(self, name=name, error=problem.error)


class ClaimModule(pytest.Module):
    """A Python claim file; if importing it raises, one failing item says why."""

    def collect(self):
        try:
            return list(super().collect())
        except Exception as exc:  # noqa: BLE001 - pytest's CollectError and whatever the module raised
            return [BrokenClaimFile.from_parent(self, name=self.path.name, error=_import_error(self.path, exc))]


def _import_error(path: Path, exc: BaseException) -> PolytestsError:
    cause = exc
    while isinstance(cause, pytest.Collector.CollectError) and cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, ClaimError):
        return cause
    if isinstance(exc, pytest.Collector.CollectError) and cause is exc:
        text = str(exc).strip().splitlines()
        return ClaimError(f"the claim file does not import: {text[-1] if text else exc}", path=str(path),
                          fix="fix the error above; the other claim files were judged without this one")
    import traceback

    if isinstance(cause, SyntaxError):
        return ClaimError(f"the claim file does not import: SyntaxError: {cause.msg}", path=str(path),
                          line=cause.lineno, fix="fix the syntax at that line")
    line = next((f.lineno for f in reversed(traceback.extract_tb(cause.__traceback__))
                 if Path(f.filename).resolve() == path.resolve()), None)
    return ClaimError(f"the claim file does not import: {cause.__class__.__name__}: {cause}", path=str(path),
                      line=line, fix="fix that line; the other claim files were judged without this one")


class BrokenClaimFile(pytest.Item):
    """One failing item for a claim (or claim file) that could not be built; the rest of the suite runs."""

    def __init__(self, *, error: PolytestsError, **kwargs) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo, style=None):
        return f"invalid claim file: {excinfo.value}"

    def reportinfo(self):
        return self.path, (getattr(self.error, "line", None) or 1) - 1, f"claim file {self.path.name}"


def _draw_figures_ahead(config: pytest.Config, state, result: ClaimResult) -> None:
    """Under pytest-xdist, the worker that judged a claim draws its figures into the figure
    cache (keyed by content), so the controller, which writes the reports alone at the end,
    reads them instead of drawing every claim's figures itself. ``result`` is read back from the
    JSON exactly as the controller will receive it. Nothing here can fail the claim: a figure that
    could not be drawn is drawn (or its error reported) by the controller."""
    if config.getoption("--polytests-no-reports"):
        return
    from polytests.reports import figures

    cache = state.settings.path(state.settings.cache_dir) / "figures"
    try:
        figures.claim_figures(result, cache)
    except Exception:  # noqa: BLE001, S110 - an optimisation only; the controller draws what is missing
        pass


class ClaimFailed(Exception):
    def __init__(self, result: ClaimResult) -> None:
        super().__init__(result.reason)
        self.result = result


class ClaimItem(pytest.Item):
    def __init__(self, *, claim: Claim, **kwargs) -> None:
        super().__init__(**kwargs)
        self.claim = claim

    def runtest(self) -> None:
        from polytests.reports import explain

        state = self.config.stash[SESSION_KEY]
        result = state.result_for(self.claim)
        if state.excluded:
            result = dataclasses.replace(result, family_excluded=dict(state.excluded))
            self.add_report_section("call", "polytests", "judged in a family without these claims, which could "
                                    "not be judged: " + "; ".join(f"{k}: {v}" for k, v in state.excluded.items()))
        text = json.dumps(result.to_dict())
        self.user_properties.append((RESULT_PROPERTY, text))
        self.user_properties.append(("polytests_verdict", result.verdict))
        if hasattr(self.config, "workerinput"):
            _draw_figures_ahead(self.config, state, ClaimResult.from_dict(json.loads(text)))
        if result.verdict == "inconclusive":
            if state.settings.strict_inconclusive:
                raise ClaimFailed(result)
            pytest.skip(f"inconclusive: {result.reason}")
        if result.failed:
            raise ClaimFailed(result)
        if result.verdict == "refuted":
            self.add_report_section("call", "polytests", explain(result))

    def repr_failure(self, excinfo, style=None):
        from polytests.reports import explain

        if isinstance(excinfo.value, ClaimFailed):
            return explain(excinfo.value.result)
        if isinstance(excinfo.value, PolytestsError):
            return f"{excinfo.value.__class__.__name__}: {excinfo.value}"
        # Not foreseen, raised while reporting this claim: still this claim's failure alone.
        return str(ClaimCrashed(self.claim.id, excinfo.value, path=self.claim.source, line=self.claim.line))

    def reportinfo(self):
        line = (self.claim.line or 1) - 1
        return self.claim.source or self.path, line, f"claim {self.claim.id} ({self.claim.neuron})"


@pytest.fixture(scope="session")
def polytests(request: pytest.FixtureRequest) -> PolytestsSession:
    """The polytests session: ``polytests.check(claim)``, ``polytests.model(...)``, settings."""
    return request.config.stash[SESSION_KEY]


class _ResultCollector:
    """Keeps every claim result that a test report carries (in xdist, the controller sees the
    workers' reports), for the reports and the ledger at the end of the session."""

    def __init__(self, results: dict) -> None:
        self.results = results

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in getattr(report, "user_properties", ()):
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

    state = config.stash[SESSION_KEY]
    report_dir = state.settings.path(state.settings.report_dir)
    try:
        if config.getoption("--polytests-no-reports"):
            written = detect_flips(results, report_dir)
        else:
            written = write_reports(results, report_dir,
                                    figure_cache=state.settings.path(state.settings.cache_dir) / "figures")
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

    error = config.stash.get(REPORT_ERROR_KEY, None)
    if error:
        terminalreporter.write_line(f"polytests: {error}", red=True, bold=True)
    written = config.stash.get(WRITTEN_KEY, None)
    flips = written.flips if written is not None else []
    buffer = io.StringIO()
    console = Console(file=buffer, width=config.get_terminal_writer().fullwidth,
                      force_terminal=terminalreporter.hasmarkup, no_color=not terminalreporter.hasmarkup,
                      highlight=False, emoji=False)
    console.print(SummaryTable(results, {f["claim_id"] for f in flips}))
    console.print(explanations(results))
    terminalreporter.write(buffer.getvalue())
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
