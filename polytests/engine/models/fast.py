"""A hook-free forward pass of TransformerLens-native models, for work done in bulk.

The bridge's forward runs every hook point and a Python LayerNorm with its own
hooks; that is what reading activations needs, and most of its cost on a small
model. Ablation reruns the blocks after the ablated layer for every null neuron,
so there the same function, written with fused kernels (``F.layer_norm``,
``F.scaled_dot_product_attention``, ``F.linear``), pays off: it reads the very
parameter tensors of the bridge, so it cannot drift from the loaded weights.

It covers what TransformerLens' native model computes for standard (learned)
positional embeddings, LayerNorm, full causal multi-head attention and the
activations below. :meth:`FastForward.of` returns None for anything else, and
also when a check on random tokens disagrees with the bridge: callers then use
the bridge, which is always correct, only slower.
"""

from __future__ import annotations

from dataclasses import dataclass

from polytests._lazy import lazy

torch = lazy("torch")
F = lazy("torch.nn.functional")

ACTIVATIONS = {
    "solu_ln": lambda x: x * torch.softmax(x, dim=-1),  # the LayerNorm after it is the block's mlp.ln
    "solu": lambda x: x * torch.softmax(x, dim=-1),
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": lambda x: F.relu(x),
}
CHECK_TOLERANCE = 1e-4  # relative to the logits' scale
LOSS_BLOCK = 256  # tokens per block of the loss's [tokens, vocab] logits


def _orig(module):
    return getattr(module, "_original_component", None) or module


def _ln(module):
    """(weight, bias) of a LayerNorm bridge, or None when it is not a plain LayerNorm."""
    m = _orig(module)
    weight, bias = getattr(m, "weight", None), getattr(m, "bias", None)
    if weight is None or bias is None or getattr(module, "uses_rms_norm", False):
        return None
    return weight.detach(), bias.detach()


def _linear(module):
    m = _orig(module)
    bias = getattr(m, "bias", None)
    return m.weight.detach(), None if bias is None else bias.detach()


@dataclass
class _Block:
    ln1: tuple
    q: tuple
    k: tuple
    v: tuple
    o: tuple
    ln2: tuple
    fc_in: tuple
    fc_out: tuple
    mlp_ln: tuple | None
    n_heads: int
    d_head: int
    scale: float


@dataclass
class FastForward:
    blocks: list[_Block]
    W_E: torch.Tensor
    W_pos: torch.Tensor
    ln_final: tuple
    unembed: tuple
    act: object
    eps: float

    @classmethod
    def of(cls, model) -> FastForward | None:
        """The fast forward of ``model``, or None where it does not provably match the bridge."""
        try:
            fast = cls._build(model)
        except (AttributeError, TypeError, KeyError, ValueError):
            return None
        return fast if fast is not None and fast._agrees_with(model) else None

    @classmethod
    def _build(cls, model) -> FastForward | None:
        cfg, bridge = model.cfg, model.bridge
        if (str(cfg.normalization_type).upper() != "LN" or getattr(cfg, "final_rms", False)
                or cfg.positional_embedding_type != "standard" or getattr(cfg, "attn_only", False)
                or getattr(cfg, "parallel_attn_mlp", False) or str(cfg.act_fn) not in ACTIVATIONS):
            return None
        blocks = []
        for bridge_block in bridge.blocks:
            native = _orig(bridge_block)
            attn = _orig(native.attn)
            if (getattr(attn, "rotary", None) is not None or getattr(attn, "kv_repeats", 1) != 1
                    or not getattr(attn, "causal", False) or getattr(attn, "attn_scores_soft_cap", -1.0) > 0):
                return None
            mlp = _orig(native.mlp)
            mlp_ln = _ln(mlp.ln) if getattr(mlp, "ln", None) is not None else None
            if (mlp_ln is None) != (str(cfg.act_fn) != "solu_ln"):
                return None
            parts = [_ln(native.ln1), _ln(native.ln2)]
            if any(p is None for p in parts):
                return None
            blocks.append(_Block(parts[0], _linear(attn.q), _linear(attn.k), _linear(attn.v), _linear(attn.o),
                                 parts[1], _linear(mlp.fc_in), _linear(mlp.fc_out), mlp_ln,
                                 int(attn.n_heads), int(attn.d_head), float(attn.scale)))
        ln_final = _ln(bridge.ln_final)
        if ln_final is None:
            return None
        return cls(blocks, _orig(bridge.embed).weight.detach(), _orig(bridge.pos_embed).weight.detach(), ln_final,
                   _linear(bridge.unembed), ACTIVATIONS[str(cfg.act_fn)], float(cfg.eps))

    def _agrees_with(self, model) -> bool:
        gen = torch.Generator().manual_seed(0)
        n_ctx = min(int(model.cfg.n_ctx), 24)
        rows = torch.randint(0, int(model.cfg.d_vocab), (2, n_ctx), generator=gen).to(self.W_E.device)
        with torch.inference_mode():
            expected = model.bridge(rows)
            got = self.logits(self.run(self.embed(rows), 0))
        scale = float(expected.abs().max()) or 1.0
        return bool(torch.isfinite(got).all()) and float((got - expected).abs().max()) <= CHECK_TOLERANCE * scale

    # -- pieces ------------------------------------------------------------------
    def embed(self, rows: torch.Tensor) -> torch.Tensor:
        return F.embedding(rows, self.W_E) + self.W_pos[: rows.shape[1]]

    def _norm(self, x, wb):
        return F.layer_norm(x, x.shape[-1:], wb[0], wb[1], self.eps)

    def block(self, i: int, h: torch.Tensor, *, post: bool = False, capture: dict | None = None):
        """Block ``i`` on the residual stream ``h``; with ``post``, also its MLP's hook_post values.

        ``capture`` receives the MLP's activations under their hook names: ``blocks.{i}.mlp.hook_post``
        (the input of the MLP's output matrix) and, for SoLU-LN, ``blocks.{i}.mlp.ln.hook_in``
        (before that LayerNorm)."""
        b = self.blocks[i]
        x = self._norm(h, b.ln1)
        batch, seq, _ = x.shape
        q, k, v = (F.linear(x, *w).view(batch, seq, b.n_heads, b.d_head).transpose(1, 2) for w in (b.q, b.k, b.v))
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0 / b.scale)
        h = h + F.linear(z.transpose(1, 2).reshape(batch, seq, -1), *b.o)
        mid = self.act(F.linear(self._norm(h, b.ln2), *b.fc_in))
        if b.mlp_ln is not None:
            if capture is not None:
                capture[f"blocks.{i}.mlp.ln.hook_in"] = mid
            mid = self._norm(mid, b.mlp_ln)
        if capture is not None:
            capture[f"blocks.{i}.mlp.hook_post"] = mid
        out = h + F.linear(mid, *b.fc_out)
        return (out, mid) if post else out

    SITES = ("blocks.{layer}.mlp.hook_post", "blocks.{layer}.mlp.ln.hook_in")

    def covers(self, site: str) -> bool:
        """Whether :meth:`block` can capture ``site`` (a hook name with ``{layer}``) in every layer."""
        return site == self.SITES[0] or (site == self.SITES[1] and all(b.mlp_ln is not None for b in self.blocks))

    def run(self, h: torch.Tensor, first: int, last: int | None = None) -> torch.Tensor:
        """Blocks ``first`` .. ``last`` (default: the final block) on the residual stream ``h``."""
        for i in range(first, len(self.blocks) if last is None else last + 1):
            h = self.block(i, h)
        return h

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(self._norm(h, self.ln_final), *self.unembed)

    def token_loss(self, h: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Next-token loss of rows[:, 1:] from the final residual stream ``h``: [batch, width - 1].

        In blocks of ``LOSS_BLOCK`` tokens, so each block's [tokens, vocab] logits stay in cache
        through the log-sum-exp (whole rows at a time, 64 MB of logits per pass, were about twice
        as slow on the embedded model in a microbenchmark; bench_ablation times the result).
        """
        target = rows[:, 1:].reshape(-1)
        flat = h[:, :-1].reshape(-1, h.shape[-1])
        out = torch.empty(target.shape, dtype=torch.float32, device=h.device)
        for start in range(0, flat.shape[0], LOSS_BLOCK):
            z = self.logits(flat[start : start + LOSS_BLOCK]).float()
            out[start : start + LOSS_BLOCK] = (torch.logsumexp(z, dim=-1)
                                               - z.gather(-1, target[start : start + LOSS_BLOCK, None])[:, 0])
        return out.view(rows.shape[0], -1)


def fast_forward(model) -> FastForward | None:
    """The model's hook-free forward, built and checked once per loaded model; None if the model
    is outside what it covers."""
    extra = getattr(model, "extra", None)
    if extra is None:
        return FastForward.of(model)
    # Keyed by where the weights are now: a bridge moved with .to() after a first use must not
    # run on the copies made before the move.
    first = next(iter(model.bridge.parameters()), None)
    key = (str(first.device), first.dtype) if first is not None else None
    if "fast_forward" in extra and extra["fast_forward"] is None:
        return None  # switched off by the caller (the bridge with hooks)
    cached = extra.get("fast_forward")
    if cached is None or cached[0] != key:
        extra["fast_forward"] = (key, FastForward.of(model))
    return extra["fast_forward"][1]
