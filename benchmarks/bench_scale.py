"""Scale: the hunt over every neuron of a solu-4l-shaped model, against the floor, as tokens and neurons grow.

The model has solu-4l's shape (4 layers, d_model 512, d_mlp 2048 = 8,192 neurons, vocab 48,262,
n_ctx 1024) with seeded random weights, built as in benchmarks/bench_collection.py; the text is
generated token ids (Zipf-distributed, documents of 100 to 2,000 tokens) spread over 11
pseudo-corpora that prefer different token ids, so that neurons respond to some of them.

What the hunt does over every neuron (``polytests hunt``, stage 1), each part timed and its
peak resident memory sampled every 20 ms, in a fresh process per size:

1. collection: one pass over the corpus recording tier 1 (per-document count, sum, sum of
   squares, max, counts above 3 thresholds) for every neuron of every layer, and the running
   top-k activations of every neuron with ``k = scale_top_k(tokens)`` (the neuron scale, the
   99.9th percentile, is read from them); the pass stops at the last layer's activation site,
   so the last layer's W_out and the unembedding never run;
2. scan (``polytests.commands.hunt.scan.scan_responses``): for every neuron, the corpora it responds to
   (bound tests of every top-m set of corpora against the rest, BH over the scan).

Stage 2 (the controls of the top 15 candidates) costs one more collection pass with per-token
activations of those neurons plus their permutation tests; it does not depend on the number
of neurons and is not measured here. Writing the activation cache entry is not timed either.

The floors, so the reader sees how far from the limit each figure is:

* time: the forward FLOPs up to the last recorded site (per window of W tokens and layer:
  Q, K, V and O projections 8 W d^2, causal attention scores and weighted sum 2 W (W+1) d,
  MLP 4 W d d_mlp, the last layer only its W_in; matmuls only, LayerNorms, softmax and the
  embedding left out), divided by this CPU's float32 matmul rate measured in the same run
  with torch.matmul on the model's shapes (each op type at its own measured rate);
* memory: the bytes of the outputs kept (tier-1 arrays and top-k values and indices), against
  the growth of resident memory over the process's memory before collection (which holds the
  model, 121 MiB of float32 weights here, and the tokens).

Growth with tokens: sizes up to ``--tokens`` (default 250,000; each size a fresh process), a
least-squares line through time, and memory as the batch working set (which does not grow
with the corpus) plus the outputs kept at 1M tokens (computed from their shapes);
``--full`` measures 125k, 250k, 500k and 1M instead (about half an hour). The running top-k
grows with the corpus (k is 0.1% of the tokens), so the line is also given corrected by the
measured extra cost of one top-k update at 1M's k over the largest size's, times the number of
batches and layers at 1M. Growth with neurons: d_mlp 512, 1,024
and 2,048 (2,048 to 8,192 neurons) at ``--neuron-tokens`` tokens.

Usage: python benchmarks/bench_scale.py [--tokens 250000] [--neuron-tokens 62500] [--full]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np
from _rss import RssSampler  # benchmarks/ is the script's folder, first on sys.path

SHAPE = dict(d_model=512, n_layers=4, d_mlp=2048, d_head=64, n_heads=8, n_ctx=1024, d_vocab=48262,
             act_fn="solu_ln", normalization_type="LN")
N_CORPORA = 11
MAX_BATCH_TOKENS = 8192


class _Tokenizer:
    bos_token_id = 0


def build_model(d_mlp: int):
    from polytests.engine.models.loaded import LoadedModel, import_bridge

    TransformerBridge, TransformerBridgeConfig = import_bridge()
    bridge = TransformerBridge.boot_native(TransformerBridgeConfig(**{**SHAPE, "d_mlp": d_mlp}, seed=0))
    bridge.eval()
    return LoadedModel(bridge, f"random-solu-4l-shape-{d_mlp}", "random", "memory", _Tokenizer())


def generated_tokens(n_tokens: int, seed: int = 0):
    """Zipf token ids, documents of 100-2,000 tokens, document i in pseudo-corpus i mod 11 (fewer
    corpora below 22 documents), each corpus with its own most frequent ids (the Zipf ranks
    shifted by a corpus offset)."""
    from polytests.engine.tokenization import TokenizedDocuments

    rng = np.random.default_rng(seed)
    lengths = []
    while sum(lengths) < n_tokens:
        lengths.append(int(rng.integers(100, 2001)))
    lengths[-1] -= sum(lengths) - n_tokens
    if len(lengths) < 4:
        raise SystemExit(f"{n_tokens:,} tokens make {len(lengths)} documents; the scan needs 2 corpora of 2 "
                         "documents at least: give 10,000 tokens or more")
    n_corpora = min(N_CORPORA, len(lengths) // 2)  # fewer only for tiny corpora: 2 documents each
    corpus = np.arange(len(lengths)) % n_corpora
    offset = np.repeat(corpus * 97, lengths)
    ids = ((rng.zipf(1.2, size=n_tokens) + offset) % (SHAPE["d_vocab"] - 1) + 1).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = len(lengths)
    return TokenizedDocuments(tuple(f"c{corpus[i]}/{i}" for i in range(n)), tuple(f"c{c:02d}" for c in corpus),
                              ids, offsets)


def forward_flops(tokens, d_mlp: int) -> dict[str, float]:
    """Matmul FLOPs of the forward pass up to the last layer's activation site, by op type."""
    from polytests.engine.tokenization import make_windows

    d, L = SHAPE["d_model"], SHAPE["n_layers"]
    W = np.array([w.length + 1 for w in make_windows(tokens, SHAPE["n_ctx"])], dtype=np.float64)  # + BOS
    return {"projections": L * 8 * W.sum() * d * d,
            "attention": L * 2 * (W * (W + 1)).sum() * d,
            "mlp_in": L * 2 * W.sum() * d * d_mlp,
            "mlp_out": (L - 1) * 2 * W.sum() * d_mlp * d}


def matmul_rates(d_mlp: int = SHAPE["d_mlp"], repeats: int = 10) -> dict[str, float]:
    """This CPU's float32 torch.matmul rate (FLOP/s, best of ``repeats``) on the model's shapes."""
    import torch

    d, T, W, H = SHAPE["d_model"], MAX_BATCH_TOKENS, SHAPE["n_ctx"], SHAPE["n_heads"]
    dh = SHAPE["d_head"]
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    ops = {"projections": (r(T, d), r(d, d), 2 * T * d * d),
           "attention": (r(T // W * H, W, dh), r(T // W * H, dh, W), 2 * (T // W) * H * W * W * dh),
           "mlp_in": (r(T, d), r(d, d_mlp), 2 * T * d * d_mlp),
           "mlp_out": (r(T, d_mlp), r(d_mlp, d), 2 * T * d_mlp * d)}
    rates = {}
    with torch.inference_mode():
        for name, (a, b, flops) in ops.items():
            torch.matmul(a, b)
            best = math.inf
            for _ in range(repeats):
                t = time.perf_counter()
                torch.matmul(a, b)
                best = min(best, time.perf_counter() - t)
            rates[name] = flops / best
    return rates


def topk_seconds(k: int, d_mlp: int = SHAPE["d_mlp"], repeats: int = 3) -> float:
    """Median time of one running top-k update (polytests.engine.aggregates.TopK.add) on a full batch of one layer."""
    import statistics

    import torch

    from polytests.engine.aggregates import TopK

    acts = torch.randn(MAX_BATCH_TOKENS, d_mlp, generator=torch.Generator().manual_seed(0))
    flat = torch.arange(MAX_BATCH_TOKENS)
    top = TopK(k, d_mlp, "cpu")
    top.add(acts, flat)  # holds k values already, as after the first batch
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        top.add(acts, flat)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def n_batches(tokens) -> int:
    from polytests.engine.tokenization import batch_windows, make_windows

    return len(batch_windows(make_windows(tokens, SHAPE["n_ctx"]), MAX_BATCH_TOKENS))


def kept_bytes(n_docs: int, d_mlp: int, top_k: int, n_thresholds: int = 3) -> int:
    """Bytes of the outputs a hunt keeps: tier 1 (count; sum, sumsq, max; above) and top-k, all layers."""
    per_layer = n_docs * 8 + 3 * n_docs * d_mlp * 8 + n_thresholds * n_docs * d_mlp * 8 + top_k * d_mlp * (4 + 8)
    return SHAPE["n_layers"] * per_layer


def child(n_tokens: int, d_mlp: int) -> dict:
    import gc

    import psutil

    from polytests.commands.hunt.scan import scale_top_k, scan_responses
    from polytests.engine.activations import CollectionRequest, collect
    from polytests.engine.store import ActivationStore

    model = build_model(d_mlp)
    tokens = generated_tokens(n_tokens)
    layers = tuple(range(SHAPE["n_layers"]))
    top_k = max(20, scale_top_k(n_tokens))  # as `polytests hunt` asks for
    gc.collect()
    before = psutil.Process().memory_info().rss
    t = time.perf_counter()
    with RssSampler() as during_collection:
        col = collect(model, tokens, CollectionRequest(layers=layers, top_k=top_k), max_batch_tokens=MAX_BATCH_TOKENS)
    t_collect = time.perf_counter() - t
    store = ActivationStore(model.name, model.digest, "explore", tokens, col)
    t = time.perf_counter()
    with RssSampler() as during_scan:
        responses = scan_responses(store, layers, min_effect=0.1, q=0.05, n_resamples=999, seed=0)
    t_scan = time.perf_counter() - t
    kept = sum(getattr(s, f).nbytes for s in col.stats.values() for f in ("count", "sum", "sumsq", "max", "above"))
    kept += sum(v.nbytes for v in col.topk_values.values()) + sum(v.nbytes for v in col.topk_index.values())
    counts = responses.counts()
    return {"tokens": n_tokens, "d_mlp": d_mlp, "corpora": len(store.corpora), "neurons": d_mlp * len(layers), "documents": tokens.n_docs,
            "top_k": top_k, "collect_s": t_collect, "scan_s": t_scan, "rss_before_mib": before / 2**20,
            "peak_collect_mib": during_collection.peak / 2**20, "peak_scan_mib": during_scan.peak / 2**20,
            "kept_mib": kept / 2**20, "kept_formula_mib": kept_bytes(tokens.n_docs, d_mlp, top_k) / 2**20,
            "flops": forward_flops(tokens, d_mlp), "responding": sum(v for m, v in counts.items() if m),
            "threads": __import__("torch").get_num_threads()}


_RESULTS: dict[tuple[int, int], dict] = {}


def run_child(n_tokens: int, d_mlp: int) -> dict:
    """One size in a fresh process (a size already measured in this run is reused)."""
    if (n_tokens, d_mlp) in _RESULTS:
        return dict(_RESULTS[(n_tokens, d_mlp)])
    out = subprocess.run([sys.executable, __file__, "--child", f"{n_tokens},{d_mlp}"], capture_output=True,
                         text=True)
    if out.returncode != 0:
        sys.stdout.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"the child for {n_tokens:,} tokens, d_mlp {d_mlp} failed")
    _RESULTS[(n_tokens, d_mlp)] = json.loads(out.stdout.strip().splitlines()[-1])
    return dict(_RESULTS[(n_tokens, d_mlp)])


def floor_seconds(flops: dict, rates: dict) -> float:
    return sum(flops[k] / rates[k] for k in flops)


def fit(x, y) -> tuple[float, float, float]:
    """Least-squares line y = a + b x, and the largest deviation from it relative to y."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b), float(np.max(np.abs(a + b * x - y) / np.abs(y)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=250_000, help="largest corpus measured (default 250,000)")
    parser.add_argument("--steps", type=int, default=4,
                        help="how many token sizes: --tokens, --tokens/2, --tokens/4, ... (default 4)")
    parser.add_argument("--neuron-tokens", type=int, default=62_500, help="tokens for the growth with neurons")
    parser.add_argument("--full", action="store_true", help="token sizes 125k, 250k, 500k, 1M")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        n, d_mlp = (int(v) for v in args.child.split(","))
        print(json.dumps(child(n, d_mlp)))
        return
    import torch

    top = 1_000_000 if args.full else args.tokens
    sizes = [top // 2**i for i in reversed(range(args.steps))]
    widths = (512, 1024, SHAPE["d_mlp"])
    rates_of = {d_mlp: matmul_rates(d_mlp) for d_mlp in widths}
    rates = rates_of[SHAPE["d_mlp"]]
    total_rate = None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads. float32 torch.matmul on the model's shapes "
          f"(best of 10): " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in rates.items())
          + f" (d_mlp {SHAPE['d_mlp']}; the MLP shapes of d_mlp 512 and 1024 measured too)\n")

    print("Growth with tokens (8,192 neurons; each row a fresh process):\n")
    print("| tokens | documents | corpora | top-k | collection (s) | floor (s) | collection / floor | scan (s) "
          "| RSS before (MiB) | peak growth, collection (MiB) | peak growth, scan (MiB) | outputs kept (MiB) "
          "| growth / kept |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for n in sizes:
        r = run_child(n, SHAPE["d_mlp"])
        r["floor_s"] = floor_seconds(r["flops"], rates)
        total_rate = sum(r["flops"].values()) / r["floor_s"]
        growth_c = r["peak_collect_mib"] - r["rss_before_mib"]
        growth_s = r["peak_scan_mib"] - r["rss_before_mib"]
        rows.append(r)
        print(f"| {n:,} | {r['documents']} | {r['corpora']} | {r['top_k']} | {r['collect_s']:.1f} | {r['floor_s']:.1f} | "
              f"{r['collect_s'] / r['floor_s']:.1f}x | {r['scan_s']:.2f} | {r['rss_before_mib']:,.0f} | "
              f"{growth_c:,.0f} | {growth_s:,.0f} | {r['kept_mib']:.1f} | {growth_c / r['kept_mib']:.1f}x |", flush=True)

    x = [r["tokens"] for r in rows]
    a_t, b_t, e_t = fit(x, [r["collect_s"] for r in rows])
    a_s, b_s, e_s = fit(x, [r["scan_s"] for r in rows])
    a_f, b_f, _ = fit(x, [r["floor_s"] for r in rows])
    M = 1_000_000
    from polytests.commands.hunt.scan import scale_top_k

    tokens_1m = generated_tokens(M)
    docs_1m = tokens_1m.n_docs
    kept_1m = kept_bytes(docs_1m, SHAPE["d_mlp"], max(20, scale_top_k(M))) / 2**20
    working = max(r["peak_collect_mib"] - r["rss_before_mib"] - r["kept_mib"] for r in rows)
    where = "measured above" if top >= M else "extrapolated"
    print(f"\nAt 1M tokens ({where}). Time: least-squares lines through the {len(rows)} sizes, seconds = a + b x "
          "tokens. Memory: the working set of a batch (peak growth minus the outputs kept; it does not grow with "
          "the corpus, so the largest seen is taken) plus the outputs kept at 1M tokens, computed from their shapes "
          f"({docs_1m} documents, top-{max(20, scale_top_k(M))}).\n")
    k_top, k_1m = rows[-1]["top_k"], max(20, scale_top_k(M))
    t_k = {k: topk_seconds(k) for k in sorted({20, k_top, k_1m})}
    batches_1m = n_batches(tokens_1m)
    topk_extra = batches_1m * SHAPE["n_layers"] * (t_k[k_1m] - t_k[k_top])
    line_1m = a_t + b_t * M
    print("| figure | how | at 1M tokens | floor at 1M tokens | figure / floor |")
    print("|---|---|---|---|---|")
    floor_1m = a_f + b_f * M
    print(f"| collection (s) | {a_t:.1f} + {b_t * M:.0f} per 1M tokens (largest deviation from the line "
          f"{e_t:.0%}) | {line_1m:,.0f} | {floor_1m:,.0f} | {line_1m / floor_1m:.1f}x |")
    if top < M:
        print(f"| collection (s), with the top-{k_1m} | the line + {batches_1m} batches x {SHAPE['n_layers']} layers x "
              f"({t_k[k_1m]:.2f} - {t_k[k_top]:.2f} s per top-k update) | {line_1m + topk_extra:,.0f} | "
              f"{floor_1m:,.0f} | {(line_1m + topk_extra) / floor_1m:.1f}x |")
    print(f"| scan (s) | {a_s:.2f} + {b_s * M:.1f} per 1M tokens (largest deviation {e_s:.0%}) | {a_s + b_s * M:.1f} "
          "| | |")
    print(f"| peak memory growth, collection (MiB) | working set {working:,.0f} + outputs kept {kept_1m:,.0f} | "
          f"{working + kept_1m:,.0f} | {kept_1m:,.0f} (outputs kept) | {(working + kept_1m) / kept_1m:.1f}x |")
    print("\nThe running top-k of every neuron (k = 0.1% of the tokens: the neuron scale is read from it) costs per "
          "batch and layer: " + ", ".join(f"k={k}: {v:.2f} s" for k, v in t_k.items())
          + f" (TopK.add on {MAX_BATCH_TOKENS:,} tokens x {SHAPE['d_mlp']:,} neurons, median of 3), against "
          f"{floor_seconds(forward_flops(tokens_1m, SHAPE['d_mlp']), rates) / batches_1m:.2f} s for the forward "
          "floor of a whole batch.")
    off = [r["tokens"] for r in rows if abs(r["kept_mib"] - r["kept_formula_mib"]) > 0.01 * r["kept_mib"]]
    if off:
        print(f"\nWARNING: the outputs kept differ from their formula at {off} tokens; the 1M figure is off too.")
    print(f"\nThe time floor assumes {total_rate / 1e9:.0f} GFLOP/s on average (each op type at its measured rate); "
          f"a forward pass to the last layer's activation site is {sum(rows[-1]['flops'].values()) / rows[-1]['tokens'] / 1e6:.1f} "
          f"MFLOP per token here. Tokens per second at the largest size: collection "
          f"{rows[-1]['tokens'] / rows[-1]['collect_s']:,.0f}, floor {rows[-1]['tokens'] / rows[-1]['floor_s']:,.0f}.")
    print(f"Neurons responding to at least one pseudo-corpus in the scan at the largest size: {rows[-1]['responding']:,}.")

    print(f"\nGrowth with neurons ({args.neuron_tokens:,} tokens, 4 layers, d_mlp varied; fresh processes):\n")
    print("| neurons | d_mlp | collection (s) | floor (s) | collection / floor | scan (s) | peak growth, collection "
          "(MiB) | outputs kept (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for d_mlp in widths:
        r = run_child(args.neuron_tokens, d_mlp)
        r["floor_s"] = floor_seconds(r["flops"], rates_of[d_mlp])
        print(f"| {r['neurons']:,} | {d_mlp} | {r['collect_s']:.1f} | {r['floor_s']:.1f} | "
              f"{r['collect_s'] / r['floor_s']:.1f}x | {r['scan_s']:.2f} | "
              f"{r['peak_collect_mib'] - r['rss_before_mib']:,.0f} | {r['kept_mib']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
