"""Candidate claim files from the hunt: one TOML file per candidate, ready for hypotheses/.

The explore-split evidence goes in comments; the claim states what was found so that the
confirm split can judge it. A finding becomes a claim expected to be confirmed; an artifact
becomes the claim the original analysis would have made, with ``expect = "refuted"`` and the
reason, so the suite keeps showing that it is an artifact.
"""

from __future__ import annotations

import json
from pathlib import Path

from polytests.commands.hunt.controls import Candidate, Control

__all__ = ["candidate_id", "candidate_toml", "write_candidates"]


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string


def _list(items) -> str:
    return "[" + ", ".join(_s(i) for i in items) + "]"


def candidate_id(c: Candidate) -> str:
    tail = {"one-token artifact": "-one-token-artifact", "shared-token artifact": "-shared-token-artifact"}
    return f"{str(c.neuron).lower()}-{'-'.join(c.corpora)}{tail.get(c.verdict, '')}".replace("_", "-")


def _evidence(c: Candidate, split: str) -> list[str]:
    def line(ctl: Control) -> str:
        if ctl.status == "n/a":
            return f"#   {ctl.name}: n/a ({ctl.detail})"
        return f"#   {ctl.name}: {ctl.status} (p above bound {ctl.p_above:.2g}): {ctl.detail}"
    return [f"# Found by `polytests hunt` on the {split} split: {c.neuron} responds to exactly {len(c.corpora)} "
            f"of the chosen corpora ({', '.join(c.corpora)}; others: {', '.join(c.baseline)}),",
            f"# smallest gap {c.effect:.3g} x scale {c.scale:.4g}, BH q = {c.qvalue:.2g}. Verdict there: "
            f"{c.verdict} -- {c.reason}.", "# Controls on the explore split:",
            *(line(x).replace("\n", " ") for x in (c.response, c.shared, c.one_token, c.token_matched)),
            "# Judge it on the confirm split (move this file into hypotheses/); do not edit it after looking."]


def candidate_toml(c: Candidate, *, min_effect: float, explicit_baseline: bool, split: str = "explore") -> str:
    """The claim file text for one candidate (see the module docstring)."""
    names = " and ".join(c.corpora)
    common = ""
    if explicit_baseline:
        common += f"baseline = {_list(c.baseline)}\n"
    common += f'versus = "pooled"\nmin_effect = {min_effect!r}\n'
    if c.verdict == "one-token artifact":
        statement = (f"{c.neuron} responds to {names} beyond its most active token (one-token artifact on "
                     f"explore: {c.artifact_token!r} carries {c.artifact_share:.0%} of the activation)")
    elif c.verdict == "shared-token artifact":
        statement = f"{c.neuron} responds to {names} beyond the tokens they share (shared-token artifact on explore)"
    elif len(c.corpora) == 1:
        statement = f"{c.neuron} fires on {names}, and not through one token"
    else:
        statement = f"{c.neuron} is polysemantic for {names}, beyond their shared tokens and any single token"
    out = _evidence(c, split) + ["", "[[claim]]", f"id = {_s(candidate_id(c))}", f"statement = {_s(statement)}",
                                 f"neuron = {_s(str(c.neuron))}"]
    if c.is_artifact:
        out.append('expect = "refuted"')
    if len(c.corpora) == 1:
        out += ["", "[[claim.predicate]]", 'kind = "fires_on"', f"corpus = {_s(c.corpora[0])}", common.rstrip()]
    else:
        out += ["", "[[claim.predicate]]", 'kind = "polysemantic"', f"corpora = {_list(c.corpora)}",
                "exclude_shared_tokens = true", common.rstrip()]
    for corpus in c.corpora:
        out += ["", "[[claim.predicate]]", 'kind = "not_explained_by_one_token"', f"corpus = {_s(corpus)}",
                common.rstrip()]
    for corpus, against in c.matched_pairs:
        out += ["", "[[claim.predicate]]", 'kind = "token_matched"', f"corpus = {_s(corpus)}",
                f"against = {_s(against)}", f"min_occurrences = {c.min_occurrences}", f"min_effect = {min_effect!r}"]
    return "\n".join(out) + "\n"


def write_candidates(directory: str | Path, candidates: list[Candidate], *, min_effect: float,
                     explicit_baseline: bool, split: str = "explore") -> list[Path]:
    """One ``<id>.toml`` per candidate in ``directory`` (created); the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for c in candidates:
        path = directory / f"{candidate_id(c)}.toml"
        path.write_text(candidate_toml(c, min_effect=min_effect, explicit_baseline=explicit_baseline, split=split),
                        encoding="utf-8")
        paths.append(path)
    return paths
