"""Ablation against the naive way (one full forward pass per ablated neuron), for every layer,
and the cost of one ablation claim whose effect is real (no early stop).

Table 1: on the embedded model and documents of the confirm split, both ways compute the
per-document change in next-token loss of K zero-ablated neurons of each layer; timed in the
same run, their results compared. Layers before the last take the generic cheap path (the
clean pass once per batch, then only the later blocks rerun through the hook-free forward,
neurons stacked along the batch axis); the last layer takes the exact closed form through
the final LayerNorm.

Table 2: an ``ablation_hurts`` claim with n_null null neurons whose effect is real, so
Besag-Clifford's early stop does not trigger and every null neuron is evaluated; the time of
the whole predicate (clean pass, target, null neurons, tests), and the naive way's time for
the same number of neuron ablations extrapolated from table 1's per-neuron cost of that layer.

Usage: python benchmarks/bench_ablation.py [--neurons 8] [--documents 40] [--claim-neuron L3N183]
       [--claim-corpora medical fortran] [--n-null 499]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from polytests.claims.causal import evaluate_ablation
from polytests.claims.model import AblationHurts, Claim
from polytests.corpora import load_corpora
from polytests.engine.ablation import AblationEngine
from polytests.engine.delta_loss import batched_delta_loss, naive_delta_loss
from polytests.engine.models import load_model
from polytests.engine.models.fast import fast_forward
from polytests.engine.tokenization import tokenize_documents


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--neurons", type=int, default=8)
    parser.add_argument("--documents", type=int, default=40)
    parser.add_argument("--corpora", default="corpora")
    parser.add_argument("--claim-neuron", default="L3N183")
    parser.add_argument("--claim-corpora", nargs="+", default=["medical", "fortran"])
    parser.add_argument("--n-null", type=int, default=499)
    parser.add_argument("--skip-claim", action="store_true")
    args = parser.parse_args()
    model = load_model("embedded")
    corpora = load_corpora(args.corpora)
    docs = [d for c in corpora.values() for d in c.split("confirm")]
    docs = docs[:: max(1, len(docs) // args.documents)][: args.documents]
    tokens = tokenize_documents(model.tokenizer, docs)
    neurons = list(range(0, 32 * args.neurons, 32))[: args.neurons]
    print(f"embedded model, {tokens.n_docs} documents, {tokens.n_tokens:,} tokens, {len(neurons)} neurons, zero "
          f"ablation, torch threads {torch.get_num_threads()}, hook-free forward "
          f"{'used' if fast_forward(model) is not None else 'NOT available'}\n")
    print("| layer | path | naive (s) | polytests (s) | speed-up | max abs difference (nats/token) |")
    print("|---|---|---|---|---|---|")
    per_neuron = {}
    for layer in range(model.n_layers):
        path = ("closed form through ln_final" if layer == model.n_layers - 1
                else f"rerun blocks {layer + 1}-{model.n_layers - 1} + unembedding")
        t = time.perf_counter()
        naive = np.stack([naive_delta_loss(model, tokens, layer, n, "zero") for n in neurons])
        t_naive = time.perf_counter() - t
        t = time.perf_counter()
        batched = batched_delta_loss(model, tokens, layer, neurons, "zero")
        t_batched = time.perf_counter() - t
        per_neuron[layer] = t_naive / len(neurons) / tokens.n_tokens
        diff = float(np.nanmax(np.abs(naive - batched)))
        print(f"| {layer} | {path} | {t_naive:.1f} | {t_batched:.1f} | {t_naive / t_batched:.1f}x | {diff:.1e} |",
              flush=True)
    if args.skip_claim:
        return
    claim = Claim(id="bench", statement="bench", neuron=args.claim_neuron,
                  predicates=[AblationHurts(corpora=args.claim_corpora, n_null=args.n_null)])
    all_docs = {s: [d for c in corpora.values() for d in c.split(s)] for s in ("explore", "confirm")}
    engine = AblationEngine(model, all_docs["confirm"], all_docs["explore"], None, "confirm")
    claim_tokens = int(sum(np.diff(engine.tokens.offsets)[engine.docs_of(args.claim_corpora)]))
    t = time.perf_counter()
    result = evaluate_ablation(engine, claim, claim.predicates[0], seed=1, n_resamples=9999)
    elapsed = time.perf_counter() - t
    zero = result.numbers["per_kind"]["zero"]
    layer = claim.neuron.layer
    naive_estimate = per_neuron[layer] * claim_tokens * (zero["null_evaluated"] + 1)
    print(f"\n{claim.neuron} ablation_hurts on {', '.join(args.claim_corpora)} ({claim_tokens:,} tokens), "
          f"n_null={args.n_null}\n")
    print("| null neurons evaluated | exceeding | rank p | delta loss (nats/token) | polytests (s) "
          "| naive, extrapolated (s) | speed-up |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {zero['null_evaluated']} | {zero['null_exceeding']} | {zero['p_rank']:.3g} | {zero['delta_loss']:+.4f} "
          f"| {elapsed:.1f} | {naive_estimate:.0f} | {naive_estimate / elapsed:.1f}x |")


if __name__ == "__main__":
    main()
