"""``polytests show L2N18``: one neuron's top contexts, per-corpus means, top tokens and claims."""

from __future__ import annotations

import re
from pathlib import Path

from polytests.claims.parse import read_claim_file
from polytests.neurons import NeuronRef

__all__ = ["claims_naming", "parse_neuron_for_model"]


def parse_neuron_for_model(text: str, model) -> NeuronRef:
    """``text`` as a neuron of ``model``; ValueError naming the neuron and the model's shape otherwise."""
    shape = (f"model {model.name!r} has {model.n_layers} layers x {model.d_mlp} neurons "
             f"(L0N0 .. L{model.n_layers - 1}N{model.d_mlp - 1})")
    try:
        neuron = NeuronRef.parse(text)
        neuron.check_against(model.n_layers, model.d_mlp)
    except ValueError as exc:
        raise ValueError(f"unknown neuron {text!r}: {exc}; the {shape}") from None
    return neuron


def claims_naming(neuron: NeuronRef, paths) -> list[str]:
    """One line per claim about ``neuron`` in the claim files under ``paths`` (TOML parsed; a file
    that does not parse is named with its first problem; Python files are searched for the name)."""
    lines = []
    name = str(neuron)
    pattern = re.compile(rf"[\"']{name}[\"']")
    for root in paths:
        root = Path(root)
        if not root.exists():
            continue
        files = sorted(root.rglob("*.toml")) + sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for path in files:
            if path.suffix == ".toml":
                contents = read_claim_file(path)
                for claim in contents.claims:
                    if claim.neuron == neuron:
                        expect = "" if claim.expect == "confirmed" else f" (expect {claim.expect})"
                        lines.append(f"{path}:{claim.line}: {claim.id}{expect}: {claim.statement}")
                if contents.problems and name in path.read_text(encoding="utf-8", errors="replace"):
                    lines.append(f"{path}: mentions {name} but does not parse: {contents.problems[0].error}")
            else:
                text = path.read_text(encoding="utf-8", errors="replace")
                for i, line in enumerate(text.splitlines(), 1):
                    if pattern.search(line):
                        lines.append(f"{path}:{i}: {line.strip()}")
    return lines
