"""The ``polytests`` command: corpora upkeep, training and describing the embedded model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from polytests.commands.options import add_settings_options, resolve_args, settings_of
from polytests.engine.reference import ReferenceTextError
from polytests.settings import SettingsError

# Settings keys every command that reads activations takes, as --polytests-<key> or the alias.
COMMAND_KEYS = ("model", "corpora", "reference", "cache_dir", "seed", "resamples")
ALIASES = {"model": ("--model",), "cache_dir": ("--cache-dir",), "seed": ("--seed",),
           "resamples": ("--resamples",), "alpha": ("--alpha",), "min_effect": ("--min-effect",)}
TRAINING_STEPS = 1150  # the shipped model's; see polytests.engine.models.training.TrainingConfig


def _corpora(args) -> int:
    from polytests.corpora import SPLITS, build_manifest, check_manifest, load_corpora
    from polytests.corpora.gibberish import write_corpus
    from polytests.corpora.manifest import MANIFEST_NAME

    resolve_args(args, "corpora")
    root = Path(args.corpora)
    if args.gibberish:
        print(f"wrote {write_corpus(root)}")
    corpora = load_corpora(root)
    manifest_path = root / MANIFEST_NAME
    if args.write_manifest:
        manifest_path.write_text(build_manifest(corpora).to_json())
        print(f"wrote {manifest_path}")
    problems = check_manifest(corpora, manifest_path)
    origins = build_manifest(corpora).origins()
    for name, corpus in corpora.items():
        sizes = [len(corpus.split(s)) for s in SPLITS]
        total = sum(len(d.text.encode()) for d in corpus.documents)
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(origins.get(name, {}).items()))
        print(f"{name:16s} {len(corpus.documents):4d} docs ({kinds}) {total:9,d} bytes  {'/'.join(SPLITS)} {sizes}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _training_data(args) -> int:
    from polytests.training_data.gather import default_cache_dir, gather
    from polytests.training_data.sources import SOURCES

    sources = tuple(s for s in SOURCES if not args.only or s.name in args.only)
    unknown = sorted(set(args.only or ()) - {s.name for s in SOURCES})
    if unknown:
        print(f"unknown source {unknown[0]!r}; known: {', '.join(s.name for s in SOURCES)}", file=sys.stderr)
        return 2
    resolve_args(args, "corpora")
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    manifest = gather(cache, args.corpora, sources,
                      manifest_path=None if args.no_manifest else Path(args.manifest),
                      gibberish_count=0 if args.only else args.gibberish,
                      progress=lambda line: print(line, flush=True))
    for kind, row in sorted(manifest["kinds"].items()):
        print(f"{kind:16s} {row.get('documents', 0):6d} docs {row.get('chars', 0):12,d} chars  "
              f"reserved {row.get('reserved', 0):5d}  dropped (overlap with corpora) {row.get('dropped_overlap', 0):5d}")
    print(f"text in {cache / 'text'}")
    return 0


def _train(args) -> int:
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from polytests.engine.models.loading import EMBEDDED_MODEL_DIR
    from polytests.engine.models.training import TrainingConfig, train_model
    from polytests.training_data.gather import default_cache_dir

    resolve_args(args, "corpora")
    cfg = TrainingConfig(seed=args.seed, steps=args.steps)
    out = Path(args.out) if args.out else EMBEDDED_MODEL_DIR
    data = Path(args.data_dir) if args.data_dir else default_cache_dir()
    columns = (TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=args.quiet) as bar:
        task = bar.add_task("train", total=cfg.steps, status="")
        last = {"heldout": float("nan")}

        def progress(step, total, loss, heldout):
            if heldout is not None:
                last["heldout"] = heldout
                if args.quiet or not bar.console.is_terminal:
                    print(f"step {step:5d}/{total}  train {loss:.3f}  held-out {heldout:.3f}", flush=True)
            bar.update(task, completed=step, status=f"train {loss:.3f}  held-out {last['heldout']:.3f}")

        log = train_model(data, out, cfg, progress=progress, corpora_root=args.corpora)
    print(f"trained {cfg.steps} steps in {log['seconds'] / 60:.1f} min; wrote {out}")
    return 0


def _card(args) -> int:
    from polytests.commands.model_card import PREVIOUS_MODEL_DIR, write_model_card
    from polytests.engine.models.loading import EMBEDDED_MODEL_DIR

    resolve_args(args, "corpora")
    previous = None if args.no_previous else (args.previous or PREVIOUS_MODEL_DIR)
    print(f"wrote {write_model_card(args.model_dir or EMBEDDED_MODEL_DIR, args.corpora, args.data_dir, previous, args.ablation_top)}")
    return 0


def _hunt(args) -> int:
    from polytests.commands.hunt import hunt
    from polytests.commands.hunt.run import write_outputs
    from polytests.commands.neuron_view import neuron_view
    from polytests.engine.reference import settings_profiles
    from polytests.engine.store import load_settings_model
    from polytests.reports.terminal import command_console

    console = command_console()
    settings = settings_of(args, *COMMAND_KEYS)
    model = load_settings_model(settings)
    try:
        layers = _layers_of(args, model)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    store, with_tokens, scales = _scan_stores(settings, model, args.split, layers, args.names)
    vocab = _vocab(model)
    profiles = settings_profiles(settings, model, args.split)
    min_effect = _min_effect(args, settings)
    result = hunt(store, layers, vocab, k=args.k, min_effect=min_effect, q=args.q, alpha=args.alpha,
                  top=args.top, n_resamples=settings.resamples, seed=settings.seed, collect_tokens=with_tokens,
                  explicit_baseline=bool(args.names), profiles=profiles,
                  scales=None if profiles is not None else scales(), **_silent(args))
    console.print(result)
    if args.out or args.html:
        tstore = with_tokens([c.neuron for c in result.candidates]) if result.candidates else store
        scale_of = {c.neuron: c.scale for c in result.candidates}
        views = [neuron_view(tstore, vocab, c.neuron, model=model.name, k=args.contexts,
                             ci_resamples=min(settings.resamples, 999), seed=settings.seed, profiles=profiles,
                             scale=scale_of[c.neuron], scale_on=result.scale_on)
                 for c in result.candidates[: args.pictures]]
        written = write_outputs(result, out=args.out, html=args.html, views=views)
        for path in written:
            console.print(f"wrote {path}")
    return 0


def _stderr_line(line: str) -> None:
    """A progress line of a command: on stderr, so that its stdout stays the view or the table."""
    print(line, file=sys.stderr, flush=True)


def _layers_of(args, model) -> tuple[int, ...]:
    """``--layers`` (default: every layer), each checked against the model (ValueError naming it)."""
    layers = tuple(args.layers) if args.layers else tuple(range(model.n_layers))
    bad = [layer for layer in layers if not 0 <= layer < model.n_layers]
    if bad:
        raise ValueError(f"--layers {bad[0]}: model {model.name!r} has {model.n_layers} layers "
                         f"(0..{model.n_layers - 1})")
    return layers


def _min_effect(args, settings) -> float:
    """``--min-effect``, else the claims' ``min_effect``: one smallest effect for hunt, atlas and claims."""
    return settings.min_effect if args.min_effect is None else args.min_effect


def _hypotheses(args, settings) -> tuple[str, ...]:
    """``--hypotheses``, else the settings' hypothesis folders (where the claims naming a neuron are)."""
    return tuple(args.hypotheses or [str(settings.path(h)) for h in settings.hypotheses])


def _silent(args) -> dict:
    """``silent_below`` when --silent-below was given (else the hunt's default, SILENT_BELOW)."""
    return {} if args.silent_below is None else {"silent_below": args.silent_below}


def _vocab(model):
    from polytests.engine.tokenization import vocab_of

    return vocab_of(model)


def _scan_stores(settings, model, split: str, layers, names):
    """What hunt and atlas scan: the store of ``names`` (every neuron's document means and top
    activations), a function giving a store with per-token activations of some neurons, and one
    giving the scales measured on every corpus of the split (as the claims measure them without a
    fixed reference; the scan's own store when ``names`` is every corpus)."""
    from polytests.commands.hunt import scale_top_k
    from polytests.commands.hunt.scan import layer_scales
    from polytests.engine.activations import CollectionRequest
    from polytests.engine.store import open_store, split_documents
    from polytests.engine.tokenization import tokenize_documents

    def top_k_of(docs) -> int:
        return max(20, scale_top_k(tokenize_documents(model.tokenizer, docs).n_tokens))

    docs = split_documents(settings, split, names)
    top_k = top_k_of(docs)
    store = open_store(settings, model, split, CollectionRequest(layers=layers, top_k=top_k), documents=docs)

    def with_tokens(neurons):
        return open_store(settings, model, split,
                          CollectionRequest(layers=layers, neurons=tuple(neurons), top_k=top_k), documents=docs)

    def scales():
        every = split_documents(settings, split)
        if len(every) == len(docs):
            return layer_scales(store, layers)
        full = open_store(settings, model, split, CollectionRequest(layers=layers, top_k=top_k_of(every)),
                          documents=every)
        return layer_scales(full, layers)

    return store, with_tokens, scales


def _atlas(args) -> int:
    from polytests.commands.atlas import build_atlas
    from polytests.commands.hunt.run import SILENT_BELOW, near_silent
    from polytests.commands.hunt.scan import scan_responses
    from polytests.commands.show import parse_neuron_for_model
    from polytests.engine.reference import settings_profiles
    from polytests.engine.store import load_settings_model

    settings = settings_of(args, *COMMAND_KEYS)
    _stderr_line(f"polytests atlas: loading model {settings.model}")
    model = load_settings_model(settings)
    try:
        layers = _layers_of(args, model)
        extra = tuple(dict.fromkeys(parse_neuron_for_model(n, model) for n in args.neuron or ()))
        layers = tuple(sorted(set(layers) | {n.layer for n in extra}))  # every page has its row in the index
        if args.pages < 0:
            raise ValueError(f"--pages must be >= 0, got {args.pages}")
    except ValueError as exc:
        print(f"polytests atlas: {exc}", file=sys.stderr)
        return 2
    _stderr_line(f"polytests atlas: scanning {model.d_mlp * len(layers):,} neurons (layers "
          f"{', '.join(map(str, layers))}) on the {args.split} split")
    store, _, scales = _scan_stores(settings, model, args.split, layers, args.names)
    profiles = settings_profiles(settings, model, args.split)
    min_effect = _min_effect(args, settings)
    responses = scan_responses(store, layers, min_effect=min_effect, q=args.q, n_resamples=settings.resamples,
                               seed=settings.seed, profiles=profiles, scales=None if profiles is not None else scales())
    fraction = SILENT_BELOW if args.silent_below is None else args.silent_below
    silent = near_silent(responses, fraction)
    written = build_atlas(settings, model, responses, silent, out=args.out, names=args.names, split=args.split,
                          silent_below=fraction,
                          extra=extra, pages=max(args.pages, len(extra)), contexts=args.contexts, logits=args.logits,
                          bins=args.bins, write=_stderr_line,
                          hypotheses=_hypotheses(args, settings))
    print(f"wrote {written[-1]} and {len(written) - 1} neuron page(s) in {Path(args.out) / 'neurons'}")
    return 0


def _show(args) -> int:
    from rich.rule import Rule

    from polytests.commands.show import ShowRequest, parse_neuron_for_model, read_user_text, show_page, show_views
    from polytests.engine.store import load_settings_model
    from polytests.reports.terminal import command_console

    settings = settings_of(args, *COMMAND_KEYS)
    _stderr_line(f"polytests: loading model {settings.model}")
    model = load_settings_model(settings)
    try:
        neurons = tuple(dict.fromkeys(parse_neuron_for_model(n, model) for n in args.neuron))
        text = read_user_text(args.text) if args.text else None
        if args.bins < 1 or args.contexts < 0 or args.logits < 0:
            raise ValueError(f"--bins must be >= 1 and --contexts, --logits >= 0 (got {args.bins}, {args.contexts}, "
                             f"{args.logits})")
    except ValueError as exc:
        print(f"polytests show: {exc}", file=sys.stderr)
        return 2
    request = ShowRequest(neurons, args.split, tuple(args.names) if args.names else None, args.contexts,
                          args.logits, args.bins,
                          _hypotheses(args, settings), text)
    console, views = command_console(), []
    for view in show_views(settings, model, request, write=_stderr_line):
        if views:
            console.print(Rule())
        console.print(view)
        views.append(view)
    if args.html:
        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        Path(args.html).write_text(show_page(f"polytests show {' '.join(str(n) for n in neurons)}",
                                             f"{model.name}, {args.split} split", views), encoding="utf-8")
        print(f"wrote {args.html}")
    return 0


def _history(args) -> int:
    from polytests.reports.history import render_history

    settings = settings_of(args, "report_dir")
    ledger = Path(args.ledger) if args.ledger else settings.path(settings.report_dir) / "history.jsonl"
    text, code = render_history(ledger, args.claim)
    print(text, end="")
    return code


def _cache_key(args) -> int:
    from polytests.corpora import build_manifest, load_corpora
    from polytests.engine.store import load_settings_model

    settings = settings_of(args, "model", "corpora")
    model = load_settings_model(settings)
    corpus_hash = build_manifest(load_corpora(settings.path(settings.corpora)), with_sources=False).corpus_hash
    print(f"polytests-activations-{model.digest[:16]}-{corpus_hash[:16]}")
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


def _calibrate(args) -> int:
    from polytests.commands.calibrate import main as calibrate

    resolve_args(args, *COMMAND_KEYS, "alpha", "min_effect")
    return calibrate(args)


def _reference(args) -> int:
    from polytests.commands.reference_text import rebuild_sample, write_all_profiles
    from polytests.engine.models.loading import EMBEDDED_MODEL_DIR
    from polytests.engine.reference import ReferenceProfiles, ReferenceTextError, resolve_reference
    from polytests.engine.store import load_settings_model, split_documents

    settings = settings_of(args, "model", "corpora", "reference", "cache_dir")
    if args.sample_from:
        sha = rebuild_sample(Path(args.sample_from), EMBEDDED_MODEL_DIR,
                             Path(__file__).resolve().parent / "embedded" / "training_data.json")
        print(f"wrote {EMBEDDED_MODEL_DIR / 'reference.jsonl'} (sha256 {sha})")
    model = load_settings_model(settings)
    try:
        reference = resolve_reference(settings.reference, model, settings.root,
                                      lambda: split_documents(settings, "confirm"), lambda: "the corpora")
    except ReferenceTextError as exc:
        print(f"polytests reference: {exc}", file=sys.stderr)
        return 2
    if not reference.fixed:
        print(f"{model.name}: no reference text (no reference.jsonl beside its weights, and [tool.polytests] "
              "reference is not a path): scales and null neurons come from the run's corpora and move when they "
              "change. Fix: write reference = \"path/to/text.jsonl\" (docs/statistics.md, 'The reference text')")
        return 0
    profiles = ReferenceProfiles(model, reference, settings.path(settings.cache_dir))
    print(f"{model.name}: reference {reference.source}\n  sha256 {reference.sha256}\n  "
          f"{len(reference.documents)} documents, {profiles.tokens.n_tokens:,} tokens")
    if args.write_profiles:
        print(f"wrote {write_all_profiles(model, reference)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polytests", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpora", help="list corpora, check or rewrite the manifest, regenerate gibberish")
    add_settings_options(p, "corpora", aliases={"corpora": ("--root",)})
    p.add_argument("--write-manifest", action="store_true")
    p.add_argument("--gibberish", action="store_true", help="regenerate corpora/gibberish from its seed")
    p.set_defaults(func=_corpora)
    p = sub.add_parser("training-data", help="download and extract the embedded model's training text")
    p.add_argument("--cache-dir", help="where the archives and text go (default: $POLYTESTS_DATA_DIR or "
                   "~/.cache/polytests/training-text)")
    add_settings_options(p, "corpora", aliases={"corpora": ("--corpora",)},
                         help_of={"corpora": "corpora whose documents the text must not overlap"})
    p.add_argument("--only", nargs="*", help="gather only these sources (names in training_data/sources.py)")
    p.add_argument("--manifest", default=str(Path(__file__).resolve().parent / "embedded" / "training_data.json"))
    p.add_argument("--no-manifest", action="store_true", help="do not rewrite the manifest (a subset, a test)")
    p.add_argument("--gibberish", type=int, default=3000, help="generated gibberish documents")
    p.set_defaults(func=_training_data)
    p = sub.add_parser("train-model", help="train the embedded SoLU model on the gathered text (resumable)")
    p.add_argument("--data-dir", help="the folder `polytests training-data` filled (default: its default)")
    add_settings_options(p, "corpora", aliases={"corpora": ("--corpora",)},
                         help_of={"corpora": "corpora whose explore split the curve shows (never trained on)"})
    p.add_argument("--out", help="output folder (default: the embedded model's folder)")
    p.add_argument("--seed", type=int, default=0, help="the training seed (not the resampling seed of the settings)")
    p.add_argument("--steps", type=int, default=TRAINING_STEPS)
    p.add_argument("--quiet", action="store_true", help="plain lines instead of a progress bar")
    p.set_defaults(func=_train)
    p = sub.add_parser("model-card", help="write MODEL_CARD.md and training_curve.png for a trained model")
    add_settings_options(p, "corpora", aliases={"corpora": ("--corpora",)})
    p.add_argument("--model-dir")
    p.add_argument("--data-dir", help="the gathered training text (for the unigram baseline)")
    p.add_argument("--previous", help="the previous embedded model, compared on the documents neither saw")
    p.add_argument("--no-previous", action="store_true")
    p.add_argument("--ablation-top", type=int, default=20, help="neurons per layer and corpus in the ablation table")
    p.set_defaults(func=_card)
    p = sub.add_parser("hunt", help="neurons responding to exactly k of the chosen corpora, with controls "
                       "(explore split); candidate claims, heatmaps, an HTML page")
    add_settings_options(p, *COMMAND_KEYS, aliases={**ALIASES, "corpora": ("--corpora-dir",)},
                         help_of={"resamples": "permutation resamples of the scan and the controls"})
    p.add_argument("--corpora", nargs="*", metavar="NAME", dest="names", help="corpora to compare (default: all); "
                   "the original analysis: fortran spanish_poetry medical gibberish")
    p.add_argument("--split", default="explore", choices=["explore"],
                   help="never confirm: candidates are judged there")
    p.add_argument("--layers", type=int, nargs="*")
    p.add_argument("--k", type=int, default=2, help="corpora a neuron responds to (default 2, as the original)")
    p.add_argument("--min-effect", type=float, default=None,
                   help="a corpus responds when above the others by this x the neuron's scale (default: the "
                   "claims' min_effect, 0.05: a candidate is what a claim at the default bound could confirm)")
    p.add_argument("--top", type=int, default=15, help="candidates checked and listed")
    p.add_argument("--q", type=float, default=0.05, help="BH q-value threshold over the scan")
    p.add_argument("--alpha", type=float, default=0.05, help="level of each control on a candidate")
    p.add_argument("--out", help="write one candidate claim file per candidate here, with the pictures")
    p.add_argument("--html", help="write hunt.html and the PNGs here (default: --out)")
    p.add_argument("--silent-below", type=float, metavar="FRACTION",
                   help="flag a neuron near-silent when its scale is below this x the median scale of its layer "
                   "(default 0.1, polytests.commands.hunt.run.SILENT_BELOW; docs/hunt.md)")
    p.add_argument("--pictures", type=int, default=6, help="candidates with token heatmaps")
    p.add_argument("--contexts", type=int, default=6, help="top contexts per neuron in the pictures")
    p.set_defaults(func=_hunt)
    p = sub.add_parser("show", help="neurons, Neuroscope-style: per-corpus means with CI, activation histograms, "
                       "top and least-activating contexts per corpus, direct logit attribution, your own text, "
                       "claims naming them")
    p.add_argument("neuron", nargs="+", help="e.g. L2N18 (several: one view each, one model load)")
    add_settings_options(p, *COMMAND_KEYS, aliases={**ALIASES, "corpora": ("--corpora-dir",)},
                         help_of={"resamples": "bootstrap resamples of the CIs"})
    p.add_argument("--corpora", nargs="*", metavar="NAME", dest="names", help="corpora to read (default: all)")
    p.add_argument("--split", default="explore", choices=["explore", "confirm"])
    p.add_argument("--hypotheses", nargs="*", help="claim files or folders to search "
                   "(default: [tool.polytests] hypotheses)")
    p.add_argument("--html", help="also write the views as a self-contained page to this file")
    p.add_argument("--contexts", type=int, default=3, help="top and least-activating contexts per corpus (each)")
    p.add_argument("--logits", type=int, default=10, help="tokens promoted and suppressed (direct logit attribution)")
    p.add_argument("--bins", type=int, default=40, help="bins of the activation histograms")
    p.add_argument("--text", metavar="FILE", help="run the neurons over this text file (- for stdin), tokens shaded")
    p.set_defaults(func=_show)
    p = sub.add_parser("atlas", help="a static, self-contained HTML atlas: every neuron of the layers with its "
                       "per-corpus means and the hunt's flags, searchable, linking to show pages")
    add_settings_options(p, *COMMAND_KEYS, aliases={**ALIASES, "corpora": ("--corpora-dir",)},
                         help_of={"resamples": "resamples of the scan and of the pages' CIs"})
    p.add_argument("--out", required=True, help="the atlas folder (index.html, neurons/*.html)")
    p.add_argument("--corpora", nargs="*", metavar="NAME", dest="names", help="corpora to compare (default: all)")
    p.add_argument("--split", default="explore", choices=["explore"], help="never confirm, as the hunt")
    p.add_argument("--layers", type=int, nargs="*", help="layers (default: all)")
    p.add_argument("--neuron", action="append", help="also a page for this neuron (e.g. L2N245); repeatable")
    p.add_argument("--pages", type=int, default=50, help="neuron pages at most (default 50): the --neuron ones, "
                   "then the responding neurons, most corpora and largest effect first")
    p.add_argument("--min-effect", type=float, default=None,
                   help="the hunt's bound, x the neuron's scale (default: the claims' min_effect, 0.05)")
    p.add_argument("--q", type=float, default=0.05, help="BH q-value threshold over the scan")
    p.add_argument("--silent-below", type=float, metavar="FRACTION",
                   help="near-silent below this x the median scale of the layer (default 0.1, as hunt)")
    p.add_argument("--contexts", type=int, default=3, help="top and least-activating contexts per corpus (each)")
    p.add_argument("--logits", type=int, default=10, help="tokens promoted and suppressed on each page")
    p.add_argument("--bins", type=int, default=40, help="bins of the activation histograms")
    p.add_argument("--hypotheses", nargs="*", help="claim files or folders to search (default: [tool.polytests] "
                   "hypotheses)")
    p.set_defaults(func=_atlas)
    p = sub.add_parser("reference", help="the reference text neuron scales and null neurons are measured on; "
                       "rebuild the embedded model's sample and its profiles")
    add_settings_options(p, "model", "corpora", "reference", "cache_dir", aliases=ALIASES)
    p.add_argument("--sample-from", metavar="RESERVED_JSONL",
                   help="rebuild the embedded model's reference.jsonl from reserved.jsonl of `polytests training-data`")
    p.add_argument("--write-profiles", action="store_true",
                   help="compute every layer's profile and write reference_profiles.safetensors beside the reference")
    p.set_defaults(func=_reference)
    p = sub.add_parser("history", help="a claim's verdicts and effects over the runs in the ledger")
    p.add_argument("claim", nargs="?", help="claim id (default: one line per claim)")
    add_settings_options(p, "report_dir")
    p.add_argument("--ledger", help="the ledger file (default: history.jsonl in the report folder)")
    p.set_defaults(func=_history)
    p = sub.add_parser("cache-key", help="the activation cache's key for CI: model digest and corpus hash")
    add_settings_options(p, "model", "corpora", aliases={"model": ("--model",), "corpora": ("--corpora",)})
    p.set_defaults(func=_cache_key)
    p = sub.add_parser("schema", help="print the JSON Schema of claim files (for editors: taplo, VS Code)")
    p.add_argument("--output", "-o", help="write it to this file instead of standard output")
    p.set_defaults(func=_schema)
    p = sub.add_parser("calibrate", help="error rates of the verdicts on null claims built from real activations")
    add_settings_options(p, *COMMAND_KEYS, "alpha", "min_effect", aliases={**ALIASES, "corpora": ("--corpora",)},
                         help_of={"resamples": "resamples per test"})
    p.add_argument("--claims", type=int, default=1000, help="null claims per predicate kind")
    p.add_argument("--neurons", type=int, default=64, help="neurons sampled (across layers)")
    p.add_argument("--neuron", action="append", help="also this neuron (e.g. L1N362), in rows of its own; repeatable")
    p.add_argument("--power-sims", type=int, default=200, help="simulations per point of the power curves (0: none)")
    p.add_argument("--out", help="write the markdown table here (e.g. docs/calibration.md)")
    p.add_argument("--figure", help="write the power curves here (e.g. docs/power.png)")
    p.set_defaults(func=_calibrate)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"polytests {args.command}: {exc}", file=sys.stderr)
        return 2
    except ReferenceTextError as exc:  # [tool.polytests] reference names a file that cannot be read
        print(f"polytests {args.command}: [tool.polytests] reference: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
