"""Builders of tiny corpora and tiny models for the tests (no network, seconds to build)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from polytests.engine.activations import Collection
from polytests.engine.aggregates import doc_stats_direct
from polytests.engine.store import ActivationStore
from polytests.engine.tokenization import TokenizedDocuments
from polytests.neurons import NeuronRef

WORDS = {
    "alpha": "apple apricot avocado almond anise artichoke arugula acorn".split(),
    "beta": "bolt bracket beam buffer byte branch binary boolean".split(),
    "gamma": "gale gust gloom glacier grove gully gravel geyser".split(),
    "delta": "dune delta drift dew ditch dale dusk dawn".split(),
}


def write_tiny_corpora(root: Path, docs_per_corpus: int = 24, seed: int = 0) -> Path:
    """Four small corpora of distinct vocabularies (with shared punctuation)."""
    rng = random.Random(seed)
    for name, words in WORDS.items():
        docs = root / name / "docs"
        docs.mkdir(parents=True, exist_ok=True)
        (root / name / "CARD.md").write_text(f"# {name}\n\nTest corpus.\n")
        for i in range(docs_per_corpus):
            sentences = []
            for _ in range(rng.randint(2, 5)):
                sentences.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) + ".")
            (docs / f"{name}_{i:02d}.txt").write_text(" ".join(sentences) + "\n")
    return root


def explore_excerpts(root: Path, names, n_docs: int, chars: int) -> Path:
    """The first ``n_docs`` explore documents of corpora/``names``, each cut to ``chars`` characters,
    written under ``root`` as corpora (the split is by document id, so they stay explore): real text,
    small enough for a command's end-to-end test."""
    import shutil

    from polytests.corpora import load_corpora

    source = Path(__file__).resolve().parent.parent / "corpora"
    for name, corpus in load_corpora(source, list(names)).items():
        (root / name / "docs").mkdir(parents=True)
        shutil.copy(corpus.root / "CARD.md", root / name / "CARD.md")
        for d in corpus.split("explore")[:n_docs]:
            (root / name / "docs" / f"{d.name}.txt").write_text(d.text[:chars], encoding="utf-8")
    return root


def write_tiny_native_model(directory: Path, corpora_root: Path, *, seed: int = 0, act_fn: str = "solu_ln",
                            n_layers: int = 2, d_model: int = 32, d_mlp: int = 64, n_ctx: int = 32,
                            attention_dir: str = "causal") -> Path:
    """A random-weight native model in the polytests-native layout, with a BPE tokenizer."""
    from safetensors.torch import save_file

    from polytests.corpora import load_corpora
    from polytests.engine.models.loaded import POLYTESTS_FORMAT, import_bridge
    from polytests.engine.models.training import train_tokenizer

    TransformerBridge, TransformerBridgeConfig = import_bridge()
    directory.mkdir(parents=True, exist_ok=True)
    texts = [d.text for c in load_corpora(corpora_root).values() for d in c.documents]
    tokenizer = train_tokenizer(texts, 300, directory)
    config = {"d_model": d_model, "n_layers": n_layers, "d_mlp": d_mlp, "d_head": 8, "n_heads": d_model // 8,
              "n_ctx": n_ctx, "d_vocab": len(tokenizer), "act_fn": act_fn, "normalization_type": "LN",
              "positional_embedding_type": "standard"}
    bridge = TransformerBridge.boot_native(
        TransformerBridgeConfig(**config, seed=seed, attention_dir=attention_dir), tokenizer=tokenizer)
    save_file({k: v.contiguous() for k, v in bridge.state_dict().items()}, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(
        json.dumps(dict(config, polytests_format=POLYTESTS_FORMAT, attention_dir=attention_dir)))
    return directory


def synthetic_store(docs: dict[str, list[list[int]]], acts_of, *, neuron: NeuronRef | None = None, d_mlp: int = 4,
                    thresholds=(0.0,)) -> ActivationStore:
    """An ActivationStore with planted activations: ``acts_of(corpus, doc_index, token_ids)`` -> floats."""
    neuron = neuron or NeuronRef(0, 0)
    ids, offsets, doc_ids, corpus_of = [], [0], [], []
    acts = []
    for corpus, documents in docs.items():
        for i, toks in enumerate(documents):
            ids.extend(toks)
            offsets.append(offsets[-1] + len(toks))
            doc_ids.append(f"{corpus}/{i}")
            corpus_of.append(corpus)
            acts.extend(acts_of(corpus, i, toks))
    ids_a = np.asarray(ids, dtype=np.int32)
    tokens = TokenizedDocuments(tuple(doc_ids), tuple(corpus_of), ids_a, np.asarray(offsets, dtype=np.int64))
    acts_a = np.asarray(acts, dtype=np.float32)
    full = np.zeros((len(ids), d_mlp), dtype=np.float32)
    full[:, neuron.index] = acts_a
    stats = doc_stats_direct(full, tokens.doc_index_per_token(), tokens.n_docs, thresholds)
    col = Collection(site="blocks.{layer}.mlp.hook_post", stats={neuron.layer: stats}, masked_stats={},
                     topk_values={}, topk_index={}, token_acts={neuron: acts_a})
    return ActivationStore("synthetic", "0" * 64, "confirm", tokens, col)


def alpha_neurons(model, documents) -> tuple[str, str]:
    """(the layer-1 neuron that most clearly fires on corpus "alpha", the one that most clearly does
    not), found from the data: the relative effect at the default bound (0.05 of the neuron's scale)
    that the verdicts test, against the weakest other corpus for the first, the pooled rest for the second."""
    from polytests.claims.evaluate import neuron_scale
    from polytests.engine.activations import CollectionRequest
    from polytests.engine.store import build_store

    request = CollectionRequest(layers=(1,), neurons=tuple(NeuronRef(1, j) for j in range(model.d_mlp)))
    store = build_store(model, documents, "confirm", request)
    means = store.collection.stats[1].mean
    alpha = store.docs_of("alpha")
    rest = np.setdiff1d(np.arange(len(means)), alpha)
    others = [store.docs_of(c) for c in store.corpora if c != "alpha"]

    def theta(j: int, baseline: np.ndarray) -> float:
        bound = 0.05 * neuron_scale(store, NeuronRef(1, j))
        return float(np.mean(means[alpha, j][:, None] - bound > means[baseline, j][None, :]))

    n = means.shape[1]
    strong = max(range(n), key=lambda j: min(theta(j, b) for b in others))
    weak = min(range(n), key=lambda j: theta(j, rest))
    return f"L1N{strong}", f"L1N{weak}"


def check_or_write_section(doc: Path, start: str, end: str, text: str, command: str) -> None:
    """Hold the part of ``doc`` between the ``start`` and ``end`` markers equal to ``text`` (a
    test's output); with POLYTESTS_UPDATE_DOCS=1 write it there first."""
    import os

    current = doc.read_text(encoding="utf-8")
    before, rest = current.split(start, 1)
    _, after = rest.split(end, 1)
    fresh = f"{before}{start}\n{text}\n{end}{after}"
    if os.environ.get("POLYTESTS_UPDATE_DOCS") == "1":
        doc.write_text(fresh, encoding="utf-8")
    assert fresh == current, f"{doc.name} is out of date: rerun with POLYTESTS_UPDATE_DOCS=1 {command}"
