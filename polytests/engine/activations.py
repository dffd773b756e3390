"""The activation engine: one pass of a model over a corpus split.

Documents are cut into windows that never cross a document boundary, each
wrapped in the special tokens the model expects (its ``input_format``: a BOS
for decoders, ``[CLS]``/``[SEP]`` for encoders), windows of similar length are batched together, and forward hooks at
the activation site of each requested layer feed two tiers of results:

1. per-document sufficient statistics for every neuron of the layer
   (:mod:`polytests.engine.aggregates`), optionally also under a token mask;
2. per-token activations of the specific neurons that claims name, plus the
   running top-k activating tokens of every neuron.

The pass runs without gradients and is abandoned as soon as the deepest
requested site has been read, so later blocks and the unembedding never run.
Memory is bounded by the batch size and the tier-1 arrays; it does not grow
with corpus length beyond them (tier-2 arrays are one float per token per
named neuron).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from polytests._lazy import lazy
from polytests.engine.aggregates import DocStats, DocStatsAccumulator, TopK
from polytests.engine.tokenization import InputFormat, TokenizedDocuments, batch_windows
from polytests.neurons import NeuronRef

torch = lazy("torch")

DEFAULT_THRESHOLDS = (0.0, 0.1, 0.5)


@dataclass(frozen=True)
class CollectionRequest:
    """What to collect: layers for tier 1, neurons for tier 2, and options."""

    layers: tuple[int, ...]
    neurons: tuple[NeuronRef, ...] = ()
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    top_k: int = 20
    exclude_token_ids: tuple[int, ...] = ()  # tier 1 also computed without these tokens
    site: str | None = None  # hook-name template with {layer}; None = the model's default

    def all_layers(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.layers) | {n.layer for n in self.neurons}))


@dataclass
class Collection:
    """Raw results of one pass (before they are wrapped in an ActivationStore)."""

    site: str
    stats: dict[int, DocStats]
    masked_stats: dict[int, DocStats]
    topk_values: dict[int, np.ndarray]
    topk_index: dict[int, np.ndarray]
    token_acts: dict[NeuronRef, np.ndarray]
    tokens_per_second: float = 0.0
    meta: dict = field(default_factory=dict)


def resolve_site(model, request: CollectionRequest) -> str:
    """The hook-name template for this request, e.g. ``blocks.{layer}.mlp.ln.hook_in``."""
    if request.site is not None:
        if "{layer}" not in request.site:
            raise ValueError(
                f"site {request.site!r} must contain '{{layer}}', e.g. 'blocks.{{layer}}.mlp.hook_post'"
            )
        return request.site
    return model.activation_site(0).replace("blocks.0.", "blocks.{layer}.", 1)


def _device_of(bridge) -> torch.device:
    try:
        return next(bridge.parameters()).device
    except StopIteration:  # pragma: no cover - a model without parameters
        return torch.device("cpu")


def collect(
    model,
    tokens: TokenizedDocuments,
    request: CollectionRequest,
    *,
    max_batch_tokens: int = 8192,
    progress: bool = False,
    bos_token_id: int | None = None,
) -> Collection:
    """Run ``model`` (a :class:`~polytests.engine.models.LoadedModel`) over ``tokens``."""
    bridge = model.bridge
    site = resolve_site(model, request)
    layers = request.all_layers()
    for neuron in request.neurons:
        neuron.check_against(model.n_layers, model.d_mlp)
    for layer in layers:
        if not 0 <= layer < model.n_layers:
            raise ValueError(f"layer {layer} out of range: the model has {model.n_layers} layers")
    device = _device_of(bridge)
    fmt = input_format_of(model, bos_token_id)
    d_mlp = model.d_mlp
    n_docs = tokens.n_docs

    full = {L: DocStatsAccumulator(n_docs, d_mlp, request.thresholds, device) for L in layers}
    masked = (
        {L: DocStatsAccumulator(n_docs, d_mlp, request.thresholds, device) for L in layers}
        if request.exclude_token_ids else {}
    )
    top = {L: TopK(request.top_k, d_mlp, device) for L in layers}
    token_acts = {n: np.zeros(tokens.n_tokens, dtype=np.float32) for n in request.neurons}
    excluded = torch.tensor(sorted(request.exclude_token_ids), dtype=torch.long, device=device)

    # Each hook aggregates its layer as soon as the activation exists and keeps no
    # reference to it, so at most one layer's activations are alive at a time.
    current: dict = {}
    done: set[int] = set()
    deepest = max(layers)
    hooks = []
    for layer in layers:
        def hook(tensor, hook=None, _layer=layer):
            _aggregate(_layer, tensor.reshape(-1, d_mlp)[current["valid"]])
            done.add(_layer)
            if _layer == deepest and len(done) == len(layers):
                raise _StopForward  # nothing later in the model is needed
            return tensor
        hooks.append((site.format(layer=layer), hook))

    def _aggregate(layer: int, acts: torch.Tensor) -> None:
        full[layer].add(acts, current["doc"])
        if masked:
            masked[layer].add(acts[current["keep"]], current["doc"][current["keep"]])
        top[layer].add(acts, current["flat"])
        for neuron, out in token_acts.items():
            if neuron.layer == layer:
                out[current["flat_np"]] = acts[:, neuron.index].float().cpu().numpy()

    # The hook-free forward where it covers the site (same numbers, checked at load), else the bridge.
    from polytests.engine.models.fast import fast_forward

    fast = fast_forward(model) if hasattr(model, "cfg") else None
    fast = fast if fast is not None and fast.covers(site) else None
    batches = batch_windows(fmt.windows(tokens), max_batch_tokens)
    started = time.perf_counter()
    progress_bar = _progress(len(batches)) if progress else None
    with torch.inference_mode():
        for batch in batches:
            wb = fmt.batch(tokens, batch)
            valid = wb.doc.reshape(-1) >= 0
            current["valid"] = valid.to(device)
            current["doc"] = wb.doc.reshape(-1)[valid].to(device)
            current["flat"] = wb.flat.reshape(-1)[valid].to(device)
            current["flat_np"] = wb.flat.reshape(-1)[valid].numpy()
            if masked:
                current["keep"] = ~torch.isin(wb.rows.reshape(-1)[valid].to(device), excluded)
            done.clear()
            mask = None if wb.attention_mask is None else wb.attention_mask.to(device)
            if fast is not None and mask is None:
                _run_fast(fast, wb.rows.to(device), dict(hooks), deepest)
            else:
                _run(bridge, wb.rows.to(device), hooks, mask)
            if progress_bar is not None:
                progress_bar.advance()
    if progress_bar is not None:
        progress_bar.close()
    elapsed = time.perf_counter() - started
    tops = {L: top[L].result() for L in layers}
    return Collection(
        site=site,
        stats={L: full[L].result() for L in layers},
        masked_stats={L: masked[L].result() for L in masked},
        topk_values={L: tops[L][0] for L in layers},
        topk_index={L: tops[L][1] for L in layers},
        token_acts=token_acts,
        tokens_per_second=tokens.n_tokens / elapsed if elapsed > 0 else float("inf"),
    )


class _StopForward(Exception):
    """Raised by the deepest hook: the rest of the forward pass (unembedding included) is skipped."""


def _run(bridge, rows: torch.Tensor, hooks, attention_mask: torch.Tensor | None = None) -> None:
    """Forward with hooks, abandoned as soon as the deepest requested site has been read."""
    kwargs = {} if attention_mask is None else {"attention_mask": attention_mask}
    try:
        bridge.run_with_hooks(rows, fwd_hooks=hooks, return_type=None, **kwargs)
    except _StopForward:
        pass


def _run_fast(fast, rows: torch.Tensor, hooks: dict, deepest: int) -> None:
    """The hook-free forward up to block ``deepest``, handing each requested site to its hook."""
    h = fast.embed(rows)
    try:
        for i in range(deepest + 1):
            captured: dict = {}
            h = fast.block(i, h, capture=captured)
            for name, value in captured.items():
                if name in hooks:
                    hooks[name](value)
    except _StopForward:
        pass


def input_format_of(model, bos_token_id: int | None = None) -> InputFormat:
    """The model's input format; ``bos_token_id`` replaces its prefix (for a caller that knows better)."""
    fmt = getattr(model, "input_format", None)
    if fmt is None:  # a duck-typed model (tests, benchmarks): one BOS before each window
        bos = bos_token_id if bos_token_id is not None else model.bos_token_id
        if bos is None:
            raise ValueError("the tokenizer has no BOS token; pass bos_token_id")
        return InputFormat((int(bos),), int(model.n_ctx))
    if bos_token_id is not None:
        return replace(fmt, prefix=(int(bos_token_id),))
    return fmt


class _progress:
    """A rich progress bar on stderr, shown only once collection has taken over a second."""

    def __init__(self, total: int, delay: float = 1.0) -> None:
        self.total = total
        self.delay = delay
        self.done = 0
        self.started = time.perf_counter()
        self._progress = None

    def advance(self) -> None:
        self.done += 1
        if self._progress is None and time.perf_counter() - self.started > self.delay:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
            self._task = self._progress.add_task("polytests: collecting activations", total=self.total,
                                                 completed=self.done)
            self._progress.start()
        elif self._progress is not None:
            self._progress.advance(self._task)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
