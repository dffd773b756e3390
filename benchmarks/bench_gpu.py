"""Collection and ablation on one device (CPU or CUDA): a Neuroscope-sized SoLU and the embedded model.

Issue 27's first evidence for work past one CPU machine. Two models:

- ``solu4l``: solu-4l's shape (4 layers, d_model 512, d_mlp 2048 = 8,192 neurons, d_vocab 48,262,
  n_ctx 1024) with seeded random weights, booted as benchmarks/bench_collection.py and
  bench_scale.py boot it (``TransformerBridge.boot_native`` of a ``TransformerBridgeConfig`` with
  ``act_fn="solu_ln"``, ``normalization_type="LN"``, ``seed=0``), built on the CPU and then moved to
  the device, so both devices run the same weights. Its text is the repository's corpora
  tokenized with the embedded model's tokenizer (ids below 2,048, all valid in the larger
  vocabulary; the tokenizer's BOS starts each window);
- ``embedded``: ``load_model("embedded", device=...)`` (4 layers, d_mlp 512, n_ctx 256).

What is timed, after one untimed warm-up pass on a few documents (which also builds and checks the
hook-free forward and, on CUDA, initialises cuBLAS):

1. ``collect`` with ``CollectionRequest(layers=(0, 1, 2, 3))`` (tier 1 for every neuron of every
   layer and the running top-20), for each size in ``--tokens`` on solu4l and ``--embedded-tokens``
   on the embedded model: wall time, tokens per second, peak memory (on CUDA
   ``torch.cuda.max_memory_allocated`` over the pass, on the CPU the peak resident memory sampled
   every 20 ms, with the resident memory before the pass);
2. the bare forward of the same batches up to layer 3's activation site (the hook-free forward
   collection itself uses), so the cost of the aggregation shows as the difference;
3. ``batched_delta_loss`` of ``--ablation-neurons`` zero-ablated neurons of ``--ablation-layer``,
   on the embedded model over ``--ablation-tokens`` tokens and, with ``--big-ablation-tokens``, on
   solu4l.

With ``--check-tokens`` > 0, the same collections (and the embedded model's
ablation) also run on the CPU over the first ``--check-tokens`` tokens, and the per-layer sums are
compared with tests/test_cuda.py's tolerances (collection: rtol 1e-3, atol 1e-3; ablation: rtol
1e-3, atol 1e-4). The corpora hold about 285,000 tokens; a larger size cycles through them again.

Usage: python benchmarks/bench_gpu.py --device cuda --tokens 32768,1000000 --out result.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime

import numpy as np
import torch

SHAPE = {"d_model": 512, "n_layers": 4, "d_mlp": 2048, "d_head": 64, "n_heads": 8, "n_ctx": 1024,
         "d_vocab": 48262, "act_fn": "solu_ln", "normalization_type": "LN"}
LAYERS = (0, 1, 2, 3)
COLLECT_RTOL, COLLECT_ATOL = 1e-3, 1e-3  # tests/test_cuda.py, collection
ABLATE_RTOL, ABLATE_ATOL = 1e-3, 1e-4  # tests/test_cuda.py, ablation


def build_solu4l(tokenizer):
    """The random solu-4l-shaped model on the CPU, with the embedded tokenizer (for its BOS)."""
    from polytests.engine.models.loaded import LoadedModel, import_bridge as _import_bridge

    TransformerBridge, TransformerBridgeConfig = _import_bridge()
    bridge = TransformerBridge.boot_native(TransformerBridgeConfig(**SHAPE, seed=0))
    bridge.eval()
    return LoadedModel(bridge, "random-solu-4l-shape", "random", "memory", tokenizer)


def moved(model, device: str):
    """A new LoadedModel around the same bridge moved to ``device`` (a fresh ``extra``: the hook-free
    forward cached there holds the old device's tensors)."""
    from polytests.engine.models.loaded import LoadedModel

    model.bridge.to(device)
    return LoadedModel(model.bridge, model.name, model.digest, model.source, model.tokenizer, {}, model.inputs)


def copy_model(model):
    """A deep copy of a LoadedModel's bridge, in a new LoadedModel (same weights, same device)."""
    import copy

    from polytests.engine.models.loaded import LoadedModel

    return LoadedModel(copy.deepcopy(model.bridge), model.name, model.digest, model.source, model.tokenizer, {},
                       model.inputs)


def corpus_tokens(tokenizer, n_tokens: int):
    """(``n_tokens`` tokens of the repository's corpora, the number of tokens they hold): documents
    taken round-robin over the corpora (so every prefix mixes them), cycling through all of them
    again if needed, the last one cut."""
    from polytests.corpora import load_corpora
    from polytests.engine.tokenization import TokenizedDocuments, tokenize_documents

    corpora = load_corpora("corpora")
    lists = [list(c.documents) for c in corpora.values()]
    order = [lst[i] for i in range(max(len(lst) for lst in lists)) for lst in lists if i < len(lst)]
    all_docs = tokenize_documents(tokenizer, order)
    lengths = np.diff(all_docs.offsets)
    ids, doc_ids, corpus_of, pieces, total, cycle = [], [], [], [], 0, 0
    while total < n_tokens:
        for d in range(all_docs.n_docs):
            if total >= n_tokens:
                break
            take = int(min(lengths[d], n_tokens - total))
            if take == 0:
                continue
            pieces.append(all_docs.doc_tokens(d)[:take])
            doc_ids.append(f"{all_docs.doc_ids[d]}#{cycle}")
            corpus_of.append(all_docs.corpus_of_doc[d])
            ids.append(take)
            total += take
        cycle += 1
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(ids, out=offsets[1:])
    return (TokenizedDocuments(tuple(doc_ids), tuple(corpus_of), np.concatenate(pieces).astype(np.int32), offsets),
            all_docs.n_tokens)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class _Peak:
    """Peak memory over a block: CUDA's allocator peak on CUDA, sampled resident memory on the CPU."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self):
        gc.collect()
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from _rss import RssSampler

            self._sampler = RssSampler()
            self.before = self._sampler.peak
            self._sampler.__enter__()
        return self

    def __exit__(self, *exc):
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._sampler.__exit__(*exc)
            self.peak = self._sampler.peak

    def record(self) -> dict:
        kind = "cuda_max_memory_allocated" if self.device == "cuda" else "peak_rss_sampled_20ms"
        return {"memory_kind": kind, "memory_before_mib": round(self.before / 2**20, 1),
                "memory_peak_mib": round(self.peak / 2**20, 1)}


def time_collection(model, tokens, device: str) -> tuple[dict, object]:
    from polytests.engine.activations import CollectionRequest, collect
    from polytests.engine.models.fast import fast_forward

    request = CollectionRequest(layers=LAYERS)
    with _Peak(device) as peak:
        _sync(device)
        started = time.perf_counter()
        col = collect(model, tokens, request)
        _sync(device)
        wall = time.perf_counter() - started
    out = {"tokens": tokens.n_tokens, "documents": tokens.n_docs, "wall_s": round(wall, 3),
           "tokens_per_s": round(tokens.n_tokens / wall, 1), "hook_free_forward": fast_forward(model) is not None}
    out.update(peak.record())
    return out, col


def time_forward(model, tokens, device: str) -> dict:
    """The hook-free forward of the same batches collection runs, up to layer 3's activation site."""
    from polytests.engine.activations import input_format_of
    from polytests.engine.models.fast import fast_forward
    from polytests.engine.tokenization import batch_windows

    fast = fast_forward(model)
    if fast is None:
        return {"skipped": "no hook-free forward for this model on this device"}
    fmt = input_format_of(model)
    batches = batch_windows(fmt.windows(tokens), 8192)
    rows = [fmt.batch(tokens, b).rows for b in batches]
    with torch.inference_mode():
        _sync(device)
        started = time.perf_counter()
        for r in rows:
            h = fast.embed(r.to(device))
            for i in range(max(LAYERS) + 1):
                h = fast.block(i, h, capture={})
        _sync(device)
        wall = time.perf_counter() - started
    return {"tokens": tokens.n_tokens, "batches": len(batches), "wall_s": round(wall, 3),
            "tokens_per_s": round(tokens.n_tokens / wall, 1)}


def time_ablation(model, tokens, layer: int, n_neurons: int, device: str) -> tuple[dict, np.ndarray]:
    from polytests.engine.delta_loss import batched_delta_loss

    neurons = list(range(n_neurons))
    with _Peak(device) as peak:
        _sync(device)
        started = time.perf_counter()
        delta = batched_delta_loss(model, tokens, layer, neurons, "zero")
        _sync(device)
        wall = time.perf_counter() - started
    out = {"tokens": tokens.n_tokens, "documents": tokens.n_docs, "layer": layer, "neurons": n_neurons,
           "kind": "zero", "wall_s": round(wall, 3),
           "neuron_tokens_per_s": round(n_neurons * tokens.n_tokens / wall, 1)}
    out.update(peak.record())
    return out, delta


def compare_collections(cpu, gpu) -> dict:
    layers = {}
    for layer in LAYERS:
        a, b = cpu.stats[layer], gpu.stats[layer]
        layers[str(layer)] = {
            "counts_equal": bool(np.array_equal(a.count, b.count)),
            "sum_max_abs_diff": float(np.max(np.abs(a.sum - b.sum))),
            "sum_max_abs": float(np.max(np.abs(a.sum))),
            "sum_allclose": bool(np.allclose(b.sum, a.sum, rtol=COLLECT_RTOL, atol=COLLECT_ATOL)),
            "max_max_abs_diff": float(np.max(np.abs(a.max - b.max))),
        }
    ok = all(v["counts_equal"] and v["sum_allclose"] for v in layers.values())
    return {"tolerance": {"rtol": COLLECT_RTOL, "atol": COLLECT_ATOL}, "layers": layers, "agree": ok}


def compare_ablations(cpu: np.ndarray, gpu: np.ndarray) -> dict:
    return {"tolerance": {"rtol": ABLATE_RTOL, "atol": ABLATE_ATOL},
            "max_abs_diff": float(np.nanmax(np.abs(cpu - gpu))), "max_abs": float(np.nanmax(np.abs(cpu))),
            "agree": bool(np.allclose(gpu, cpu, rtol=ABLATE_RTOL, atol=ABLATE_ATOL, equal_nan=True))}


def prefix(tokens, n: int):
    """The first ``n`` tokens of ``tokens`` (whole documents, the last one cut)."""
    from polytests.engine.tokenization import TokenizedDocuments

    n = min(n, tokens.n_tokens)
    last = int(np.searchsorted(tokens.offsets, n, side="left"))  # offsets[last] >= n
    offsets = tokens.offsets[: last + 1].copy()
    offsets[-1] = n
    return TokenizedDocuments(tokens.doc_ids[:last], tokens.corpus_of_doc[:last], tokens.token_ids[:n], offsets)


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "torch": torch.__version__,
           "cuda_runtime": torch.version.cuda, "machine": platform.machine(), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads()}
    for name in ("transformer-lens", "transformers", "numpy", "pydantic", "datasets", "tokenizers"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
        out["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    out["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--tokens", default="8192", help="solu4l collection sizes, comma-separated")
    parser.add_argument("--embedded-tokens", default="", help="embedded-model collection sizes (default: --tokens)")
    parser.add_argument("--ablation-tokens", type=int, default=4096)
    parser.add_argument("--ablation-neurons", type=int, default=32)
    parser.add_argument("--ablation-layer", type=int, default=1)
    parser.add_argument("--big-ablation-tokens", type=int, default=0, help="also ablate on solu4l (0: skip)")
    parser.add_argument("--check-tokens", type=int, default=0,
                        help="also run a CPU copy of each model over this many tokens and compare "
                             "(with --device cpu this only exercises the check)")
    parser.add_argument("--warmup-tokens", type=int, default=2048)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    sizes = [int(s) for s in args.tokens.split(",") if s]
    emb_sizes = [int(s) for s in args.embedded_tokens.split(",") if s] or sizes
    dev = args.device

    from polytests.engine.models import load_model

    t0 = time.perf_counter()
    embedded = load_model("embedded", device=dev)
    tokenizer = embedded.tokenizer
    need = max(sizes + emb_sizes + [args.ablation_tokens, args.big_ablation_tokens, args.check_tokens,
                                    args.warmup_tokens])
    corpus, available = corpus_tokens(tokenizer, need)
    result = {"command": " ".join([os.path.basename(sys.executable)] + sys.argv), "device": dev,
              "date_utc": datetime.now(UTC).isoformat(timespec="seconds"), "versions": versions(),
              "corpus_tokens_available": available, "solu4l": {}, "embedded": {}, "complete": False}

    def dump() -> None:
        """Written after every measurement, so a run stopped by a time limit keeps what it measured."""
        if args.out:
            with open(args.out, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(result, indent=1) + "\n")

    for name, make in (("solu4l", lambda: build_solu4l(tokenizer)), ("embedded", lambda: embedded)):
        section = result[name]
        started = time.perf_counter()
        model = make()
        # The CPU reference for --check-tokens is a model of its own (moving a bridge moves it in place).
        if name == "solu4l":
            cpu_model = copy_model(model) if args.check_tokens > 0 else None
            model = moved(model, dev) if dev != "cpu" else model
        else:
            cpu_model = load_model("embedded", device="cpu") if args.check_tokens > 0 else None
        section["build_s"] = round(time.perf_counter() - started, 2)
        section["shape"] = {k: int(getattr(model.cfg, k)) for k in ("n_layers", "d_model", "d_mlp", "n_ctx", "d_vocab")}
        # Warm-up: builds and checks the hook-free forward, initialises the device's libraries.
        started = time.perf_counter()
        time_collection(model, prefix(corpus, args.warmup_tokens), dev)
        section["warmup_s"] = round(time.perf_counter() - started, 2)
        section["collection"] = []
        for n in (sizes if name == "solu4l" else emb_sizes):
            rec, _ = time_collection(model, prefix(corpus, n), dev)
            print(f"[{dev}] {name} collect {n:>9,} tokens: {rec['wall_s']:8.2f} s, "
                  f"{rec['tokens_per_s']:>11,.0f} tok/s, peak {rec['memory_peak_mib']:,.0f} MiB", flush=True)
            section["collection"].append(rec)
            dump()
        section["forward_only"] = time_forward(model, prefix(corpus, (sizes if name == "solu4l" else emb_sizes)[-1]),
                                               dev)
        dump()
        ab_tokens = args.big_ablation_tokens if name == "solu4l" else args.ablation_tokens
        ab = None
        if ab_tokens > 0:
            ab_toks = prefix(corpus, ab_tokens)
            time_ablation(model, prefix(corpus, 256), args.ablation_layer, 2, dev)  # warm-up
            section["ablation"], ab = time_ablation(model, ab_toks, args.ablation_layer, args.ablation_neurons, dev)
            dump()
            print(f"[{dev}] {name} ablate {args.ablation_neurons} neurons of layer {args.ablation_layer} over "
                  f"{ab_tokens:,} tokens: {section['ablation']['wall_s']:.2f} s", flush=True)
        if args.check_tokens > 0:
            check = prefix(corpus, args.check_tokens)
            _, gpu_col = time_collection(model, check, dev)
            _, cpu_col = time_collection(cpu_model, check, "cpu")
            section["check_collection"] = {"tokens": check.n_tokens, **compare_collections(cpu_col, gpu_col)}
            dump()
            print(f"[{dev}] {name} CPU vs {dev} collection over {check.n_tokens:,} tokens: "
                  f"agree={section['check_collection']['agree']}", flush=True)
            if ab is not None and name == "embedded":
                ab_cpu = time_ablation(cpu_model, ab_toks, args.ablation_layer, args.ablation_neurons, "cpu")[1]
                section["check_ablation"] = {"tokens": ab_toks.n_tokens, **compare_ablations(ab_cpu, ab)}
                dump()
                print(f"[{dev}] {name} CPU vs {dev} ablation: agree={section['check_ablation']['agree']}", flush=True)
        del model
        gc.collect()
        if dev == "cuda":
            torch.cuda.empty_cache()
    result["total_s"] = round(time.perf_counter() - t0, 1)
    result["complete"] = True
    dump()
    print(f"[{dev}] done in {result['total_s']} s" + (f"; results in {args.out}" if args.out else ""), flush=True)
    if not args.out:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
