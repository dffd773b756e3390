"""Activation collection on a solu-4l-shaped model: throughput against the bare forward, and memory.

The model has solu-4l's shape (4 layers, d_model 512, d_mlp 2048, vocab 48262, n_ctx 1024)
with random weights (seeded); the "text" is generated token ids (Zipf-distributed, documents
of 100 to 2,000 tokens). Two measurements, each printed as a Markdown table:

1. throughput, on the same batches, alternating the two ways several times and taking the
   median: the bare forward pass (logits, no hooks) and polytests' collection (tier 1 for
   every neuron of all 4 layers, tier 2 for 8 named neurons, top-k contexts; the pass is
   abandoned once layer 3's activations are read, so the unembedding is skipped);
2. resident memory during collection over growing corpora (each in a fresh subprocess,
   sampled every 20 ms), against the memory before it: the growth should be the tier-1 and
   tier-2 arrays plus a constant working set per batch, not the corpus.

Usage: python benchmarks/bench_collection.py [--tokens 1000000] [--throughput-tokens 60000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from _rss import RssSampler  # benchmarks/ is the script's folder, first on sys.path

SHAPE = dict(d_model=512, n_layers=4, d_mlp=2048, d_head=64, n_heads=8, n_ctx=1024, d_vocab=48262,
             act_fn="solu_ln", normalization_type="LN")


class _Tokenizer:
    bos_token_id = 0


def build_model():
    from polytests.engine.models.loaded import LoadedModel, import_bridge

    TransformerBridge, TransformerBridgeConfig = import_bridge()
    bridge = TransformerBridge.boot_native(TransformerBridgeConfig(**SHAPE, seed=0))
    bridge.eval()
    return LoadedModel(bridge, "random-solu-4l-shape", "random", "memory", _Tokenizer())


def generated_tokens(n_tokens: int, seed: int = 0):
    from polytests.engine.tokenization import TokenizedDocuments

    rng = np.random.default_rng(seed)
    lengths = []
    while sum(lengths) < n_tokens:
        lengths.append(int(rng.integers(100, 2001)))
    lengths[-1] -= sum(lengths) - n_tokens
    ids = (rng.zipf(1.2, size=n_tokens) % (SHAPE["d_vocab"] - 1) + 1).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = len(lengths)
    return TokenizedDocuments(tuple(f"gen/{i}" for i in range(n)), ("gen",) * n, ids, offsets)


def _request():
    from polytests.engine.activations import CollectionRequest
    from polytests.neurons import NeuronRef

    neurons = [NeuronRef(layer, index) for layer in range(4) for index in (7 * layer + 1, 100 + layer)]
    return CollectionRequest(layers=(0, 1, 2, 3), neurons=tuple(neurons))


def throughput(n_tokens: int, repeats: int) -> dict:
    from polytests.engine.activations import collect
    from polytests.engine.tokenization import batch_windows, make_windows

    model = build_model()
    tokens = generated_tokens(n_tokens, seed=1)
    batches = batch_windows(make_windows(tokens, model.n_ctx), 8192)
    rows = []
    for batch in batches:
        width = max(w.length for w in batch) + 1
        r = torch.zeros((len(batch), width), dtype=torch.long)
        for i, w in enumerate(batch):
            s = int(tokens.offsets[w.doc]) + w.start
            r[i, 1 : 1 + w.length] = torch.from_numpy(tokens.token_ids[s : s + w.length].astype(np.int64))
        rows.append(r)

    def bare():
        with torch.inference_mode():
            for r in rows:
                model.bridge(r)

    def collection():
        collect(model, tokens, _request(), max_batch_tokens=8192)

    times = {"bare forward (logits)": [], "collection (hooks, 4 layers)": []}
    bare(); collection()  # warm-up
    for _ in range(repeats):
        for name, fn in (("bare forward (logits)", bare), ("collection (hooks, 4 layers)", collection)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"tokens": n_tokens, "repeats": repeats, "seconds": med,
            "tokens_per_second": {k: n_tokens / v for k, v in med.items()},
            "ratio": med["collection (hooks, 4 layers)"] / med["bare forward (logits)"]}


def memory_child(n_tokens: int) -> None:
    import gc

    import psutil

    from polytests.engine.activations import collect

    model = build_model()
    tokens = generated_tokens(n_tokens)
    gc.collect()
    before = psutil.Process().memory_info().rss
    t = time.perf_counter()
    with RssSampler() as sampler:
        col = collect(model, tokens, _request(), max_batch_tokens=8192)
    elapsed = time.perf_counter() - t
    tier1 = sum(getattr(s, f).nbytes for s in col.stats.values() for f in ("count", "sum", "sumsq", "max", "above"))
    tier2 = sum(a.nbytes for a in col.token_acts.values())
    print(json.dumps({"tokens": n_tokens, "documents": tokens.n_docs, "seconds": elapsed,
                      "tokens_per_second": n_tokens / elapsed, "rss_before_mib": before / 2**20,
                      "peak_rss_mib": sampler.peak / 2**20, "tier1_mib": tier1 / 2**20,
                      "tier2_mib": tier2 / 2**20}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--throughput-tokens", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        memory_child(args.child)
        return
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not args.skip_throughput:
        t = throughput(args.throughput_tokens, args.repeats)
        print("\n| way | seconds (median of %d) | tokens/s |\n|---|---|---|" % t["repeats"])
        for name, sec in t["seconds"].items():
            print(f"| {name} | {sec:.2f} | {t['tokens_per_second'][name]:,.0f} |")
        print(f"\ncollection / bare forward = {t['ratio']:.2f}x ({t['tokens']:,} tokens)\n")
    print("| corpus tokens | documents | tokens/s | RSS before (MiB) | peak RSS during (MiB) | growth (MiB) "
          "| tier-1 arrays (MiB) | tier-2 arrays (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sorted({args.tokens // 4, args.tokens // 2, args.tokens}):
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {r['tokens']:,} | {r['documents']} | {r['tokens_per_second']:,.0f} | {r['rss_before_mib']:,.0f} | "
              f"{r['peak_rss_mib']:,.0f} | {r['peak_rss_mib'] - r['rss_before_mib']:,.0f} | {r['tier1_mib']:.1f} | "
              f"{r['tier2_mib']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
