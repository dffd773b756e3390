"""Running a hunt on a store, and the result that draws itself (rich) and writes its files.

Besides the candidates, a hunt reports every scanned neuron: the neurons responding to more than
``k`` corpora (listed, not only counted), near-silent neurons (:func:`near_silent`), and a CSV of
every neuron x corpus statistic for notebooks (:func:`table_rows`, ``neurons.csv``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from polytests.claims.evaluate import EvaluationContext
from polytests.commands.hunt.controls import VERDICTS, Candidate, ScaledContext, check_candidate, control_cell
from polytests.commands.hunt.scan import LayerScales, Responses, scan_responses

__all__ = ["CSV_COLUMNS", "SILENT_BELOW", "HuntResult", "TableRow", "hunt", "near_silent", "table_rows",
           "write_outputs", "write_table"]

# A neuron is near-silent when its scale is below this fraction of the median scale of its layer
# (docs/hunt.md, "Near-silent neurons"): its effects in units of its own scale are ratios of tiny numbers.
SILENT_BELOW = 0.1
MORE_SHOWN = 30  # rows of the terminal's list of neurons responding to more than k corpora (the CSV has all)


def near_silent(responses: Responses, fraction: float = SILENT_BELOW) -> np.ndarray:
    """[neurons] True where a neuron's scale is below ``fraction`` x the median scale of the scanned
    neurons of its layer. Relative to the layer, not an absolute activation: units differ by orders of
    magnitude between sites, models and layers (docs/hunt.md)."""
    layers = np.array([n.layer for n in responses.neurons])
    flags = np.zeros(len(layers), dtype=bool)
    for layer in np.unique(layers):
        of_layer = layers == layer
        flags[of_layer] = responses.scale[of_layer] < fraction * np.median(responses.scale[of_layer])
    return flags


@dataclass(frozen=True)
class TableRow:
    """One neuron x corpus statistic of the scan (a row of ``neurons.csv``)."""

    neuron: str
    layer: int
    index: int
    corpus: str
    n_docs: int  # documents of the corpus with tokens on the split
    mean: float  # mean over documents of the per-document mean activation
    scale: float  # the neuron's scale (as the scan bounds by it)
    mean_over_scale: float
    rank: int  # 1: the corpus with the highest mean for this neuron
    responds: bool  # the neuron responds to this corpus
    n_responding: int  # corpora the neuron responds to (m*)
    q_m: int  # m of the test whose q is given: m* when it responds, else the m of its smallest q
    q: float  # BH q of the test "the top q_m corpora each exceed the rest"
    near_silent: bool


CSV_COLUMNS = tuple(TableRow.__dataclass_fields__)


def table_rows(responses: Responses, silent: np.ndarray) -> list[TableRow]:
    """Every scanned neuron x corpus, in scan order then corpus order (see :class:`TableRow`)."""
    rows = []
    for i, neuron in enumerate(responses.neurons):
        m = int(responses.n_responding[i])
        q_m = m if m else int(np.argmin(responses.qvalues[i])) + 1
        rank = {int(c): r + 1 for r, c in enumerate(responses.order[i])}
        responding = set(responses.order[i, :m].tolist())
        scale = float(responses.scale[i])
        for c, corpus in enumerate(responses.corpora):
            mean = float(responses.corpus_means[i, c])
            rows.append(TableRow(str(neuron), neuron.layer, neuron.index, corpus, responses.n_docs[corpus], mean,
                                 scale, mean / scale if scale > 0 else float("nan"), rank[c], c in responding, m,
                                 q_m, float(responses.qvalues[i, q_m - 1]), bool(silent[i])))
    return rows


def write_table(path: str | Path, rows: list[TableRow]) -> Path:
    """``rows`` as CSV (a header of CSV_COLUMNS; floats written in full, booleans as 0/1)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([int(v) if isinstance(v, bool) else v for v in (getattr(row, c) for c in CSV_COLUMNS)])
    return path


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
    near_silent: np.ndarray | None = None  # [neurons], see near_silent()
    silent_below: float = SILENT_BELOW
    scale_on: str = ""  # where the scale was measured, in words

    def silent(self, i: int) -> bool:
        return self.near_silent is not None and bool(self.near_silent[i])

    def more_than_k(self) -> list[int]:
        """Indices of the neurons responding to more than k corpora: most corpora first, then largest effect."""
        r = self.responses
        found = np.flatnonzero(r.n_responding > self.k)
        return [int(i) for i in found[np.lexsort((-r.effect[found], -r.n_responding[found]))]]

    def summary(self) -> str:
        r = self.responses
        counts = r.counts()
        spread = ", ".join(f"{n} neurons respond to {m}" for m, n in sorted(counts.items()) if m)
        silent = 0 if self.near_silent is None else int(self.near_silent.sum())
        scale = f" (scale: 99.9th pct |act| on the {self.scale_on})" if self.scale_on else ""
        return (f"{len(r.neurons):,} neurons x {len(r.corpora)} corpora ({', '.join(r.corpora)}) on the {self.split} "
                f"split; a corpus responds when its documents exceed the pooled documents of the corpora the "
                f"neuron does not respond to by more than {r.min_effect:g} x the neuron's scale{scale} (bound "
                f"test, BH q <= {r.q:g} over {r.n_tests:,} tests). {spread or 'No neuron responds to any corpus'}; "
                f"{self.n_with_k} respond to exactly {self.k}; the top {len(self.candidates)} are checked "
                f"(controls at alpha {self.alpha:g}). {silent} neurons are near-silent (scale below "
                f"{self.silent_below:g} x the median scale of their layer).")

    def neuron_label(self, i: int) -> str:
        return str(self.responses.neurons[i]) + (" (near-silent)" if self.silent(i) else "")

    def __rich_console__(self, console, options):
        from rich.table import Table
        from rich.text import Text

        yield Text(self.summary())
        index = {n: i for i, n in enumerate(self.responses.neurons)}
        if not self.candidates:
            yield Text(f"no candidates: no neuron responds to exactly {self.k} corpora", style="bold")
        else:
            table = Table(title=f"neurons responding to exactly {self.k} corpora: what survives",
                          title_justify="left")
            for col in ("neuron", "responds to", "gap/scale", "q", "response", "no shared", "no top token",
                        "same tokens", "verdict"):
                table.add_column(col, justify="right" if col in ("gap/scale", "q") else "left")
            styles = {"finding": "green", "partial": "yellow", "weak": "dim", "undecided": "yellow"}
            for c in self.candidates:
                cells = [self.neuron_label(index[c.neuron]), ", ".join(c.corpora), f"{c.effect:.3f}",
                         f"{c.qvalue:.1e}"]
                for ctl in (c.response, c.shared, c.one_token, c.token_matched):
                    cells.append(control_cell(c, ctl))
                verdict = c.verdict + (f" ({c.artifact_token!r} {c.artifact_share:.0%})" if c.artifact_token else "")
                table.add_row(*cells, Text(verdict, style=styles.get(c.verdict, "red bold")))
            yield table
            yield Text("columns after 'q': ✓ above the bound, ✗ shown below it, ? neither, – not applicable; the "
                       "number is the effect (x scale) under that control of the weaker responding corpus (the "
                       "smallest effect; the same corpus at every bound; hunt.html names it).", style="dim")
            for name, words in VERDICTS.items():
                yield Text(f"  {name}: {words}", style="dim")
        yield self._more_table()
        for note in self.notes:
            yield Text(note, style="yellow")

    def _more_table(self):
        from rich.table import Table
        from rich.text import Text

        more = self.more_than_k()
        if not more:
            return Text(f"no neuron responds to more than {self.k} corpora")
        r = self.responses
        table = Table(title=f"neurons responding to more than {self.k} corpora ({len(more)}; "
                      f"{'all' if len(more) <= MORE_SHOWN else f'the first {MORE_SHOWN}'}, most corpora first)",
                      title_justify="left")
        for col in ("neuron", "corpora", "responds to", "gap/scale", "q"):
            table.add_column(col, justify="left" if col in ("neuron", "responds to") else "right")
        for i in more[:MORE_SHOWN]:
            table.add_row(self.neuron_label(i), str(int(r.n_responding[i])), ", ".join(r.responding(i)),
                          f"{r.effect[i]:.3f}", f"{r.q_of(i):.1e}")
        return table


def hunt(store, layers, vocab, *, k: int, corpora=None, min_effect: float = 0.1, q: float = 0.05,
         alpha: float = 0.05, top: int = 15, n_resamples: int = 999, seed: int = 0, min_occurrences: int = 50,
         collect_tokens=None, explicit_baseline: bool | None = None, profiles=None,
         scales: LayerScales | None = None, silent_below: float = SILENT_BELOW) -> HuntResult:
    """Stage 1 on ``store``, then stage 2 on the top ``top`` neurons with exactly ``k`` corpora.

    ``collect_tokens(neurons) -> store`` returns a store holding per-token activations of those
    neurons (a second pass of the model); by default ``store`` must already hold them. ``scales``
    (measured on every corpus of the split, when the reference is the corpora and ``store`` holds
    fewer) bound the scan and the controls alike; else ``profiles`` (the reference text), else
    ``store``'s own split. ``silent_below``: see :func:`near_silent`.
    """
    if k < 1:
        raise ValueError(f"--k must be at least 1, got {k}")
    if not silent_below >= 0:
        raise ValueError(f"--silent-below must be >= 0 (a fraction of the layer's median scale), got {silent_below}")
    responses = scan_responses(store, layers, corpora=corpora, min_effect=min_effect, q=q,
                               n_resamples=n_resamples, seed=seed, profiles=profiles, scales=scales)
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
    options = {"n_resamples": n_resamples, "seed": seed, "min_effect": min_effect, "alpha": alpha}
    if scales is not None:
        ctx = ScaledContext(store, vocab, **options, scales={responses.neurons[i]: float(responses.scale[i])
                                                              for i in chosen})
    else:
        ctx = EvaluationContext(store, vocab, **options, profiles=profiles)
    checked = tuple(check_candidate(ctx, responses.neurons[i], responses.responding(i), responses.others(i),
                                    min_effect=min_effect, alpha=alpha, min_occurrences=min_occurrences,
                                    effect=float(responses.effect[i]), qvalue=responses.q_of(i)) for i in chosen)
    notes = ()
    if responses.scale_method not in ("exact", "reference"):
        notes = (f"stage 1 read the neuron scale from the top activations ({responses.scale_method}); the controls "
                 + ("use the same scales" if scales is not None else "use the exact scale"),)
    scale_on = (scales.on if scales is not None else "reference text" if profiles is not None
                else f"{store.split} split, the chosen corpora")
    return HuntResult(responses, k, checked, len(with_k), store.split, alpha, explicit_baseline, notes,
                      near_silent(responses, silent_below), float(silent_below), scale_on)


def write_outputs(result: HuntResult, *, out: str | Path | None, html: str | Path | None, views) -> list[Path]:
    """Candidate claim files (``out``); ``neurons.csv`` (every neuron x corpus), the heatmap PNGs and the
    HTML page in ``html`` (default ``out``)."""
    from polytests.commands.hunt.candidates import write_candidates
    from polytests.commands.hunt.pictures import heatmap_of, hunt_page, token_heatmap

    written: list[Path] = []
    if out is not None:
        written += write_candidates(out, list(result.candidates), min_effect=result.responses.min_effect,
                                    explicit_baseline=result.explicit_baseline, split=result.split)
    folder = Path(html) if html is not None else Path(out) if out is not None else None
    if folder is None:
        return written
    folder.mkdir(parents=True, exist_ok=True)
    written.append(write_table(folder / "neurons.csv", table_rows(result.responses, result.near_silent)))
    index = {n: i for i, n in enumerate(result.responses.neurons)}
    heat = heatmap_of(result.responses, [index[c.neuron] for c in result.candidates], result.near_silent)
    heat_pngs = heat.pngs() if heat else []
    for n, png in enumerate(heat_pngs, 1):
        path = folder / ("heatmap.png" if n == 1 else f"heatmap-{n}.png")
        path.write_bytes(png)
        written.append(path)
    pngs = {}
    for view in views:
        png = token_heatmap(view)
        if png:
            pngs[str(view.neuron)] = png
            path = folder / f"tokens-{view.neuron}.png"
            path.write_bytes(png)
            written.append(path)
    page = folder / "hunt.html"
    page.write_text(hunt_page(result, heat, views, pngs, heat_pngs), encoding="utf-8")
    written.append(page)
    return written
