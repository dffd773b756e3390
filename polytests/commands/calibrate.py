"""``polytests calibrate``: do the verdicts hold their error rates on the model's own activations?

Simulations (``python -m polytests.stats.calibration``) check the tests on data
whose distribution we chose. This study checks them on what the tool actually
sees: per-document values read off the embedded model (or any model), from the
explore split. Each "null claim" is built so that its true answer is known:

* a corpus's documents are split at random into two pseudo-corpora, so the true
  difference of their means is zero (they are draws from one population); a
  third of the documents go to the claimed side, so the groups are unequal;
* to put the true effect exactly on a claim's bound, the bound is added to every
  document value of the claimed side.

For every predicate kind whose test can be built this way it counts how often a
null claim would be "confirmed" (the effect is not above the bound) and how
often a claim whose true effect equals the bound would be "refuted" (the effect
is not below it). Both must stay at or below alpha, within the binomial margin.
A last block repeats the unequal-variance case the audit found the permutation
test alone too liberal on: a dozen documents of a high-variance corpus against
many of low-variance ones, means equalised.

Every figure in the calibration section of docs/statistics.md comes from this
command (``polytests calibrate --out docs/calibration.md --figure docs/power.png``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polytests.stats import permutation_test
from polytests.stats.bounds import bound_test, bound_test_one_sample, mean_bound_test
from polytests.stats.relative import hodges_lehmann
from polytests.stats.calibration import acceptance_band


@dataclass(frozen=True)
class Row:
    kind: str
    scenario: str
    event: str
    rate: float
    n: int
    alpha: float

    @property
    def ok(self) -> bool:
        return self.rate <= acceptance_band(self.n, self.alpha)[1]

    def markdown(self) -> str:
        low, high = acceptance_band(self.n, self.alpha)
        return (f"| {self.kind} | {self.scenario} | {self.event} | {self.rate:.3f} | {self.n} | "
                f"<= {high:.3f} | {'ok' if self.ok else 'TOO HIGH'} |")


@dataclass
class RealValues:
    """Per-document values from a model: doc means [docs, neurons] per layer, corpus of each doc,
    token-level activations and ids of some neurons (for token-matched residuals), scales."""

    corpus_of_doc: np.ndarray
    doc_means: np.ndarray  # [docs, neurons] for the sampled neurons
    scales: np.ndarray  # [neurons]: 99.9th percentile |activation|
    token_acts: np.ndarray  # [tokens, neurons]
    token_ids: np.ndarray  # [tokens]
    token_doc: np.ndarray  # [tokens]
    deltas: np.ndarray | None = None  # [docs, ablated neurons]: zero-ablation loss change per document
    named: dict | None = None  # neuron name -> its column, for neurons asked for by name (--neuron)


def collect_values(model_spec: str, corpora_root: str | Path, n_neurons: int, seed: int,
                   cache_dir: str | Path | None = None, n_ablated: int = 6, named: tuple[str, ...] = ()) -> RealValues:
    from polytests.engine.activations import CollectionRequest
    from polytests.engine.cache import ActivationCache
    from polytests.corpora import load_corpora
    from polytests.engine.models import load_model
    from polytests.neurons import NeuronRef
    from polytests.engine.store import build_store

    model = load_model(model_spec)
    rng = np.random.default_rng(seed)
    docs = [d for c in load_corpora(corpora_root).values() for d in c.split("explore")]
    per_layer = max(1, n_neurons // model.n_layers)
    neurons = [NeuronRef(layer, int(i)) for layer in range(model.n_layers)
               for i in rng.choice(model.d_mlp, size=per_layer, replace=False)]
    named_refs = [NeuronRef.parse(n) for n in named]
    named_columns = {str(ref): len(neurons) + k for k, ref in enumerate(named_refs)}
    neurons += named_refs
    cache = ActivationCache(cache_dir) if cache_dir else None
    store = build_store(model, docs, "explore", CollectionRequest(layers=tuple(range(model.n_layers)),
                                                                   neurons=tuple(neurons)), cache=cache)
    token_acts = np.stack([store.token_activations(n).astype(np.float64) for n in neurons], axis=1)
    doc_means = np.stack([store.doc_means(n) for n in neurons], axis=1)
    scales = np.quantile(np.abs(token_acts), 0.999, axis=0)
    deltas = None
    if n_ablated and model.is_causal_lm:
        from polytests.engine.ablation import AblationEngine

        # Last-layer neurons, in one batched pass (their loss change has an exact cheap form):
        # what is calibrated is the test on per-document loss changes, not the layer.
        engine = AblationEngine(model, docs, docs, cache, "explore", tokens=store.tokens)
        last = model.n_layers - 1
        picked = [int(i) for i in rng.choice(model.d_mlp, size=n_ablated, replace=False)]
        deltas = engine.deltas(last, picked, "zero", seed).T
    return RealValues(np.asarray(store.tokens.corpus_of_doc), doc_means, scales, token_acts,
                      store.tokens.token_ids.astype(np.int64), store.tokens.doc_index_per_token().astype(np.int64),
                      deltas, named_columns)


def _pseudo_split(rng, docs: np.ndarray, share: float = 1 / 3) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(docs)
    k = max(3, int(round(share * len(order))))
    return order[:k], order[k:]


def _means_without_top_token(values: RealValues, j: int, a: np.ndarray, b: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Per-document means of neuron j over documents a and b without the token type that carries
    most of its positive activation in a (as not_explained_by_one_token leaves it out); documents
    left with no token are dropped."""
    in_a = np.isin(values.token_doc, a)
    acts = values.token_acts[:, j]
    top = int(np.argmax(np.bincount(values.token_ids[in_a], weights=np.maximum(acts[in_a], 0.0))))
    keep = values.token_ids != top
    n_docs = int(values.token_doc.max()) + 1
    sums = np.bincount(values.token_doc[keep], weights=acts[keep], minlength=n_docs)
    counts = np.bincount(values.token_doc[keep], minlength=n_docs)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_doc = sums / counts
    return per_doc[a][counts[a] > 0], per_doc[b][counts[b] > 0]


def _residual_means(values: RealValues, j: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-document token-centred residuals of neuron j over documents a and b (as token_matched does)."""
    sel = np.isin(values.token_doc, np.concatenate([a, b]))
    ids, acts, doc = values.token_ids[sel], values.token_acts[sel, j], values.token_doc[sel]
    inv = np.unique(ids, return_inverse=True)[1]
    mean_of_type = np.bincount(inv, weights=acts) / np.bincount(inv)
    resid = acts - mean_of_type[inv]
    n_docs = int(values.token_doc.max()) + 1
    sums = np.bincount(doc, weights=resid, minlength=n_docs)
    counts = np.bincount(doc, minlength=n_docs)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_doc = sums / counts
    return per_doc[a], per_doc[b]


def run_study(values: RealValues, n_claims: int = 1000, alpha: float = 0.05, min_effect: float = 0.05,
              resamples: int = 999, seed: int = 0, progress=None) -> list[Row]:
    rng = np.random.default_rng(seed)
    corpora = sorted(set(values.corpus_of_doc.tolist()))
    docs_of = {c: np.flatnonzero(values.corpus_of_doc == c) for c in corpora}
    corpora = [c for c in corpora if len(docs_of[c]) >= 12]
    n_neurons = values.doc_means.shape[1]
    counts: dict[tuple[str, str, str], int] = {}

    def hit(kind, scenario, event, flag):
        key = (kind, scenario, event)
        counts[key] = counts.get(key, 0) + int(bool(flag))

    for i in range(n_claims):
        if progress and i % 100 == 0:
            progress(i, n_claims)
        s = int(rng.integers(2**31))
        c = corpora[int(rng.integers(len(corpora)))]
        j = int(rng.integers(n_neurons))
        a, b = _pseudo_split(rng, docs_of[c])
        x, y = values.doc_means[a, j], values.doc_means[b, j]
        bound = min_effect * values.scales[j]
        # fires_on, pooled baseline: true difference 0; at the bound: true difference = bound.
        t0 = bound_test(x, y, 0.0, n_resamples=resamples, seed=s)
        hit("fires_on", "true effect 0, bound 0", "confirmed", t0.pvalue_above <= alpha)
        tb = bound_test(x + bound, y, bound, n_resamples=resamples, seed=s)
        hit("fires_on", "true effect = bound", "refuted", tb.pvalue_below <= alpha)
        hit("fires_on", "true effect = bound", "confirmed", tb.pvalue_above <= alpha)
        # fires_on, versus each: the other side split into three pseudo-corpora, all at the bound.
        parts = np.array_split(rng.permutation(b), 3)
        each = [bound_test(x + bound, values.doc_means[p, j], bound, n_resamples=resamples, seed=s + k) for k, p in enumerate(parts)]
        hit("fires_on (each)", "true effect = bound", "confirmed", max(t.pvalue_above for t in each) <= alpha)
        hit("fires_on (each)", "true effect = bound", "refuted",
            min(1.0, 3 * min(t.pvalue_below for t in each)) <= alpha)
        # polysemantic: two claimed pseudo-corpora, both exactly at the bound.
        a1, a2 = np.array_split(a, 2)
        if len(a1) >= 2 and len(a2) >= 2:
            p1 = bound_test(values.doc_means[a1, j] + bound, y, bound, n_resamples=resamples, seed=s)
            p2 = bound_test(values.doc_means[a2, j] + bound, y, bound, n_resamples=resamples, seed=s + 7)
            hit("polysemantic", "both at the bound", "confirmed", max(p1.pvalue_above, p2.pvalue_above) <= alpha)
            hit("polysemantic", "both at the bound", "refuted",
                min(1.0, 2 * min(p1.pvalue_below, p2.pvalue_below)) <= alpha)
        # silent_on: true difference exactly at the margin: "confirmed" (equivalent) must be rare.
        margin = bound if bound > 0 else 1e-9
        up = bound_test(x + margin, y, margin, n_resamples=resamples, seed=s)
        lo = bound_test(x + margin, y, -margin, n_resamples=resamples, seed=s + 1)
        hit("silent_on", "true difference = margin", "confirmed", max(up.pvalue_below, lo.pvalue_above) <= alpha)
        hit("silent_on", "true difference = margin", "refuted",
            min(1.0, 2 * min(up.pvalue_above, lo.pvalue_below)) <= alpha)
        # not_explained_by_one_token: the corpus's most active token type left out of both sides,
        # the claimed side then exactly at the bound.
        xo, yo = _means_without_top_token(values, j, a, b)
        if len(xo) >= 2 and len(yo) >= 2:
            ot = bound_test(xo + bound, yo, bound, n_resamples=resamples, seed=s + 3)
            hit("not_explained_by_one_token", "true effect = bound, top token left out", "confirmed",
                ot.pvalue_above <= alpha)
            hit("not_explained_by_one_token", "true effect = bound, top token left out", "refuted",
                ot.pvalue_below <= alpha)
        # token_matched: the same corpus on both sides, same tokens: true residual difference ~0.
        rx, ry = _residual_means(values, j, a, b)
        rx, ry = rx[np.isfinite(rx)], ry[np.isfinite(ry)]
        if len(rx) >= 2 and len(ry) >= 2:
            tm = bound_test(rx, ry, 0.0, n_resamples=resamples, seed=s)
            hit("token_matched", "true effect 0, bound 0", "confirmed", tm.pvalue_above <= alpha)
            tmb = bound_test(rx + bound, ry, bound, n_resamples=resamples, seed=s)
            hit("token_matched", "true effect = bound", "refuted", tmb.pvalue_below <= alpha)
        # ablation (one-sample, per-document loss change): documents of a corpus drawn with
        # replacement, tested against the median change of all its documents (the true median).
        if values.deltas is not None:
            k = int(rng.integers(values.deltas.shape[1]))
            d_all = values.deltas[docs_of[c], k]
            d_all = d_all[np.isfinite(d_all)]
            d = rng.choice(d_all, size=len(a), replace=True)
            population = float(np.median(d_all))
            ab = bound_test_one_sample(d, population)
            hit("ablation_hurts (bound part)", "true effect = bound", "confirmed", ab.pvalue_above <= alpha)
            hit("ablation_hurts (bound part)", "true effect = bound", "refuted", ab.pvalue_below <= alpha)
    rows = [Row(kind, scenario, event, n_hit / n_claims, n_claims, alpha)
            for (kind, scenario, event), n_hit in counts.items()]
    rows += unequal_variance_rows(values, n_claims, alpha, resamples, seed + 1)
    return rows


def unequal_variance_rows(values: RealValues, n_claims: int, alpha: float, resamples: int, seed: int) -> list[Row]:
    """12 documents of a high-variance corpus against 60 documents of low-variance corpora, means equal.

    For the neuron and corpus with the largest SD ratio among the sampled ones; documents are
    drawn with replacement from each side's real document values (a stratified bootstrap), the
    low-variance side shifted to the high-variance side's mean, so the null is true.
    """
    rng = np.random.default_rng(seed)
    corpora = sorted(set(values.corpus_of_doc.tolist()))
    best = None
    for j in range(values.doc_means.shape[1]):
        sds = {c: np.nanstd(values.doc_means[values.corpus_of_doc == c, j], ddof=1) for c in corpora}
        high = max(sds, key=sds.get)
        lows = [c for c in corpora if c != high and 0 < sds[c] <= sds[high] / 2]
        if lows and sds[high] > 0:
            ratio = sds[high] / np.sqrt(np.mean([sds[c] ** 2 for c in lows]))
            if best is None or ratio > best[0]:
                best = (ratio, j, high, lows)
    if best is None:
        return []
    ratio, j, high, lows = best
    hi_vals = values.doc_means[values.corpus_of_doc == high, j]
    lo_vals = values.doc_means[np.isin(values.corpus_of_doc, lows), j]
    lo_vals = lo_vals - lo_vals.mean() + hi_vals.mean()
    shift = hodges_lehmann(hi_vals, lo_vals)
    perm_only = both = shifted = 0
    for i in range(n_claims):
        x = rng.choice(hi_vals, size=12, replace=True)
        y = rng.choice(lo_vals, size=60, replace=True)
        perm_only += float(permutation_test(x, y, alternative="greater", n_resamples=resamples, seed=i).pvalue) <= alpha
        both += mean_bound_test(x, y, 0.0, n_resamples=resamples, seed=i).pvalue_above <= alpha
        shifted += bound_test(x, y, shift, n_resamples=resamples, seed=i).pvalue_above <= alpha
    scenario = f"12 docs at {ratio:.1f}x the SD of 60, equal means (shift {shift:+.3g})"
    return [Row("studentized permutation alone (old)", scenario, "confirmed", perm_only / n_claims,
                n_claims, alpha),
            Row("mean difference, permutation and Welch (old)", scenario, "confirmed", both / n_claims,
                n_claims, alpha),
            Row("fires_on (shift at its true value)", scenario, "confirmed", shifted / n_claims, n_claims, alpha)]


def power_curves(values: RealValues, effects=(0.5, 1.0, 2.0, 4.0), sizes=(5, 10, 20, 40), n_sim: int = 200,
                 alpha: float = 0.05, min_effect: float = 0.05, resamples: int = 499, seed: int = 0) -> dict:
    """P(confirmed) for a true effect of ``effect`` x the bound, with n documents a side, on real values."""
    rng = np.random.default_rng(seed)
    corpora = sorted(set(values.corpus_of_doc.tolist()))
    out: dict[float, list[float]] = {}
    for effect in effects:
        rates = []
        for n in sizes:
            hits = 0
            for i in range(n_sim):
                c = corpora[int(rng.integers(len(corpora)))]
                j = int(rng.integers(values.doc_means.shape[1]))
                pool = values.doc_means[values.corpus_of_doc == c, j]
                bound = min_effect * values.scales[j]
                x = rng.choice(pool, size=n, replace=True) + effect * bound
                y = rng.choice(pool, size=n, replace=True)
                hits += bound_test(x, y, bound, n_resamples=resamples, seed=i).pvalue_above <= alpha
            rates.append(hits / n_sim)
        out[effect] = rates
    return {"sizes": list(sizes), "rates": out}


def plot_power(curves: dict, path: str | Path, min_effect: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    for effect, rates in curves["rates"].items():
        ax.plot(curves["sizes"], rates, "o-", label=f"true effect {effect:g} x bound")
    ax.axhline(0.8, color="#888", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(curves["sizes"], [str(s) for s in curves["sizes"]])
    ax.set_xlabel("documents per side")
    ax.set_ylabel("P(confirmed)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"fires_on power on real activations (bound = {min_effect:g} x scale)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def render(rows: list[Row], curves: dict | None, header: dict, extra: list[str] = ()) -> str:
    lines = ["<!-- written by `polytests calibrate`; do not edit by hand -->", "",
             "# Calibration on the model's own activations", "",
             "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in header.items()]
    lines += ["", "| predicate | scenario | event | rate | claims | allowed (alpha + binomial margin) | |",
              "|---|---|---|---|---|---|---|"]
    lines += [r.markdown() for r in rows]
    lines += list(extra)
    if curves:
        lines += ["", "Power of fires_on (P(confirmed)) against documents per side, true effect in multiples "
                  "of the bound:", "", "| true effect | " + " | ".join(f"n={n}" for n in curves["sizes"]) + " |",
                  "|---|" + "---|" * len(curves["sizes"])]
        lines += [f"| {e:g} x bound | " + " | ".join(f"{r:.2f}" for r in rates) + " |"
                  for e, rates in curves["rates"].items()]
    return "\n".join(lines) + "\n"


def main(args) -> int:
    from polytests.commands.calibrate_predicates import predicate_rows, render_predicate_rows
    from polytests.commands.calibrate_shapes import render_rows, shape_rows
    from polytests.stats.shapes import shape_table

    values = collect_values(args.model, args.corpora, args.neurons, args.seed, args.cache_dir,
                            named=tuple(args.neuron or ()))
    def progress(i, n):
        print(f"  {i}/{n} null claims", flush=True)
    rows = run_study(values, args.claims, args.alpha, args.min_effect, args.resamples, args.seed, progress)
    shapes = shape_rows(values, args.claims, args.alpha, args.resamples, args.seed, values.named)
    token_level = predicate_rows(values, args.claims, args.alpha, args.resamples, args.seed)
    simulated, simulated_ok = shape_table(args.claims, args.resamples, args.alpha, args.seed)
    curves = power_curves(values, alpha=args.alpha, min_effect=args.min_effect, seed=args.seed,
                          n_sim=args.power_sims) if args.power_sims else None
    header = {"model": args.model, "split": "explore", "sampled neurons": values.doc_means.shape[1],
              "documents": len(values.corpus_of_doc), "alpha": args.alpha, "min_effect": args.min_effect,
              "resamples per test": args.resamples, "seed": args.seed,
              "command": f"polytests calibrate --claims {args.claims} --neurons {args.neurons} --seed {args.seed}"
                         + "".join(f" --neuron {n}" for n in (args.neuron or ()))}
    text = render(rows, curves, header, render_rows(shapes) + render_predicate_rows(token_level) + [
        "", "The audit's simulated shapes (`python -m polytests.stats.shapes`), each side at alpha and any wrong "
        "verdict under the three-decision rule:", "", simulated])
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    if args.figure and curves:
        plot_power(curves, args.figure, args.min_effect)
        print(f"wrote {args.figure}")
    print(text)
    new_ok = (all(r.ok for r in rows if "old" not in r.kind) and all(r.ok for r in shapes + token_level if "before" not in r.test)
              and simulated_ok)
    return 0 if new_ok else 1
