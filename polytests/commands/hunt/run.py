"""Running a hunt on a store, and the result that draws itself (rich) and writes its files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from polytests.claims.evaluate import EvaluationContext
from polytests.commands.hunt.controls import VERDICTS, Candidate, check_candidate
from polytests.commands.hunt.scan import Responses, scan_responses

__all__ = ["HuntResult", "hunt"]


@dataclass(frozen=True)
class HuntResult:
    responses: Responses
    k: int
    candidates: tuple[Candidate, ...]  # the top ``top`` neurons with exactly k, checked
    n_with_k: int
    split: str
    alpha: float
    explicit_baseline: bool = False
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        r = self.responses
        counts = r.counts()
        spread = ", ".join(f"{n} neurons respond to {m}" for m, n in sorted(counts.items()) if m)
        return (f"{len(r.neurons):,} neurons x {len(r.corpora)} corpora ({', '.join(r.corpora)}) on the {self.split} "
                f"split; a corpus responds when its documents exceed the pooled documents of the corpora the "
                f"neuron does not respond to by more than {r.min_effect:g} x the neuron's scale (bound test, BH "
                f"q <= {r.q:g} over {r.n_tests:,} tests). {spread or 'No neuron responds to any corpus'}; "
                f"{self.n_with_k} respond to exactly {self.k}; the top {len(self.candidates)} are checked "
                f"(controls at alpha {self.alpha:g}).")

    def __rich_console__(self, console, options):
        from rich.table import Table
        from rich.text import Text

        yield Text(self.summary())
        table = Table(title=f"neurons responding to exactly {self.k} corpora: what survives", title_justify="left")
        for col in ("neuron", "responds to", "gap/scale", "q", "response", "no shared", "no top token",
                    "same tokens", "verdict"):
            table.add_column(col, justify="right" if col in ("gap/scale", "q") else "left")
        styles = {"finding": "green", "partial": "yellow", "weak": "dim", "undecided": "yellow"}
        for c in self.candidates:
            cells = [str(c.neuron), ", ".join(c.corpora), f"{c.effect:.3f}", f"{c.qvalue:.1e}"]
            for ctl in (c.response, c.shared, c.one_token, c.token_matched):
                after = c.effect_after(ctl)
                cells.append(ctl.mark() + (f" {after:+.3f}" if after is not None else ""))
            verdict = c.verdict + (f" ({c.artifact_token!r} {c.artifact_share:.0%})" if c.artifact_token else "")
            table.add_row(*cells, Text(verdict, style=styles.get(c.verdict, "red bold")))
        yield table
        yield Text("columns after 'q': ✓ above the bound, ✗ shown below it, ? neither, – not applicable; "
                   "the number is the effect (x scale) under that control.", style="dim")
        for name, words in VERDICTS.items():
            yield Text(f"  {name}: {words}", style="dim")
        for note in self.notes:
            yield Text(note, style="yellow")


def hunt(store, layers, vocab, *, k: int, corpora=None, min_effect: float = 0.1, q: float = 0.05,
         alpha: float = 0.05, top: int = 15, n_resamples: int = 999, seed: int = 0, min_occurrences: int = 50,
         collect_tokens=None, explicit_baseline: bool | None = None, profiles=None) -> HuntResult:
    """Stage 1 on ``store``, then stage 2 on the top ``top`` neurons with exactly ``k`` corpora.

    ``collect_tokens(neurons) -> store`` returns a store holding per-token activations of those
    neurons (a second pass of the model); by default ``store`` must already hold them.
    """
    if k < 1:
        raise ValueError(f"--k must be at least 1, got {k}")
    responses = scan_responses(store, layers, corpora=corpora, min_effect=min_effect, q=q,
                               n_resamples=n_resamples, seed=seed, profiles=profiles)
    if k > len(responses.corpora) - 1:
        raise ValueError(f"--k {k} with {len(responses.corpora)} corpora: a neuron can respond to at most "
                         f"{len(responses.corpora) - 1} of them (the rest is the comparison)")
    with_k = responses.with_k(k)
    chosen = with_k[:top]
    neurons = [responses.neurons[i] for i in chosen]
    if neurons and collect_tokens is not None:
        store = collect_tokens(neurons)
    if explicit_baseline is None:
        explicit_baseline = set(responses.corpora) != set(store.corpora)
    ctx = EvaluationContext(store, vocab, n_resamples=n_resamples, seed=seed, min_effect=min_effect, alpha=alpha,
                            profiles=profiles)
    checked = tuple(check_candidate(ctx, responses.neurons[i], responses.responding(i), responses.others(i),
                                    min_effect=min_effect, alpha=alpha, min_occurrences=min_occurrences,
                                    effect=float(responses.effect[i]), qvalue=responses.q_of(i)) for i in chosen)
    notes = ()
    if responses.scale_method not in ("exact", "reference"):
        notes = (f"stage 1 read the neuron scale from the top activations ({responses.scale_method}); the controls "
                 "use the exact scale",)
    return HuntResult(responses, k, checked, len(with_k), store.split, alpha, explicit_baseline, notes)


def write_outputs(result: HuntResult, *, out: str | Path | None, html: str | Path | None, views) -> list[Path]:
    """Candidate claim files (``out``), PNGs and the HTML page (``html``, default ``out``)."""
    from polytests.commands.hunt.candidates import write_candidates
    from polytests.commands.hunt.pictures import (
        hunt_page,
        response_heatmap,
        token_heatmap,
    )

    written: list[Path] = []
    if out is not None:
        written += write_candidates(out, list(result.candidates), min_effect=result.responses.min_effect,
                                    explicit_baseline=result.explicit_baseline, split=result.split)
    folder = Path(html) if html is not None else Path(out) if out is not None else None
    if folder is None:
        return written
    folder.mkdir(parents=True, exist_ok=True)
    index = {n: i for i, n in enumerate(result.responses.neurons)}
    labelled = [index[c.neuron] for c in result.candidates]
    heat = response_heatmap(result.responses, labelled)
    if heat:
        (folder / "heatmap.png").write_bytes(heat)
        written.append(folder / "heatmap.png")
    pngs = {}
    for view in views:
        png = token_heatmap(view)
        if png:
            pngs[str(view.neuron)] = png
            path = folder / f"tokens-{view.neuron}.png"
            path.write_bytes(png)
            written.append(path)
    page = folder / "hunt.html"
    page.write_text(hunt_page(f"polytests hunt: exactly {result.k} of {len(result.responses.corpora)} corpora",
                              result.summary(), result.candidates, heat, views, pngs), encoding="utf-8")
    written.append(page)
    return written
