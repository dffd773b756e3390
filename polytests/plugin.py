"""The pytest plugin: claim files and Claim objects become test items.

Registered through the ``pytest11`` entry point. This module only wires pytest
to the library: options, collection, the session fixture, the terminal summary.
The family of claims (for the multiple-comparison correction) is every claim
collected from the configured hypothesis paths before ``-k``/``-m`` deselect
anything, plus the TOML claims of those paths that this run did not collect,
so a verdict does not change with what you run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from polytests.claims.model import Claim
from polytests.claims.parse import parse_claim_file
from polytests.errors import ClaimError, PolytestsError
from polytests.settings import CORRECTIONS, Settings, load_pyproject_settings

RESULT_PROPERTY = "polytests_result"


@dataclass
class PolytestsSession:
    """Session state: settings, the claim runner, the family and its results."""

    settings: Settings
    family: dict[str, Claim] = field(default_factory=dict)
    invalid: dict[str, ClaimError] = field(default_factory=dict)
    duplicates: dict[tuple, ClaimError] = field(default_factory=dict)
    _runner: object = None
    _results: dict | None = None

    @property
    def runner(self):
        if self._runner is None:
            from polytests.runner import ClaimRunner

            self._runner = ClaimRunner(self.settings)
        return self._runner

    def add(self, claim: Claim) -> None:
        existing = self.family.setdefault(claim.id, claim)
        if existing != claim:
            where = f"{existing.source}:{existing.line}" if existing.source else "another claim"
            self.duplicates[_where(claim)] = ClaimError(
                f"duplicate claim id {claim.id!r}, also used at {where}", path=claim.source, line=claim.line,
                field="id", fix="give every claim of the hypothesis folders its own id")

    def evaluate_all(self) -> None:
        """Validate every claim of the family and judge the valid ones together (once)."""
        if self._results is not None:
            return
        valid = []
        for c in self.family.values():
            try:
                self.runner.check_claim(c)
                valid.append(c)
            except ClaimError as exc:
                self.invalid[c.id] = exc
        try:
            self._results = self.runner.evaluate_family(valid)
        except PolytestsError as exc:
            # e.g. an unreadable model: every claim of the family reports it.
            self._results = {}
            for c in valid:
                self.invalid[c.id] = exc

    def result_for(self, claim: Claim):
        if _where(claim) in self.duplicates:
            raise self.duplicates[_where(claim)]
        self.evaluate_all()
        if claim.id in self.invalid:
            raise self.invalid[claim.id]
        if claim.id not in self._results:
            # A claim outside the collected family (e.g. built inside a test): judged alone.
            self.runner.check_claim(claim)
            return self.runner.evaluate_family([claim])[claim.id]
        return self._results[claim.id]

    def check(self, claim: Claim):
        """Evaluate a claim from inside an ordinary test and return its ClaimResult."""
        return self.result_for(claim)

    def model(self, spec: str | None = None):
        """The run's model (or ``spec``), loaded once: a LoadedModel with ``.bridge``."""
        return self.runner.model(spec or self.settings.model)

    def store(self, neurons=(), split: str = "confirm", site: str | None = None, model: str | None = None):
        """The activation store of the run's model over ``split`` (shared with the claims)."""
        return self.runner.store(self.model(model), split, neurons, site)


def _where(claim: Claim) -> tuple:
    return (claim.source, claim.line, claim.id)


SESSION_KEY = pytest.StashKey[PolytestsSession]()
# Result dictionaries of the claims that ran (from test reports, so xdist workers' count too).
RESULTS_KEY = pytest.StashKey[dict]()
WRITTEN_KEY = pytest.StashKey[object]()


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 99:
        raise ValueError("must be >= 99")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("polytests", "claims about neurons, tested")
    group.addoption("--polytests-model", help="model spec: 'embedded', a local directory, or an alias like solu-4l")
    group.addoption("--polytests-corpora", help="folder of corpora (default: [tool.polytests] corpora)")
    group.addoption("--polytests-alpha", type=float, help="alpha for claims that state none (default 0.05)")
    group.addoption("--polytests-correction", choices=CORRECTIONS,
                    help="multiple-comparison correction across the claim family (default holm)")
    group.addoption("--polytests-resamples", type=_positive_int, help="permutation resamples (default 9999)")
    group.addoption("--polytests-seed", type=int, help="seed for every resampling")
    group.addoption("--polytests-report-dir", help="where claims.json/.md/.html go (default reports/)")
    group.addoption("--polytests-cache-dir", help="activation cache folder (default .polytests_cache)")
    group.addoption("--polytests-device", help="torch device, e.g. cuda (default: CPU)")
    group.addoption("--polytests-strict-inconclusive", action="store_true", default=None,
                    help="fail inconclusive claims instead of skipping them")
    group.addoption("--polytests-no-reports", action="store_true", default=False,
                    help="do not write report files (nor the ledger line)")
    group.addoption("--polytests-fail-on-flip", action="store_true", default=False,
                    help="fail the run when a claim's verdict differs from its last run in the ledger")


def pytest_configure(config: pytest.Config) -> None:
    try:
        settings = load_pyproject_settings(config.rootpath)
    except ValueError as exc:
        raise pytest.UsageError(f"polytests: {exc}") from exc
    overrides = {}
    for name in ("model", "corpora", "alpha", "correction", "resamples", "seed", "report_dir", "cache_dir",
                 "device", "strict_inconclusive"):
        value = config.getoption(f"--polytests-{name.replace('_', '-')}")
        if value is not None:
            overrides[name] = value
    try:
        settings = replace(settings, **overrides).validated()
    except ValueError as exc:
        raise pytest.UsageError(f"polytests: {exc}") from exc
    config.stash[SESSION_KEY] = PolytestsSession(settings)
    config.stash[RESULTS_KEY] = {}
    config.pluginmanager.register(_ResultCollector(config.stash[RESULTS_KEY]), "polytests-results")


def _hypothesis_roots(config: pytest.Config) -> list[Path]:
    settings = config.stash[SESSION_KEY].settings
    return [settings.path(p).resolve() for p in settings.hypotheses]


def _is_claim_file(config: pytest.Config, path: Path) -> bool:
    if path.suffix != ".toml":
        return False
    resolved = path.resolve()
    return any(root == resolved.parent or root in resolved.parents for root in _hypothesis_roots(config))


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if _is_claim_file(parent.config, file_path):
        return ClaimFile.from_parent(parent, path=file_path)
    return None


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
    for root in _hypothesis_roots(config):
        for path in sorted(root.rglob("*.toml")) if root.is_dir() else []:
            try:
                for claim in parse_claim_file(path):
                    state.add(claim)
            except ClaimError:
                pass  # reported by its own collected item


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
        try:
            claims = parse_claim_file(self.path)
        except ClaimError as exc:
            yield BrokenClaimFile.from_parent(self, name=self.path.name, error=exc)
            return
        for claim in claims:
            yield ClaimItem.from_parent(self, name=claim.id, claim=claim)


class BrokenClaimFile(pytest.Item):
    """One failing item for a claim file that does not parse; the rest of the suite runs."""

    def __init__(self, *, error: ClaimError, **kwargs) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo, style=None):
        return f"invalid claim file: {excinfo.value}"

    def reportinfo(self):
        return self.path, (self.error.line or 1) - 1, f"claim file {self.path.name}"


class ClaimFailed(Exception):
    def __init__(self, result: dict) -> None:
        super().__init__(result["reason"])
        self.result = result


class ClaimItem(pytest.Item):
    def __init__(self, *, claim: Claim, **kwargs) -> None:
        super().__init__(**kwargs)
        self.claim = claim

    def runtest(self) -> None:
        from polytests.reports import explain, result_to_dict

        state = self.config.stash[SESSION_KEY]
        result = state.result_for(self.claim)
        data = result_to_dict(result)
        self.user_properties.append((RESULT_PROPERTY, json.dumps(data)))
        self.user_properties.append(("polytests_verdict", result.verdict))
        if result.verdict == "inconclusive":
            if state.settings.strict_inconclusive:
                raise ClaimFailed(data)
            pytest.skip(f"inconclusive: {result.reason}")
        if result.failed:
            raise ClaimFailed(data)
        if result.verdict == "refuted":
            self.add_report_section("call", "polytests", explain(data))

    def repr_failure(self, excinfo, style=None):
        from polytests.reports import explain

        if isinstance(excinfo.value, ClaimFailed):
            return explain(excinfo.value.result)
        if isinstance(excinfo.value, PolytestsError):
            return f"{excinfo.value.__class__.__name__}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        line = (self.claim.line or 1) - 1
        return self.claim.source or self.path, line, f"claim {self.claim.id} ({self.claim.neuron})"


@pytest.fixture(scope="session")
def polytests(request: pytest.FixtureRequest) -> PolytestsSession:
    """The polytests session: ``polytests.check(claim)``, ``polytests.runner.model(...)``, settings."""
    return request.config.stash[SESSION_KEY]


class _ResultCollector:
    """Keeps every claim result that a test report carries (in xdist, the controller sees the
    workers' reports), for the reports and the ledger at the end of the session."""

    def __init__(self, results: dict) -> None:
        self.results = results

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in getattr(report, "user_properties", ()):
            if name == RESULT_PROPERTY:
                data = json.loads(value)
                self.results.setdefault(data["claim_id"], data)


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    """Write the reports and the ledger line; with --polytests-fail-on-flip a flip fails the run."""
    config = session.config
    results = sorted(config.stash.get(RESULTS_KEY, {}).values(), key=lambda r: r["claim_id"])
    if not results or hasattr(config, "workerinput"):
        return
    from polytests.reports import detect_flips, write_reports

    state = config.stash[SESSION_KEY]
    report_dir = state.settings.path(state.settings.report_dir)
    if config.getoption("--polytests-no-reports"):
        written = detect_flips(results, report_dir)
    else:
        written = write_reports(results, report_dir)
    config.stash[WRITTEN_KEY] = written
    if written.flips and config.getoption("--polytests-fail-on-flip") and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    results = sorted(config.stash.get(RESULTS_KEY, {}).values(), key=lambda r: r["claim_id"])
    if not results or hasattr(config, "workerinput"):
        return
    import io

    from rich.console import Console

    from polytests.reports import SummaryTable, explanations

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
