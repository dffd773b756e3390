"""The ``polytests`` command: corpora upkeep, training and describing the embedded model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _corpora(args) -> int:
    from polytests.corpora import build_manifest, check_manifest, load_corpora
    from polytests.corpora.gibberish import write_corpus
    from polytests.corpora.manifest import MANIFEST_NAME

    root = Path(args.root)
    if args.gibberish:
        print(f"wrote {write_corpus(root)}")
    corpora = load_corpora(root)
    manifest_path = root / MANIFEST_NAME
    if args.write_manifest:
        manifest_path.write_text(build_manifest(corpora).to_json())
        print(f"wrote {manifest_path}")
    problems = check_manifest(corpora, manifest_path)
    for name, corpus in corpora.items():
        sizes = [len(corpus.split(s)) for s in ("train", "explore", "confirm")]
        total = sum(len(d.text.encode()) for d in corpus.documents)
        print(f"{name:16s} {len(corpus.documents):4d} docs {total:8,d} bytes  train/explore/confirm {sizes}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _train(args) -> int:
    from polytests.models.loading import EMBEDDED_MODEL_DIR
    from polytests.models.training import TrainingConfig, train_model

    cfg = TrainingConfig(seed=args.seed, steps=args.steps)
    out = Path(args.out) if args.out else EMBEDDED_MODEL_DIR

    def progress(step, total, loss, explore):
        print(f"step {step:5d}/{total}  train {loss:.3f}  explore {explore:.3f}", flush=True)

    log = train_model(args.corpora, out, cfg, progress=progress)
    print(f"kept step {log['best_step']} (explore loss {log['best_explore_loss']:.3f}); wrote {out}")
    return 0


def _card(args) -> int:
    from polytests.models.card import write_model_card
    from polytests.models.loading import EMBEDDED_MODEL_DIR

    print(f"wrote {write_model_card(args.model_dir or EMBEDDED_MODEL_DIR, args.corpora)}")
    return 0


def _hunt(args) -> int:
    from polytests.activations import CollectionRequest
    from polytests.cache import ActivationCache
    from polytests.corpora import load_corpora
    from polytests.hunt import candidate_claims, scan
    from polytests.models import load_model
    from polytests.store import build_store

    model = load_model(args.model)
    layers = tuple(args.layers) if args.layers else tuple(range(model.n_layers))
    docs = [d for c in load_corpora(args.corpora).values() for d in c.split(args.split)]
    store = build_store(model, docs, args.split, CollectionRequest(layers=layers),
                        cache=ActivationCache(args.cache_dir), progress=True)
    found = scan(store, layers, n_resamples=args.resamples, seed=args.seed)
    n_hits = sum(c.qvalue <= args.q for c in found)
    print(f"# polytests hunt: {len(found):,} (corpus, neuron) tests on the {args.split} split, "
          f"{n_hits:,} with BH q <= {args.q}; judge these on the confirm split\n")
    print(candidate_claims(found, top=args.top, q_max=args.q))
    return 0


def _schema(args) -> int:
    import json

    from polytests.claims.model import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polytests", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpora", help="list corpora, check or rewrite the manifest, regenerate gibberish")
    p.add_argument("--root", default="corpora")
    p.add_argument("--write-manifest", action="store_true")
    p.add_argument("--gibberish", action="store_true", help="regenerate corpora/gibberish from its seed")
    p.set_defaults(func=_corpora)
    p = sub.add_parser("train-model", help="train the embedded SoLU model on the train split")
    p.add_argument("--corpora", default="corpora")
    p.add_argument("--out", help="output folder (default: the embedded model's folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=600)
    p.set_defaults(func=_train)
    p = sub.add_parser("model-card", help="write MODEL_CARD.md and training_curve.png for a trained model")
    p.add_argument("--corpora", default="corpora")
    p.add_argument("--model-dir")
    p.set_defaults(func=_card)
    p = sub.add_parser("hunt", help="scan every neuron on the explore split; print candidate claims (TOML)")
    p.add_argument("--model", default="embedded")
    p.add_argument("--corpora", default="corpora")
    p.add_argument("--split", default="explore", choices=["explore", "train"],
                   help="never confirm: candidates are judged there")
    p.add_argument("--layers", type=int, nargs="*")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--q", type=float, default=0.05, help="BH q-value threshold")
    p.add_argument("--resamples", type=int, default=999)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default=".polytests_cache")
    p.set_defaults(func=_hunt)
    p = sub.add_parser("schema", help="print the JSON Schema of claim files (for editors: taplo, VS Code)")
    p.add_argument("--output", "-o", help="write it to this file instead of standard output")
    p.set_defaults(func=_schema)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
