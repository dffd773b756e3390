"""Training the embedded SoLU model (``polytests train-model``).

A small model of solu-4l's shape family (4 layers, SoLU with the MLP
LayerNorm, LayerNorm blocks, learned positions), scaled down to train on a
2-core CPU in minutes, on the ``train`` split of the corpora only, with a
byte-level BPE tokenizer trained on the same text. Deterministic given the
seed and the number of CPU threads (fixed to 2 here).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from polytests.corpora import load_corpora
from polytests.models.loading import NATIVE_CONFIG_FIELDS, POLYTESTS_FORMAT
from polytests.tokenization import TokenizedDocuments, tokenize_documents

BOS = "<|endoftext|>"


@dataclass(frozen=True)
class TrainingConfig:
    seed: int = 0
    vocab_size: int = 2048
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_mlp: int = 512
    n_ctx: int = 256
    batch_size: int = 16
    steps: int = 600
    lr: float = 3e-3
    warmup: int = 50
    weight_decay: float = 0.1
    eval_every: int = 50
    threads: int = 2

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


def train_tokenizer(texts: list[str], vocab_size: int, out_dir: Path):
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


def _sample_batch(tokens: TokenizedDocuments, rng: np.random.Generator, cfg: TrainingConfig, bos: int):
    import torch

    lengths = np.diff(tokens.offsets)
    probs = lengths / lengths.sum()
    docs = rng.choice(tokens.n_docs, size=cfg.batch_size, p=probs)
    size = cfg.n_ctx - 1
    rows = np.full((cfg.batch_size, cfg.n_ctx), bos, dtype=np.int64)
    mask = np.zeros((cfg.batch_size, cfg.n_ctx), dtype=bool)
    for r, d in enumerate(docs):
        doc = tokens.doc_tokens(int(d))
        start = 0 if len(doc) <= size or rng.random() < 0.3 else int(rng.integers(0, len(doc) - size + 1))
        piece = doc[start : start + size]
        rows[r, 1 : 1 + len(piece)] = piece
        mask[r, 1 : 1 + len(piece)] = True  # targets: every real token after BOS
    return torch.from_numpy(rows), torch.from_numpy(mask)


def token_losses(model, tokens: TokenizedDocuments, n_ctx: int, bos: int, max_tokens: int = 8192):
    """Next-token loss (nats) of every document token, flat, aligned with ``tokens.token_ids``.

    Each window starts with BOS, so the first token of a window is predicted
    from BOS alone (as in training).
    """
    import torch

    from polytests.tokenization import batch_windows, make_windows, window_batch

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


def train_model(corpora_root: str | Path, out_dir: str | Path, cfg: TrainingConfig = TrainingConfig(),
                progress=None) -> dict:
    """Train the embedded model and write it to ``out_dir``; return the training log."""
    import torch
    from safetensors.torch import save_file

    from polytests.models.loading import _import_bridge

    TransformerBridge, TransformerBridgeConfig = _import_bridge()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)

    corpora = load_corpora(corpora_root)
    train_docs = [d for c in corpora.values() for d in c.split("train")]
    explore_docs = [d for c in corpora.values() for d in c.split("explore")]
    tokenizer = train_tokenizer([d.text for d in train_docs], cfg.vocab_size, out_dir)
    bos = tokenizer.bos_token_id
    train_tokens = tokenize_documents(tokenizer, train_docs)
    explore_tokens = tokenize_documents(tokenizer, explore_docs)

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

    log = {"steps": [], "train_loss": [], "explore_loss": [], "eval_steps": []}
    best = (float("inf"), None, -1)
    started = time.time()
    for step in range(cfg.steps):
        model.train()
        rows, mask = _sample_batch(train_tokens, rng, cfg, bos)
        logits = model(rows[:, :-1])
        target_mask = mask[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits[target_mask], rows[:, 1:][target_mask])
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        log["steps"].append(step)
        log["train_loss"].append(float(loss.detach()))
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            model.eval()
            explore = float(token_losses(model, explore_tokens, cfg.n_ctx, bos).mean())
            log["eval_steps"].append(step + 1)
            log["explore_loss"].append(explore)
            if explore < best[0]:
                best = (explore, {k: v.detach().clone() for k, v in bridge.state_dict().items()}, step + 1)
            if progress:
                progress(step + 1, cfg.steps, float(loss.detach()), explore)
    bridge.load_state_dict(best[1], strict=True)
    log["best_step"] = best[2]
    log["best_explore_loss"] = best[0]
    log["seconds"] = time.time() - started
    log["config"] = asdict(cfg)
    log["train_tokens"] = train_tokens.n_tokens
    log["train_documents"] = train_tokens.n_docs

    state = {k: v.contiguous() for k, v in bridge.state_dict().items()}
    save_file(state, str(out_dir / "model.safetensors"))
    config = {k: cfg.bridge_config()[k] for k in NATIVE_CONFIG_FIELDS}
    config["polytests_format"] = POLYTESTS_FORMAT
    config["seed"] = cfg.seed
    (out_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    (out_dir / "training_log.json").write_text(json.dumps(log) + "\n")
    return log
