"""Batched ablation against the naive way (one full forward pass per ablated neuron).

On the embedded model and documents of the confirm split, for a middle layer (the generic
cheap path: cached residual stream, only later blocks rerun, neurons stacked along the
batch axis) and for the last layer (the exact closed-form shortcut through the final
LayerNorm), both ways compute the per-document change in next-token loss of K zero-ablated
neurons. Both are timed in the same run and their results compared.

Usage: python benchmarks/bench_ablation.py [--neurons 16] [--documents 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from polytests.ablation import batched_delta_loss, naive_delta_loss
from polytests.corpora import load_corpora
from polytests.models import load_model
from polytests.tokenization import tokenize_documents


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--neurons", type=int, default=16)
    parser.add_argument("--documents", type=int, default=60)
    parser.add_argument("--corpora", default="corpora")
    args = parser.parse_args()
    model = load_model("embedded")
    docs = [d for c in load_corpora(args.corpora).values() for d in c.split("confirm")][:: 1]
    docs = docs[:: max(1, len(docs) // args.documents)][: args.documents]
    tokens = tokenize_documents(model.tokenizer, docs)
    neurons = list(range(0, 32 * args.neurons, 32))[: args.neurons]
    print(f"embedded model, {tokens.n_docs} documents, {tokens.n_tokens:,} tokens, {len(neurons)} neurons, zero ablation\n")
    print("| layer | path | naive (s) | batched (s) | speed-up | max abs difference (nats/token) |")
    print("|---|---|---|---|---|---|")
    for layer, path in ((1, "rerun blocks 2-3 + unembedding"), (model.n_layers - 1, "closed form through ln_final")):
        t = time.perf_counter()
        naive = np.stack([naive_delta_loss(model, tokens, layer, n, "zero") for n in neurons])
        t_naive = time.perf_counter() - t
        t = time.perf_counter()
        batched = batched_delta_loss(model, tokens, layer, neurons, "zero")
        t_batched = time.perf_counter() - t
        diff = float(np.nanmax(np.abs(naive - batched)))
        print(f"| {layer} | {path} | {t_naive:.1f} | {t_batched:.1f} | {t_naive / t_batched:.1f}x | {diff:.1e} |",
              flush=True)


if __name__ == "__main__":
    main()
