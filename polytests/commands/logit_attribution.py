"""Direct logit attribution of one neuron: the tokens its output direction pushes up and down.

The neuron writes ``activation x W_out[n]`` into the residual stream; read straight through the
unembedding, one unit of it changes the logits by ``W_out[n] @ W_U`` (a vector over the
vocabulary). The tokens with the largest entries are the ones the neuron *promotes*, the most
negative the ones it *suppresses* (Neuroscope's "output weights" view). What this ignores is said
beside the numbers (:data:`IGNORED`): the final LayerNorm (its per-token division and its weight
and bias are not folded into ``W_U``), every later layer, and the unembedding bias; so this is the
direct path only. For SoLU-LN models the unit is one unit *after* the MLP's own LayerNorm
(``hook_post``), not of the activation site polytests reads.

The weights are read from the TransformerBridge polytests booted (``blocks[L].mlp.W_out`` and
``W_U``, both in TransformerLens orientation). Where the model has no such weights, or its output
head is not a plain unembedding (an encoder's masked-LM head transforms the residual first), the
result says why instead of a number. Pure reads: nothing here feeds a verdict.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from polytests.neurons import NeuronRef

__all__ = ["IGNORED", "LogitAttribution", "logit_attribution", "neuron_logit_effects"]

IGNORED = ("direct path only: W_out[n] @ W_U, the final LayerNorm ignored (its scale, weight and bias are "
           "not folded in), later layers and the unembedding bias ignored")
SOLU_LN_UNIT = ("; one unit is of the neuron after the MLP's LayerNorm (hook_post), not of the activation "
                "shown above (before that LayerNorm)")


@dataclass(frozen=True)
class LogitAttribution:
    """Top promoted and suppressed tokens of one neuron, or why there are none (``unavailable``)."""

    neuron: NeuronRef
    promoted: tuple[tuple[int, str, float], ...] = ()  # (token id, token, logit change per unit), largest first
    suppressed: tuple[tuple[int, str, float], ...] = ()  # most negative first
    note: str = IGNORED
    unavailable: str | None = None

    def __rich_console__(self, console, options):
        from rich.table import Table
        from rich.text import Text

        title = "direct logit attribution (tokens the output direction promotes / suppresses)"
        if self.unavailable:
            yield Text(f"{title}: not available: {self.unavailable}", style="bold")
            return
        table = Table(title=title, title_justify="left")
        for col in ("#", "promotes", "logit / unit", "suppresses", "logit / unit"):
            table.add_column(col, justify="left" if col in ("promotes", "suppresses") else "right")
        for i in range(max(len(self.promoted), len(self.suppressed))):
            up = self.promoted[i] if i < len(self.promoted) else None
            down = self.suppressed[i] if i < len(self.suppressed) else None
            table.add_row(str(i + 1), repr(up[1]) if up else "", f"{up[2]:+.4g}" if up else "",
                          repr(down[1]) if down else "", f"{down[2]:+.4g}" if down else "")
        yield table
        yield Text(self.note, style="dim")

    def to_html(self) -> str:
        e = lambda v: html.escape(str(v), quote=True)  # noqa: E731
        head = "<h4>direct logit attribution</h4>"
        if self.unavailable:
            return f"{head}<p class='meta'>not available: {e(self.unavailable)}</p>"
        rows = []
        for i in range(max(len(self.promoted), len(self.suppressed))):
            up = self.promoted[i] if i < len(self.promoted) else None
            down = self.suppressed[i] if i < len(self.suppressed) else None
            cells = [str(i + 1), f"<code>{e(repr(up[1]))}</code>" if up else "", f"{up[2]:+.4g}" if up else "",
                     f"<code>{e(repr(down[1]))}</code>" if down else "", f"{down[2]:+.4g}" if down else ""]
            rows.append("<tr>" + "".join(f"<td class='num'>{c}</td>" if j in (0, 2, 4) else f"<td>{c}</td>"
                                         for j, c in enumerate(cells)) + "</tr>")
        return (f"{head}<table><tr><th>#</th><th>promotes</th><th>logit / unit</th><th>suppresses</th>"
                f"<th>logit / unit</th></tr>{''.join(rows)}</table><p class='meta'>{e(self.note)}</p>")


def neuron_logit_effects(model, neuron: NeuronRef):
    """``W_out[neuron] @ W_U`` as a float64 torch vector over the vocabulary, read from the model's
    bridge. Raises ValueError saying why when the architecture does not allow it."""
    import torch

    if not model.is_causal_lm:
        raise ValueError(f"{model.name} has no causal language-model head: its output head is not a plain "
                         "unembedding of the residual stream")
    try:
        w_out = model.bridge.blocks[neuron.layer].mlp.W_out  # [d_mlp, d_model]
        w_u = model.bridge.W_U  # [d_model, d_vocab]
    except (AttributeError, RuntimeError, AssertionError, NotImplementedError, IndexError, TypeError) as exc:
        raise ValueError(f"{model.name} exposes no readable MLP output weights and unembedding "
                         f"through its TransformerBridge ({exc.__class__.__name__}: {exc})") from None
    if w_out.ndim != 2 or w_u.ndim != 2 or w_out.shape[1] != w_u.shape[0] or w_out.shape[0] <= neuron.index:
        raise ValueError(f"{model.name}: W_out {tuple(w_out.shape)} and W_U {tuple(w_u.shape)} do not compose "
                         f"for neuron {neuron}")
    with torch.no_grad():
        return w_out[neuron.index].detach().to("cpu", torch.float64) @ w_u.detach().to("cpu", torch.float64)


def _token(vocab, i: int) -> str:
    return vocab[i] if i < len(vocab) else f"<id {i}>"


def logit_attribution(model, neuron: NeuronRef, vocab, k: int = 10) -> LogitAttribution:
    """The ``k`` tokens whose logits one unit of ``neuron`` raises most and lowers most (direct path)."""
    import torch

    try:
        effects = neuron_logit_effects(model, neuron)
    except ValueError as exc:
        return LogitAttribution(neuron, unavailable=str(exc))
    note = IGNORED + (SOLU_LN_UNIT if model.is_solu_ln else "")
    k = min(k, effects.numel())
    up = torch.topk(effects, k, largest=True)
    down = torch.topk(effects, k, largest=False)
    return LogitAttribution(
        neuron,
        tuple((int(i), _token(vocab, int(i)), float(v)) for v, i in zip(up.values, up.indices, strict=True)),
        tuple((int(i), _token(vocab, int(i)), float(v)) for v, i in zip(down.values, down.indices, strict=True)),
        note)
