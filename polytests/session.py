"""The session of a pytest run: its settings, the family of claims, which were left out and why,
and their results (the family and isolation logic the plugin's hooks call)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from polytests.claims.model import Claim
from polytests.errors import (
    ClaimCrashed,
    ClaimError,
    ModelWeightsAbsent,
    PolytestsError,
)
from polytests.settings import Settings


@dataclass
class PolytestsSession:
    """Session state: settings, the claim runner, the family and its results."""

    settings: Settings
    family: dict[str, Claim] = field(default_factory=dict)
    invalid: dict[str, ClaimError] = field(default_factory=dict)
    duplicates: dict[tuple, ClaimError] = field(default_factory=dict)
    _places_of: dict[str, dict[tuple, Claim]] = field(default_factory=dict)
    _duplicated: set[str] = field(default_factory=set)
    # Claims whose model is not on this machine: skipped with the reason, not members of the family.
    skipped: dict[str, str] = field(default_factory=dict)
    # Ids of the claims this run selected (a path or -k); None: every claim of the family.
    selected: set[str] | None = None
    _runner: object = None
    _results: dict | None = None
    _checked: bool = False

    @property
    def runner(self):
        if self._runner is None:
            from polytests.verdicts.runner import ClaimRunner

            self._runner = ClaimRunner(self.settings)
        return self._runner

    def add(self, claim: Claim) -> None:
        """Add a collected claim to the family. Two different claims with one id are BOTH refused:
        judging either would record under that id whichever file happened to be collected first,
        and the ledger would then compare two different claims."""
        places = self._places_of.setdefault(claim.id, {})
        places.setdefault(claim_place(claim), claim)
        existing = self.family.setdefault(claim.id, claim)
        if existing == claim and claim.id not in self._duplicated:
            return
        self._duplicated.add(claim.id)
        self.family.pop(claim.id, None)
        for place, c in places.items():
            others = [f"{o.source}:{o.line}" if o.source else "another claim"
                      for q, o in places.items() if q != place]
            self.duplicates[place] = ClaimError(
                f"duplicate claim id {c.id!r}, also used at {', '.join(others)}; neither claim is judged",
                path=c.source, line=c.line, field="id", fix="give every claim of the hypothesis folders its own id")

    def check_run_model(self, origin: str) -> None:
        """Load the run's model if a claim of the family uses it; one error for the whole session
        if it cannot be loaded (``origin`` says where the spec came from)."""
        if not any(c.model is None for c in self.family.values()):
            return
        try:
            self.runner.model(self.settings.model)
        except PolytestsError as exc:
            raise pytest.UsageError(
                f"polytests: the run's model ({origin}) cannot be loaded, so no claim that uses it can be "
                f"judged: {exc}") from None

    def check_family(self) -> None:
        """Validate every claim of the family against its model and the corpora (once), before any
        activation is collected: a claim that cannot be judged (an unknown corpus or neuron, an
        ablation predicate on an encoder, a bad site) is refused here, a claim whose model is not on
        this machine is skipped, and neither is a member of the family that is judged.

        Whatever goes wrong with one claim (a ClaimError, or an exception nobody foresaw)
        becomes that claim's error; ``excluded`` records which claims were left out and why.
        """
        if self._checked:
            return
        self._checked = True
        for c in self.family.values():
            try:
                self.runner.check_claim(c)
                self._check_site(c)
            except ModelWeightsAbsent as exc:
                self.skipped[c.id] = f"model not on this machine: {exc}"
            except PolytestsError as exc:  # a ClaimError, or e.g. corpora that cannot be read
                self.invalid[c.id] = exc
            except Exception as exc:  # noqa: BLE001 - isolation: one claim's fault stays its own
                self.invalid[c.id] = ClaimCrashed(c.id, exc, path=c.source, line=c.line)

    def evaluate_all(self) -> None:
        """Judge the family's valid claims together (once), after :meth:`check_family`."""
        if self._results is not None:
            return
        self.check_family()
        valid = [c for c in self.family.values() if c.id not in self.invalid and c.id not in self.skipped]
        self._results = self._judge_isolated(valid)

    def _check_site(self, claim: Claim) -> None:
        """A claim's ``site`` must name a hook of its model (else collection cannot read it)."""
        if claim.site is None:
            return
        model = self.runner.model(claim.model or self.settings.model)
        hooks = getattr(model.bridge, "hook_dict", None)
        hook = claim.site.format(layer=claim.neuron.layer)
        if hooks is None or hook in hooks:
            return
        from polytests.text import near_miss

        guess = near_miss(hook, [h for h in hooks if h.startswith(f"blocks.{claim.neuron.layer}.")])
        example = (guess or model.activation_site(claim.neuron.layer)).replace(
            f"blocks.{claim.neuron.layer}.", "blocks.{layer}.", 1)
        raise claim.error(f"model {model.name} has no hook {hook!r}", "site", f'write site = "{example}"')

    def _judge_isolated(self, claims: list[Claim]) -> dict:
        """The family's results; if judging them together fails, find the claims that fail
        alone (by group of shared activations, then one by one) and judge the rest without them."""
        compute = None if self.selected is None else self.selected & {c.id for c in claims}
        try:
            return self.runner.evaluate_family(claims, compute)
        except Exception:  # noqa: BLE001
            pass
        groups: dict[tuple, list[Claim]] = {}
        for c in claims:
            groups.setdefault((c.model or self.settings.model, c.split, c.site), []).append(c)
        for members in groups.values():
            members = [c for c in members if compute is None or c.id in compute]
            if not members or self._fails(members) is None:
                continue
            for c in members:
                exc = self._fails([c])
                if exc is not None:
                    self.invalid[c.id] = exc if isinstance(exc, ClaimError) else ClaimCrashed(
                        c.id, exc, path=c.source, line=c.line)
        remaining = [c for c in claims if c.id not in self.invalid]
        try:
            return self.runner.evaluate_family(remaining, compute)
        except Exception as exc:  # noqa: BLE001 - e.g. only fails together: every claim reports it
            for c in remaining:
                self.invalid[c.id] = exc if isinstance(exc, PolytestsError) else ClaimCrashed(
                    c.id, exc, path=c.source, line=c.line)
            return {}

    def _fails(self, claims: list[Claim]) -> Exception | None:
        try:
            self.runner.evaluate_raw(claims)
        except Exception as exc:  # noqa: BLE001
            return exc
        return None

    @property
    def excluded(self) -> dict[str, str]:
        """Claims of the family that were not judged with it, and the first line of why."""
        out = {cid: str(exc).splitlines()[0] for cid, exc in self.invalid.items()}
        out.update({cid: why.splitlines()[0] for cid, why in self.skipped.items()})
        for where, exc in self.duplicates.items():
            out.setdefault(f"{where[2]} ({where[0]}:{where[1]})", str(exc))
        return dict(sorted(out.items()))

    def result_for(self, claim: Claim):
        if claim_place(claim) in self.duplicates:
            raise self.duplicates[claim_place(claim)]
        self.evaluate_all()
        if claim.id in self.skipped:
            pytest.skip(self.skipped[claim.id])
        if claim.id in self.invalid:
            raise self.invalid[claim.id]
        if claim.id not in self._results and self.family.get(claim.id) == claim:
            # A member of the family this selection did not compute (e.g. checked from an ordinary
            # test): computed now, within the family (the others read from the cache or at p = 1).
            valid = [c for c in self.family.values() if c.id not in self.invalid and c.id not in self.skipped]
            self._results.update(self.runner.evaluate_family(valid, {claim.id}))
        if claim.id not in self._results:
            # A claim outside the collected family (e.g. built inside a test): judged alone.
            try:
                self.runner.check_claim(claim)
            except ModelWeightsAbsent as exc:
                pytest.skip(f"model not on this machine: {exc}")
            try:
                return self.runner.evaluate_family([claim])[claim.id]
            except PolytestsError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise ClaimCrashed(claim.id, exc, path=claim.source, line=claim.line) from exc
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


def claim_place(claim: Claim) -> tuple:
    """A claim's place: two claims with one id are told apart by where they were written."""
    return (claim.source, claim.line, claim.id)


SESSION_KEY = pytest.StashKey[PolytestsSession]()
RESULT_PROPERTY = "polytests_result"  # the user property of a ClaimItem's report that carries its result
NOT_JUDGED_PROPERTY = "polytests_not_judged"  # a broken claim file's report: {claim, why} for the reports
