"""``polytests show L2N18 [L3N183 ...]``: Neuroscope's page of each neuron, in the terminal and as HTML.

Per neuron: its mean per corpus with a CI, an activation histogram per corpus, top token types,
the tokens it promotes and suppresses through the unembedding, the top and least-activating
contexts of every corpus, the neuron on the user's own text (``--text FILE|-``) and the claims
that name it. One model load and one activation store serve every neuron asked for; each
neuron's scale is the claims' own (:func:`neuron_scales`), so it is the one hunt reports too.
Progress goes to stderr, one line a step.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from polytests.claims.parse import read_claim_file
from polytests.neurons import NeuronRef

__all__ = ["ShowRequest", "claims_naming", "neuron_scales", "parse_neuron_for_model", "read_user_text",
           "show_page", "show_views", "user_text_store"]


def parse_neuron_for_model(text: str, model) -> NeuronRef:
    """``text`` as a neuron of ``model``; ValueError naming the neuron and the model's shape otherwise."""
    shape = (f"model {model.name!r} has {model.n_layers} layers x {model.d_mlp} neurons "
             f"(L0N0 .. L{model.n_layers - 1}N{model.d_mlp - 1})")
    try:
        neuron = NeuronRef.parse(text)
        neuron.check_against(model.n_layers, model.d_mlp)
    except ValueError as exc:
        raise ValueError(f"unknown neuron {text!r}: {exc}; the {shape}") from None
    return neuron


def claims_naming(neuron: NeuronRef, paths) -> list[str]:
    """One line per claim about ``neuron`` in the claim files under ``paths`` (TOML parsed; a file
    that does not parse is named with its first problem; Python files are searched for the name)."""
    lines = []
    name = str(neuron)
    pattern = re.compile(rf"[\"']{name}[\"']")
    for root in paths:
        root = Path(root)
        if not root.exists():
            continue
        files = sorted(root.rglob("*.toml")) + sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for path in files:
            if path.suffix == ".toml":
                contents = read_claim_file(path)
                for claim in contents.claims:
                    if claim.neuron == neuron:
                        expect = "" if claim.expect == "confirmed" else f" (expect {claim.expect})"
                        lines.append(f"{path}:{claim.line}: {claim.id}{expect}: {claim.statement}")
                if contents.problems and name in path.read_text(encoding="utf-8", errors="replace"):
                    lines.append(f"{path}: mentions {name} but does not parse: {contents.problems[0].error}")
            else:
                text = path.read_text(encoding="utf-8", errors="replace")
                for i, line in enumerate(text.splitlines(), 1):
                    if pattern.search(line):
                        lines.append(f"{path}:{i}: {line.strip()}")
    return lines


@dataclass(frozen=True)
class ShowRequest:
    """What ``polytests show`` was asked for (the CLI's options, parsed)."""

    neurons: tuple[NeuronRef, ...]
    split: str = "explore"
    names: tuple[str, ...] | None = None  # corpora to read (None: all)
    contexts: int = 3  # top and least-activating contexts per corpus
    logits: int = 10  # promoted and suppressed tokens
    bins: int = 40
    hypotheses: tuple[str, ...] = ()
    text: tuple[str, str] | None = None  # (source, text) of --text


def read_user_text(spec: str, stdin=None) -> tuple[str, str]:
    """(source, text) of ``--text``: a file's path, or ``-`` for standard input."""
    if spec == "-":
        return "stdin", (stdin or sys.stdin).read()
    path = Path(spec)
    try:
        return path.name, path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ValueError(f"--text {spec}: cannot read it ({exc.strerror or exc})") from None


def user_text_store(model, text: str, source: str, neurons):
    """An ActivationStore of ``neurons`` over the user's text, as one document read exactly as the
    corpora are (the same windows and special tokens); not cached."""
    from polytests.corpora.documents import Document
    from polytests.engine.activations import CollectionRequest
    from polytests.engine.store import build_store

    neurons = tuple(sorted(set(neurons)))
    doc = Document(corpus="your text", name=source, text=text, path=Path(source), split="text")
    request = CollectionRequest(layers=tuple(sorted({n.layer for n in neurons})), neurons=neurons)
    return build_store(model, [doc], "text", request)


def neuron_scales(store, vocab, neurons, profiles) -> dict[NeuronRef, float]:
    """Each neuron's scale exactly as the claims and hunt take it: ``EvaluationContext.scale_of``, i.e.
    the reference profile when the reference is fixed, else the 99.9th percentile |activation| over
    ``store``, which must then hold every corpus of the split (as the claims' store does)."""
    from polytests.claims.evaluate import EvaluationContext

    ctx = EvaluationContext(store, vocab, profiles=profiles)
    return {n: ctx.scale_of(n) for n in neurons}


def _stores(settings, model, request: ShowRequest, profiles):
    """The store of the asked corpora, and the one the scales come from when there is no fixed
    reference (every corpus of the split, as the claims measure; the same store when no subset)."""
    from polytests.engine.activations import CollectionRequest
    from polytests.engine.store import open_store

    collection = CollectionRequest(layers=tuple(sorted({n.layer for n in request.neurons})),
                                   neurons=tuple(sorted(set(request.neurons))))
    store = open_store(settings, model, request.split, collection, names=request.names)
    if profiles is not None or not request.names:
        return store, store
    return store, open_store(settings, model, request.split, collection)


def show_views(settings, model, request: ShowRequest, *, write: Callable[[str], None] | None = None) -> Iterator:
    """One NeuronView per neuron of ``request``, built in turn (``write``: progress lines)."""
    from polytests.commands.logit_attribution import logit_attribution
    from polytests.commands.neuron_parts import activation_histogram, corpus_contexts, text_run
    from polytests.commands.neuron_view import neuron_view
    from polytests.engine.reference import settings_profiles
    from polytests.engine.tokenization import vocab_of
    from polytests.progress import Steps

    steps = Steps(write, 2 + len(request.neurons) + (request.text is not None))
    layers = sorted({n.layer for n in request.neurons})
    steps(0, f"collecting activations of {len(request.neurons)} neuron(s) (layers {', '.join(map(str, layers))}) "
             f"on the {request.split} split")
    profiles = settings_profiles(settings, model, request.split)
    store, scale_store = _stores(settings, model, request, profiles)
    vocab = vocab_of(model)
    scale_on = ("reference text, as the claims and hunt take it" if profiles else
                f"{request.split} split, every corpus, as the claims take it (no fixed reference)")
    steps(1, f"neuron scales (on the {scale_on})")
    scales = neuron_scales(scale_store, vocab, request.neurons, profiles)
    done, runs = 2, {}
    if request.text is not None:
        steps(done, f"running the model on your text ({request.text[0]})")
        text_store = user_text_store(model, request.text[1], request.text[0], request.neurons)
        runs = {n: text_run(text_store, vocab, n, request.text[0]) for n in request.neurons}
        done += 1
    for i, neuron in enumerate(request.neurons):
        steps(done + i, f"the view of {neuron}")
        view = neuron_view(store, vocab, neuron, model=model.name, k=request.contexts,
                           ci_resamples=settings.resamples, seed=settings.seed,
                           claims=claims_naming(neuron, request.hypotheses), profiles=profiles,
                           scale=scales[neuron], scale_on=scale_on, split_contexts=False)
        order = tuple(m.corpus for m in view.means)
        yield _with(view, by_corpus=corpus_contexts(store, vocab, neuron, k=request.contexts, order=order),
                    histogram=activation_histogram(store, neuron, scale=scales[neuron], bins=request.bins,
                                                   order=order),
                    logits=logit_attribution(model, neuron, vocab, request.logits),
                    texts=(runs[neuron],) if neuron in runs else ())
    steps.finish(f"{len(request.neurons)} neuron view(s)")


def _with(view, **changes):
    from dataclasses import replace

    return replace(view, **changes)


def show_page(title: str, meta: str, views) -> str:
    """A self-contained HTML page (inline CSS, data-URI images) of the views, one section each."""
    from polytests.reports.html import CSP, STYLE

    e = lambda v: html.escape(str(v), quote=True)  # noqa: E731
    index = " · ".join(f"<a href='#{e(v.neuron)}'>{e(v.neuron)}</a>" for v in views)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
            f"content=\"{CSP}\"><title>{e(title)}</title><style>{STYLE}</style></head><body><h1>{e(title)}</h1>"
            f"<p class='meta'>{e(meta)}</p><p>{index}</p>" + "".join(v.to_html() for v in views)
            + "</body></html>\n")
