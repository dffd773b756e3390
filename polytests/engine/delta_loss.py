"""Causal checks: ablate neurons at ``blocks.{L}.mlp.hook_post`` and measure next-token loss.

The cheap path: one clean forward pass per batch records the residual stream
leaving block L and the post-LayerNorm activations. Ablating neuron n with
value v changes that residual by ``(v - post_n) * W_out[n]`` (the MLP output is
linear in hook_post), so only blocks L+1.. and the unembedding run again, for
many neurons at once stacked along the batch axis. The result is exactly what a
full forward pass with a hook replacing ``post_n`` by ``v`` computes
(:func:`naive_delta_loss` is that reference, used by the tests and the benchmark).
Re-running blocks from a residual is exact for TransformerLens-native blocks; a
Hugging Face block (rotary position embeddings, attention masks) needs what only
the full forward gives it, so those models run the full forward with the neurons
replaced at ``hook_post``, many neurons at once along the batch axis. The last
layer of a LayerNorm model takes the closed form below either way. Weights are
read through the bridge (``mlp.W_out``, ``unembed.W_U``), whatever the layout.

Kinds of ablation: ``zero`` (v = 0), ``mean`` (v = the neuron's mean over the
baseline documents of the explore split) and ``resample`` (v = the neuron's activation at the same
position of a random other document of the split, cycling if shorter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polytests._lazy import lazy
from polytests.engine.models.fast import fast_forward
from polytests.engine.tokenization import (
    TokenizedDocuments,
    batch_windows,
    make_windows,
    window_batch,
)

torch = lazy("torch")

_LSE_BLOCK = 256  # tokens per block of the last-layer shortcut's logsumexp
RERUN_TOKENS = 2048  # tokens (neurons x positions) per rerun of the blocks after the ablated layer


def _token_loss(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Loss of predicting rows[:, 1:] from logits[:, :-1]: [batch, width - 1]."""
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return -logp.gather(-1, rows[:, 1:, None])[..., 0]


def _device(bridge) -> torch.device:
    return next(bridge.parameters()).device


def _block_out(out):
    return out[0] if isinstance(out, tuple) else out


def resample_donors(n_docs: int, seed: int) -> np.ndarray:
    """For every document, a different random document whose activations it receives."""
    rng = np.random.default_rng(seed)
    shift = rng.integers(1, n_docs, size=n_docs) if n_docs > 1 else np.zeros(1, dtype=int)
    return (np.arange(n_docs) + shift) % max(n_docs, 1)


def received_activations(donor_acts: dict, tokens: TokenizedDocuments, donors: np.ndarray,
                         docs: np.ndarray | None = None) -> dict:
    """For resample ablation: per neuron, the activation sequence each document receives
    (its donor's), for the documents ``docs`` of ``tokens`` (default all), in that order."""
    docs = np.arange(tokens.n_docs) if docs is None else np.asarray(docs)
    out = {}
    for neuron, acts in donor_acts.items():
        out[neuron] = [acts[tokens.offsets[donors[d]] : tokens.offsets[donors[d] + 1]] for d in docs]
    return out


def ablation_values(kind: str, post: torch.Tensor, neurons: list[int], batch,
                    means: np.ndarray | None, received: dict | None) -> torch.Tensor:
    """The replacement value of each neuron at each position: [len(neurons), batch, width].

    ``received`` (resample only) comes from :func:`received_activations`; a window takes its
    donor's activations at the same positions, cycling through them if the donor is shorter.
    """
    n, b, w = len(neurons), post.shape[0], post.shape[1]
    like = dict(dtype=post.dtype, device=post.device)
    if kind == "zero":
        return torch.zeros(n, b, w, **like)
    if kind == "mean":
        m = torch.as_tensor(means[neurons], **like)
        return m[:, None, None].expand(n, b, w).clone()
    if kind == "resample":
        out = torch.zeros(n, b, w, **like)
        for r, win in enumerate(batch):
            for j, neuron in enumerate(neurons):
                seq = received[neuron][win.doc]
                if len(seq) == 0:
                    continue
                pos = np.arange(win.start, win.start + win.length) % len(seq)
                out[j, r, 1 : 1 + win.length] = torch.from_numpy(seq[pos]).to(post.device)
        return out
    raise ValueError(f"unknown ablation kind {kind!r}; known: zero, mean, resample")


def _clean_pass(model, fast, rows, layer: int):
    """(clean token losses, residual stream after block ``layer``, its hook_post values)."""
    if fast is not None:
        h = fast.run(fast.embed(rows), 0, layer - 1) if layer > 0 else fast.embed(rows)
        resid, post = fast.block(layer, h, post=True)
        return fast.token_loss(fast.run(resid, layer + 1), rows), resid, post
    captured = {}

    def keeper(name):
        def keep(tensor, hook=None):
            captured[name] = tensor
            return tensor
        return keep

    resid_name, post_name = f"blocks.{layer}.hook_out", f"blocks.{layer}.mlp.hook_post"
    logits = model.bridge.run_with_hooks(rows, fwd_hooks=[(resid_name, keeper(resid_name)),
                                                          (post_name, keeper(post_name))])
    return _token_loss(logits, rows), captured[resid_name], captured[post_name]


def batched_delta_loss(model, tokens: TokenizedDocuments, layer: int, neurons: list[int], kind: str, *,
                       means=None, received=None, chunk: int | None = None,
                       max_batch_tokens: int = 1024, clean_passes: CleanPasses | None = None) -> np.ndarray:
    """Per-document change in mean next-token loss from ablating each neuron: [neurons, docs].

    ``clean_passes``: where the clean forward pass of each batch is kept between calls on the
    same model, layer and tokens (a caller asking for null neurons chunk by chunk); see
    :class:`CleanPasses`. ``chunk``: neurons stacked per rerun (default: about ``RERUN_TOKENS``
    tokens per rerun of the later blocks, 16 copies per full forward of a Hugging Face model).

    Batches are small on purpose: with 4,096-token batches and 16 neurons stacked, every
    rerun's activations (64 MB per MLP layer) fell out of cache, and layer 0's ablations
    were slower than with about 2,048 tokens per rerun (bench_ablation times the result)."""
    bridge = model.bridge
    bos = model.bos_token_id
    n_layers = model.n_layers
    fast = fast_forward(model)
    W_out = bridge.blocks[layer].mlp.W_out.detach()  # [d_mlp, d_model], whatever the layout on disk
    final = _FinalLayerNorm.of(model) if layer == n_layers - 1 else None
    # Later blocks rerun on the residual stream: hook-free where the fast forward covers the model,
    # through the bridge's blocks for other native ones, by full hooked forwards otherwise.
    if fast is not None or _blocks_rerun_exactly(model):
        def rerun(*args):
            return _generic_losses(bridge, fast, *args)
    else:
        def rerun(*args):
            return _hooked_losses(bridge, *args)
        chunk = chunk or 16
    sums = np.zeros((len(neurons), tokens.n_docs))
    counts = np.zeros(tokens.n_docs)
    with torch.inference_mode():
        for b, batch in enumerate(batch_windows(make_windows(tokens, model.n_ctx), max_batch_tokens)):
            rows = window_batch(tokens, batch, bos).rows.to(W_out.device)
            kept = clean_passes.get(layer, b, rows) if clean_passes is not None else None
            if kept is None:
                clean, resid, post = _clean_pass(model, fast, rows, layer)
                if clean_passes is not None:
                    clean_passes.put(layer, b, rows, (clean, resid, post))
            else:
                clean, resid, post = kept
            valid = torch.zeros_like(clean, dtype=torch.bool)  # on the model's device
            doc_of_row = np.array([w.doc for w in batch])
            for r, w in enumerate(batch):
                valid[r, : w.length] = True
            np.add.at(counts, doc_of_row, [w.length for w in batch])

            def values_for(part, post=post, batch=batch):
                return ablation_values(kind, post, part, batch, means, received)

            if final is not None:
                ablated_losses = _final_layer_losses(final, resid, post, rows, neurons, values_for, W_out)
            else:
                part_size = chunk or max(1, RERUN_TOKENS // rows.numel())
                ablated_losses = rerun(layer, n_layers, resid, post, rows, neurons, part_size, values_for, W_out)
            for j, ablated in enumerate(ablated_losses):
                per_row = ((ablated - clean) * valid).sum(-1).double().cpu().numpy()
                np.add.at(sums[j], doc_of_row, per_row)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[None, :]


class CleanPasses:
    """The clean forward pass of each batch (its token losses, residual stream and hook_post
    values after the ablated layer), kept for the next call of :func:`batched_delta_loss` on
    the same model, up to ``max_bytes`` (beyond it, batches are recomputed: the numbers are the
    same either way). An entry is used only for the same layer, batch number and token rows,
    so a caller that changes documents or batching recomputes instead of reading wrong values."""

    def __init__(self, max_bytes: int = 512 * 2**20) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._passes: dict[tuple[int, int], tuple] = {}

    def get(self, layer: int, batch: int, rows: torch.Tensor) -> tuple | None:
        kept = self._passes.get((layer, batch))
        if kept is None or kept[0].shape != rows.shape or not torch.equal(kept[0], rows):
            return None
        return kept[1]

    def put(self, layer: int, batch: int, rows: torch.Tensor, tensors: tuple) -> None:
        size = sum(t.element_size() * t.nelement() for t in (rows, *tensors))
        if (layer, batch) not in self._passes and self.bytes + size <= self.max_bytes:
            self._passes[(layer, batch)] = (rows, tensors)
            self.bytes += size


def _generic_losses(bridge, fast, layer, n_layers, resid, post, rows, neurons, chunk, values_for, W_out):
    """Ablated token losses: rerun blocks layer+1.. and the unembedding, ``chunk`` neurons at a time."""
    for start in range(0, len(neurons), chunk):
        part = neurons[start : start + chunk]
        idx = torch.as_tensor(part, device=post.device)
        delta = values_for(part) - post[..., idx].permute(2, 0, 1)  # [part, batch, width]
        # resid + delta * W_out[n] for every neuron n of the part, written once: [part * batch, width, d_model]
        x = torch.addcmul(resid[None], delta[..., None], W_out[idx][:, None, None, :]).reshape(-1, *resid.shape[1:])
        if fast is not None:
            ablated = fast.token_loss(fast.run(x, layer + 1), rows.repeat(len(part), 1))
        else:
            for i in range(layer + 1, n_layers):
                x = _block_out(bridge.blocks[i](x))
            ablated = _token_loss(bridge.unembed(bridge.ln_final(x)), rows.repeat(len(part), 1))
        yield from ablated.reshape(len(part), rows.shape[0], -1)


def _blocks_rerun_exactly(model) -> bool:
    """Whether ``bridge.blocks[i](x)`` on a residual is the block of a full forward (native blocks)."""
    return getattr(model, "form", "native") in ("native", "legacy")


def _hooked_losses(bridge, layer, n_layers, resid, post, rows, neurons, chunk, values_for, W_out):
    """Ablated token losses from full forwards: ``chunk`` copies of the batch, copy j with neuron
    ``part[j]`` replaced at hook_post. Exact for any architecture the bridge runs."""
    post_name = f"blocks.{layer}.mlp.hook_post"
    for start in range(0, len(neurons), chunk):
        part = neurons[start : start + chunk]
        values = values_for(part)  # [part, batch, width]

        def replace(tensor, hook=None, part=part, values=values):
            tensor = tensor.clone()
            view = tensor.view(len(part), rows.shape[0], *tensor.shape[1:])
            for j, n in enumerate(part):
                view[j, ..., n] = values[j].to(tensor.dtype)
            return tensor

        logits = bridge.run_with_hooks(rows.repeat(len(part), 1), fwd_hooks=[(post_name, replace)])
        yield from _token_loss(logits, rows.repeat(len(part), 1)).reshape(len(part), rows.shape[0], -1)


@dataclass
class _FinalLayerNorm:
    """The final LayerNorm and unembedding, for the exact last-layer shortcut.

    With ``x' = x + c * u`` (u = W_out[n], c per token) entering a LayerNorm with
    weight w, bias b and unembedding (W_U, b_U), and s, s' the standard
    deviations of x and x' (eps included)::

        logits' = (s / s') * (logits - beta) + (c / s') * r + beta
        beta = b @ W_U + b_U,   r = ((u - mean(u)) * w) @ W_U

    so each ablated neuron costs O(vocab) per token instead of O(d_model * vocab).
    """

    w: torch.Tensor
    b: torch.Tensor
    W_U: torch.Tensor  # [d_model, vocab]
    beta: torch.Tensor  # [vocab]
    eps: float

    @classmethod
    def of(cls, model) -> _FinalLayerNorm | None:
        cfg = model.cfg
        if str(cfg.normalization_type).upper() != "LN" or getattr(cfg, "final_rms", False):
            return None
        bridge = model.bridge
        ln, unembed = bridge.ln_final, bridge.unembed
        w, b = getattr(ln, "weight", None), getattr(ln, "bias", None)
        if w is None or b is None:
            return None
        W_U = unembed.W_U.detach()  # [d_model, vocab]
        b_U = getattr(unembed, "b_U", None)
        beta = b.detach() @ W_U + (b_U.detach() if b_U is not None else 0.0)
        return cls(w.detach(), b.detach(), W_U, beta, float(cfg.eps))


def _final_layer_losses(final: _FinalLayerNorm, resid, post, rows, neurons, values_for, W_out):
    # Only positions that predict a token matter: drop the last position up front.
    resid, post = resid[:, :-1], post[:, :-1]
    n_rows, width = resid.shape[:2]
    xc = resid - resid.mean(-1, keepdim=True)
    var = xc.pow(2).mean(-1)
    s = torch.sqrt(var + final.eps)
    centred = ((xc / s[..., None]) * final.w @ final.W_U).reshape(n_rows * width, -1)  # logits - beta
    target = rows[:, 1:].reshape(-1, 1)
    centred_target = centred.gather(-1, target)[:, 0]
    beta_target = final.beta[target[:, 0]]
    for start in range(0, len(neurons), 16):
        part = neurons[start : start + 16]
        idx = torch.as_tensor(part, device=post.device)
        uc = W_out[idx] - W_out[idx].mean(-1, keepdim=True)  # [part, d_model]
        r = (uc * final.w) @ final.W_U  # [part, vocab]
        c = (values_for(part)[..., :-1] - post[..., idx].permute(2, 0, 1)).reshape(len(part), -1)
        cross = torch.einsum("btd,pd->pbt", xc, uc).reshape(len(part), -1) / xc.shape[-1]
        s_new = torch.sqrt(var.reshape(1, -1) + 2 * c * cross + c * c * uc.pow(2).mean(-1)[:, None] + final.eps)
        a, b = s.reshape(1, -1) / s_new, c / s_new  # [part, tokens]
        lse = torch.empty_like(a)
        # Token blocks of the centred logits small enough to stay in cache while every
        # neuron of the part reuses them (the [tokens, vocab] passes were memory-bound).
        # Each block's exponentials are taken against the clean logits' maximum, which an
        # ablation moves little; a block where that over- or underflows is redone with logsumexp.
        with _one_thread():  # small ops: thread hand-offs cost more than they save on a busy machine
            for t0 in range(0, centred.shape[0], _LSE_BLOCK):
                block = centred[t0 : t0 + _LSE_BLOCK]
                top = (block + final.beta[None]).amax(-1)
                shifted_beta = final.beta[None] - top[:, None]
                for j in range(len(part)):
                    a_j, b_j = a[j, t0 : t0 + _LSE_BLOCK, None], b[j, t0 : t0 + _LSE_BLOCK, None]
                    z = torch.addcmul(shifted_beta, a_j, block)
                    z.addcmul_(b_j, r[j][None])
                    total = z.exp_().sum(-1)
                    if not bool(torch.isfinite(total.log()).all()):
                        z = torch.addcmul(final.beta[None], a_j, block).addcmul_(b_j, r[j][None])
                        lse[j, t0 : t0 + _LSE_BLOCK] = torch.logsumexp(z, dim=-1)
                    else:
                        lse[j, t0 : t0 + _LSE_BLOCK] = total.log_() + top
        for j in range(len(part)):
            z_target = a[j] * centred_target + b[j] * r[j][target[:, 0]] + beta_target
            yield (lse[j] - z_target).reshape(n_rows, width)


class _one_thread:
    """torch on one thread inside the block (restored after)."""

    def __enter__(self):
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.threads)


def naive_delta_loss(model, tokens: TokenizedDocuments, layer: int, neuron: int, kind: str, *,
                     means=None, received=None, max_batch_tokens: int = 4096) -> np.ndarray:
    """Reference: a full forward pass with a hook replacing the neuron (one neuron at a time)."""
    bridge = model.bridge
    sums = np.zeros(tokens.n_docs)
    counts = np.zeros(tokens.n_docs)
    post_name = f"blocks.{layer}.mlp.hook_post"
    with torch.inference_mode():
        for batch in batch_windows(make_windows(tokens, model.n_ctx), max_batch_tokens):
            rows = window_batch(tokens, batch, model.bos_token_id).rows.to(_device(bridge))
            clean = _token_loss(bridge(rows), rows)

            def replace(tensor, hook=None, batch=batch):
                values = ablation_values(kind, tensor, [neuron], batch, means, received)[0]
                tensor = tensor.clone()
                tensor[..., neuron] = values
                return tensor

            ablated = _token_loss(bridge.run_with_hooks(rows, fwd_hooks=[(post_name, replace)]), rows)
            for r, w in enumerate(batch):
                sums[w.doc] += float((ablated[r, : w.length] - clean[r, : w.length]).double().sum())
                counts[w.doc] += w.length
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts
