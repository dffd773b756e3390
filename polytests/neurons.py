"""Neuron references in Neuroscope's naming: ``L2N18`` is layer 2, neuron 18."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NEURON_RE = re.compile(r"^L(\d+)N(\d+)$")


@dataclass(frozen=True, order=True)
class NeuronRef:
    layer: int
    index: int

    @classmethod
    def parse(cls, text: str) -> "NeuronRef":
        """Parse ``"L2N18"``; raise ``ValueError`` saying the expected form otherwise."""
        match = _NEURON_RE.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"neuron {text!r} is not of the form 'L<layer>N<index>' (e.g. 'L2N18')"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def check_against(self, n_layers: int, d_mlp: int) -> None:
        """Raise ``ValueError`` if this neuron does not exist in a model of that shape."""
        if self.layer >= n_layers:
            raise ValueError(
                f"layer {self.layer} out of range: the model has {n_layers} layers "
                f"(0..{n_layers - 1})"
            )
        if self.index >= d_mlp:
            raise ValueError(
                f"neuron {self.index} out of range: layer {self.layer} has {d_mlp} neurons "
                f"(0..{d_mlp - 1})"
            )

    def __str__(self) -> str:
        return f"L{self.layer}N{self.index}"
