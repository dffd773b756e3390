"""The pytest nodes of claims: a claim file and a Python claim module collect ClaimItems; a file
that cannot be read is one failing BrokenClaimFile; a ClaimItem passes, fails or skips by its
claim's verdict and carries its result (as JSON, for pytest-xdist's controller) to the reports."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from polytests.claims.model import Claim
from polytests.claims.parse import read_claim_file
from polytests.claims.results import ClaimResult
from polytests.errors import ClaimCrashed, ClaimError, PolytestsError
from polytests.session import NOT_JUDGED_PROPERTY, RESULT_PROPERTY, SESSION_KEY


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
            return [BrokenClaimFile.from_parent(self, name=self.path.name, error=import_error(self.path, exc))]


def import_error(path: Path, exc: BaseException) -> PolytestsError:
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
        # The reports list it among the claims not judged (under xdist the controller sees this too).
        self.user_properties.append((NOT_JUDGED_PROPERTY, json.dumps(
            {"claim": f"{self.name} ({self.path.name})", "why": f"invalid claim file: {str(self.error).splitlines()[0]}"})))
        raise self.error

    def repr_failure(self, excinfo, style=None):
        return f"invalid claim file: {excinfo.value}"

    def reportinfo(self):
        return self.path, (getattr(self.error, "line", None) or 1) - 1, f"claim file {self.path.name}"


def draw_figures_ahead(config: pytest.Config, state, result: ClaimResult) -> None:
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
            draw_figures_ahead(self.config, state, ClaimResult.from_dict(json.loads(text)))
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
