"""Training the embedded SoLU model (``polytests train-model``).

A 4-layer SoLU-LN transformer of solu-4l's shape family (LayerNorm blocks,
learned positions, x*softmax(x) followed by the MLP LayerNorm), sized to train
in about an hour on a 2-core CPU, on real text gathered by ``polytests
training-data`` (see ``polytests/training_data``), never on ``corpora/``: the
claims are judged on those documents. A byte-level BPE tokenizer is trained on
the same text.

Batches mix the kinds of text in the stated proportions (``sources.MIX``):
each row picks a kind, then a document (in proportion to its length), then a
window. Deterministic given the seed and the number of CPU threads; a
checkpoint is written every ``checkpoint_every`` steps and a killed run resumes
from it with the same result.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from polytests.engine.models.loaded import NATIVE_CONFIG_FIELDS, POLYTESTS_FORMAT
from polytests.engine.tokenization import TokenizedDocuments

BOS = "<|endoftext|>"
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainingConfig:
    seed: int = 0
    vocab_size: int = 2048
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_mlp: int = 512
    n_ctx: int = 256
    batch_size: int = 32
    steps: int = 1150
    lr: float = 3e-3
    warmup: int = 60
    weight_decay: float = 0.1
    eval_every: int = 230
    checkpoint_every: int = 25
    # One thread: on a shared 2-core machine, two OpenMP threads lose more to
    # waiting for each other than they gain (2,221 vs 1,264 tokens/s measured).
    threads: int = 1
    tokenizer_chars: int = 12_000_000  # text sampled (by the mix) to train the tokenizer
    eval_tokens_per_kind: int = 6_000  # held-out (reserved) and seen text per kind, for the curve

    def bridge_config(self) -> dict:
        return {
            "d_model": self.d_model,
            "n_layers": self.n_layers,
            "d_mlp": self.d_mlp,
            "d_head": self.d_model // self.n_heads,
            "n_heads": self.n_heads,
            "n_ctx": self.n_ctx,
            "d_vocab": self.vocab_size,
            "act_fn": "solu_ln",
            "normalization_type": "LN",
            "positional_embedding_type": "standard",
        }


def train_tokenizer(texts, vocab_size: int, out_dir: Path):
    """Train a byte-level BPE tokenizer, save it with save_pretrained, reload it from disk.

    TransformerLens needs a tokenizer loaded from a directory; one built in
    memory breaks it, so the reloaded copy is what we return.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=BOS, pad_token=BOS, unk_token=None
    )
    fast.model_max_length = 10**6
    fast.save_pretrained(str(out_dir))
    return AutoTokenizer.from_pretrained(str(out_dir))


def tokenize_texts(tokenizer, ids: list[str], kinds: list[str], texts: list[str]) -> TokenizedDocuments:
    """Like ``tokenize_documents`` for plain texts, through the fast tokenizer's batch path."""
    encoded = tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False) if texts else []
    lengths = np.array([len(e.ids) for e in encoded], dtype=np.int64)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate([np.asarray(e.ids, dtype=np.int32) for e in encoded]) if encoded else np.zeros(0, np.int32)
    return TokenizedDocuments(tuple(ids), tuple(kinds), flat, offsets)


def _sample_rows(by_kind: dict[str, TokenizedDocuments], weights: dict[str, float],
                 rng: np.random.Generator, cfg: TrainingConfig, bos: int):
    """One batch: a kind per row by the mix, a document by length, a window."""
    import torch

    kinds = sorted(by_kind)
    p = np.array([weights[k] for k in kinds], dtype=np.float64)
    picks = rng.choice(len(kinds), size=cfg.batch_size, p=p / p.sum())
    size = cfg.n_ctx - 1
    rows = np.full((cfg.batch_size, cfg.n_ctx), bos, dtype=np.int64)
    mask = np.zeros((cfg.batch_size, cfg.n_ctx), dtype=bool)
    for r, k in enumerate(picks):
        tokens = by_kind[kinds[k]]
        lengths = np.diff(tokens.offsets)
        d = int(rng.choice(tokens.n_docs, p=lengths / lengths.sum()))
        doc = tokens.doc_tokens(d)
        start = 0 if len(doc) <= size or rng.random() < 0.3 else int(rng.integers(0, len(doc) - size + 1))
        piece = doc[start : start + size]
        rows[r, 1 : 1 + len(piece)] = piece
        mask[r, 1 : 1 + len(piece)] = True  # targets: every real token after BOS
    return torch.from_numpy(rows), torch.from_numpy(mask)


def fast_logits(model, ids):
    """The native SoLU model's forward, written for training speed (fused attention).

    Computes the same function as ``model(ids)`` (checked in the tests); the
    hooked bridge is only needed to read activations, not to train.
    """
    import torch.nn.functional as F

    batch, seq = ids.shape
    h = model.tok_embed(ids) + model.pos.weight[:seq]
    for block in model.layers:
        attn = block.attn
        x = block.ln1(h)
        q, k, v = (proj(x).view(batch, seq, attn.n_heads, attn.d_head).transpose(1, 2)
                   for proj in (attn.q, attn.k, attn.v))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0 / attn.scale)
        h = h + attn.o(out.transpose(1, 2).reshape(batch, seq, -1))
        pre = block.mlp.fc_in(block.ln2(h))
        h = h + block.mlp.fc_out(block.mlp.ln(pre * F.softmax(pre, dim=-1)))
    return model.head(model.ln_out(h))


def token_losses(model, tokens: TokenizedDocuments, n_ctx: int, bos: int, max_tokens: int = 8192):
    """Next-token loss (nats) of every document token, flat, aligned with ``tokens.token_ids``.

    Each window starts with BOS, so the first token of a window is predicted
    from BOS alone (as in training). ``model`` maps token rows to logits.
    """
    import torch

    from polytests.engine.tokenization import batch_windows, make_windows, window_batch

    out = np.zeros(tokens.n_tokens, dtype=np.float64)
    with torch.no_grad():
        for batch in batch_windows(make_windows(tokens, n_ctx), max_tokens):
            rows = window_batch(tokens, batch, bos).rows
            logp = torch.log_softmax(model(rows).float(), dim=-1)
            for r, w in enumerate(batch):
                s = int(tokens.offsets[w.doc] + w.start)
                target = rows[r, 1 : 1 + w.length]
                nll = -logp[r, : w.length].gather(-1, target[:, None])[:, 0]
                out[s : s + w.length] = nll.double().numpy()
    return out


def _first_tokens(tokens: TokenizedDocuments, budget: int) -> TokenizedDocuments:
    """The first documents of ``tokens`` holding about ``budget`` tokens (a fixed evaluation set)."""
    n = int(np.searchsorted(tokens.offsets[1:], budget) + 1)
    return tokens.subset(np.arange(min(n, tokens.n_docs)))


def _mix_sample(docs_by_kind: dict[str, list], weights: dict[str, float], chars: int, seed: int) -> list[str]:
    """Texts for the tokenizer: each kind's share of ``chars``, documents in a seeded order."""
    rng = np.random.default_rng(seed)
    texts = []
    for kind in sorted(docs_by_kind):
        budget = weights[kind] * chars
        for i in rng.permutation(len(docs_by_kind[kind])):
            if budget <= 0:
                break
            text = docs_by_kind[kind][i].text
            texts.append(text)
            budget -= len(text)
    return texts


def _atomic_save(obj, path: Path) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train_model(data_dir: str | Path, out_dir: str | Path, cfg: TrainingConfig = TrainingConfig(),
                progress=None, corpora_root: str | Path | None = None) -> dict:
    """Train the embedded model on the gathered text in ``data_dir``; write it to ``out_dir``.

    ``progress(step, total, train_loss, heldout_loss_or_None)`` is called every step.
    ``corpora_root``, when given, adds the explore split of the corpora to the
    curve (never used for any decision: the weights of the last step are kept).
    """
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file

    from polytests.engine.models.loaded import import_bridge
    from polytests.training_data.gather import read_kind
    from polytests.training_data.sources import MIX

    TransformerBridge, TransformerBridgeConfig = import_bridge()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)

    docs_by_kind = {kind: read_kind(data_dir, kind) for kind in sorted(MIX)}
    reserved_path = Path(data_dir) / "text" / "reserved.jsonl"
    reserved: dict[str, list] = {}
    with open(reserved_path, encoding="utf-8") as f:
        for row in map(json.loads, f):
            reserved.setdefault(row["kind"], []).append(row)

    checkpoint_path = out_dir / CHECKPOINT
    resume = None
    if checkpoint_path.is_file():
        resume = torch.load(checkpoint_path, weights_only=False)
        if resume.get("config") != asdict(cfg):
            raise RuntimeError(
                f"{checkpoint_path} was written with another training config. Fix: delete it to "
                "start over, or run with the config it names"
            )
    if resume is None or not (out_dir / "tokenizer.json").is_file():
        tokenizer = train_tokenizer(_mix_sample(docs_by_kind, MIX, cfg.tokenizer_chars, cfg.seed),
                                    cfg.vocab_size, out_dir)
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(out_dir))
    bos = tokenizer.bos_token_id
    train_tokens = {k: tokenize_texts(tokenizer, [d.id for d in docs], [k] * len(docs), [d.text for d in docs])
                    for k, docs in docs_by_kind.items()}
    heldout = {k: _first_tokens(tokenize_texts(tokenizer, [r["id"] for r in rows], [k] * len(rows),
                                               [r["text"] for r in rows]), cfg.eval_tokens_per_kind)
               for k, rows in reserved.items()}
    seen = {k: _first_tokens(t, cfg.eval_tokens_per_kind) for k, t in train_tokens.items()}
    explore = None
    if corpora_root is not None:
        from polytests.corpora import load_corpora
        from polytests.engine.tokenization import tokenize_documents

        explore = {name: tokenize_documents(tokenizer, c.split("explore"))
                   for name, c in load_corpora(corpora_root).items()}

    bridge_cfg = TransformerBridgeConfig(**cfg.bridge_config(), seed=cfg.seed)
    bridge = TransformerBridge.boot_native(bridge_cfg, tokenizer=tokenizer)
    model = bridge.original_model  # the plain nn.Module: training needs no hooks
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.98),
    )

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

    def mean_loss(sets: dict[str, TokenizedDocuments]) -> dict[str, float]:
        model.eval()
        fwd = lambda rows: fast_logits(model, rows)  # noqa: E731
        return {k: float(token_losses(fwd, t, cfg.n_ctx, bos).mean()) for k, t in sets.items() if t.n_tokens}

    log = {"steps": [], "train_loss": [], "eval_steps": [], "heldout_loss": [], "seen_loss": [],
           "explore_loss": [], "seconds_per_step": []}
    start_step = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        rng.bit_generator.state = resume["numpy_rng"]
        torch.set_rng_state(resume["torch_rng"])
        log = resume["log"]
        start_step = resume["step"]
    for step in range(start_step, cfg.steps):
        t0 = time.time()
        model.train()
        rows, mask = _sample_rows(train_tokens, MIX, rng, cfg, bos)
        logits = fast_logits(model, rows[:, :-1])
        target_mask = mask[:, 1:]
        loss = F.cross_entropy(logits[target_mask], rows[:, 1:][target_mask])
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        log["steps"].append(step)
        log["train_loss"].append(float(loss.detach()))
        log["seconds_per_step"].append(time.time() - t0)
        heldout_mean = None
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            held = mean_loss(heldout)
            heldout_mean = float(np.mean(list(held.values())))
            log["eval_steps"].append(step + 1)
            log["heldout_loss"].append(held)
            log["seen_loss"].append(mean_loss(seen))
            if explore is not None:
                log["explore_loss"].append(mean_loss(explore))
        if progress:
            progress(step + 1, cfg.steps, float(loss.detach()), heldout_mean)
        if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
            _atomic_save({"config": asdict(cfg), "step": step + 1, "model": model.state_dict(),
                          "optimizer": opt.state_dict(), "numpy_rng": rng.bit_generator.state,
                          "torch_rng": torch.get_rng_state(), "log": log}, checkpoint_path)
    log["seconds"] = float(sum(log["seconds_per_step"]))
    log["config"] = asdict(cfg)
    log["mix"] = dict(MIX)
    log["train_tokens"] = {k: t.n_tokens for k, t in train_tokens.items()}
    log["train_documents"] = {k: t.n_docs for k, t in train_tokens.items()}
    log["tokens_seen"] = cfg.steps * cfg.batch_size * (cfg.n_ctx - 1)

    state = {k: v.contiguous() for k, v in bridge.state_dict().items()}
    save_file(state, str(out_dir / "model.safetensors"))
    config = {k: cfg.bridge_config()[k] for k in NATIVE_CONFIG_FIELDS}
    config["polytests_format"] = POLYTESTS_FORMAT
    config["seed"] = cfg.seed
    (out_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    (out_dir / "training_log.json").write_text(json.dumps(log) + "\n")
    if checkpoint_path.is_file():
        checkpoint_path.unlink()
    return log
