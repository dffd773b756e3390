"""The embedded model's card: architecture, data, training curve and held-out loss.

``polytests model-card`` evaluates the model on the ``confirm`` split of every
corpus, beside a unigram baseline fitted on the ``train`` split (add-one
smoothing), and writes ``MODEL_CARD.md`` and ``training_curve.png`` next to the
weights. Every figure in the card comes from this command.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from polytests.corpora import load_corpora
from polytests.tokenization import tokenize_documents


def held_out_losses(model, corpora_root) -> dict[str, dict[str, float]]:
    """Per corpus: mean next-token loss (nats/token) of the model and of the unigram baseline."""
    from polytests.models.training import token_losses

    corpora = load_corpora(corpora_root)
    train = tokenize_documents(model.tokenizer, [d for c in corpora.values() for d in c.split("train")])
    counts = np.bincount(train.token_ids, minlength=int(model.cfg.d_vocab)).astype(np.float64) + 1.0
    unigram_nll = -np.log(counts / counts.sum())
    out = {}
    for name, corpus in corpora.items():
        tokens = tokenize_documents(model.tokenizer, corpus.split("confirm"))
        nll = token_losses(model.bridge, tokens, model.n_ctx, model.bos_token_id)
        out[name] = {"model": float(nll.mean()), "unigram": float(unigram_nll[tokens.token_ids].mean()),
                     "tokens": tokens.n_tokens, "documents": tokens.n_docs}
    return out


def plot_training_curve(log: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    steps = np.asarray(log["steps"]) + 1
    loss = np.asarray(log["train_loss"])
    window = 20
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    ax.plot(steps, loss, color="#bbb", lw=0.6, label="train (per step)")
    ax.plot(steps[window - 1:], smooth, color="#1f77b4", lw=1.5, label=f"train ({window}-step mean)")
    ax.plot(log["eval_steps"], log["explore_loss"], "o-", color="#d62728", ms=3, label="explore split")
    ax.axvline(log["best_step"], color="#555", ls=":", lw=1, label=f"kept: step {log['best_step']}")
    ax.set_xlabel("step")
    ax.set_ylabel("next-token loss (nats)")
    ax.set_title("Embedded SoLU model: training curve")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_model_card(model_dir: str | Path, corpora_root: str | Path) -> Path:
    from polytests.models.loading import load_model

    model_dir = Path(model_dir)
    model = load_model(str(model_dir))
    log = json.loads((model_dir / "training_log.json").read_text())
    plot_training_curve(log, model_dir / "training_curve.png")
    losses = held_out_losses(model, corpora_root)
    cfg = log["config"]
    n_params = sum(p.numel() for p in model.bridge.parameters())
    rows = "\n".join(
        f"| {name} | {v['documents']} | {v['tokens']} | {v['model']:.3f} | {v['unigram']:.3f} | "
        f"{v['unigram'] - v['model']:.3f} | {100 * (1 - v['model'] / v['unigram']):.0f}% |"
        for name, v in losses.items())
    worst = min(losses.items(), key=lambda kv: kv[1]["unigram"] - kv[1]["model"])
    beats_all = all(v["model"] < v["unigram"] for v in losses.values())
    verdict = ("The model beats the unigram baseline on every corpus" if beats_all
               else "WARNING: the model does NOT beat the unigram baseline on every corpus")
    text = f"""# Embedded model: polytests SoLU 4L (tiny)

A small 4-layer SoLU-LN transformer of the solu-4l shape family, scaled down so
that it trains on a 2-core CPU, trained by `polytests train-model` on the
`train` split of `corpora/` only. Claims are judged on the `confirm` split,
which the model never saw. This card is written by `polytests model-card`.

## Architecture
| field | value |
|---|---|
| layers | {cfg['n_layers']} |
| d_model | {cfg['d_model']} |
| heads | {cfg['n_heads']} (d_head {cfg['d_model'] // cfg['n_heads']}) |
| d_mlp (neurons per layer) | {cfg['d_mlp']} |
| activation | SoLU (x * softmax(x)) followed by the MLP LayerNorm (`solu_ln`) |
| normalization | LayerNorm before attention and MLP, and before the unembedding |
| positions | learned, n_ctx {cfg['n_ctx']} |
| vocabulary | byte-level BPE, {cfg['vocab_size']} tokens, trained on the same text; BOS = `<|endoftext|>` |
| parameters | {n_params:,} |
| weights digest | `{model.digest[:16]}` |

Neuron activations are read at `blocks.L.mlp.ln.hook_in` (after SoLU, before the
MLP LayerNorm, as Neuroscope does); ablations act at `blocks.L.mlp.hook_post`.

## Data
{log['train_documents']} documents ({log['train_tokens']:,} tokens) of the `train` split of all
corpora in `corpora/` (see each corpus's CARD.md). Documents are cut into windows
that start with BOS and never cross a document boundary.

## Training
AdamW (betas 0.9/0.98, weight decay {cfg['weight_decay']} on matrices), peak learning rate {cfg['lr']},
{cfg['warmup']} warm-up steps then cosine decay to 10%, batch {cfg['batch_size']} windows of up to
{cfg['n_ctx']} tokens, {cfg['steps']} steps, gradient clipping at 1.0, seed {cfg['seed']}, {cfg['threads']} CPU threads.
The explore split was evaluated every {cfg['eval_every']} steps and the best weights kept
(step {log['best_step']}, explore loss {log['best_explore_loss']:.3f}). Training took {log['seconds'] / 60:.1f} minutes.

![training curve](training_curve.png)

## Held-out loss (confirm split), nats per token
Unigram baseline: token frequencies of the train split with add-one smoothing.

| corpus | documents | tokens | model | unigram | gain | relative |
|---|---|---|---|---|---|---|
{rows}

{verdict}; the smallest gain is
{worst[1]['unigram'] - worst[1]['model']:.3f} nats/token ({worst[0]}).

## Limitations
A tiny model on about half a megabyte of text: its neurons are real and its
statistics honest, but it is not a model of natural language at large. It is
for testing claims and the tool, offline; for research on the real SoLU models,
pass `--polytests-model DIR` with a downloaded checkpoint.

Reproduce: `polytests train-model && polytests model-card`.
"""
    path = model_dir / "MODEL_CARD.md"
    path.write_text(text)
    return path
