"""The notebook way as a baseline: the claims of hypotheses/ computed as a researcher would, against pytest.

Both sides judge the same family of claims on the embedded model and the confirm split, with
the same settings (seed, alpha, smallest effects, resamples, n_null), and must reach the same
verdicts; the benchmark exits 1 if any verdict differs.

polytests side: ``python -m pytest hypotheses/ -p no:cacheprovider --polytests-no-reports -q``
in a scratch project whose ``hypotheses/claims.toml`` holds the selected claims (the Python
claims of hypotheses/test_neurons.py rewritten as TOML: same ids and predicates, so the same
seeds and results), timed as a subprocess: cold (a fresh ``--polytests-cache-dir``) and then
warm (a second run on the same cache dir), ``--repeats`` times; the median of each. A
``--junitxml`` file is added to every run to read the verdicts and p-values back (the claim
items carry them as properties; writing it costs milliseconds).

Notebook side, in a fresh Python process (a new kernel) timed from its first import of torch,
model load included:

* every document of the split is cut into the same BOS-prefixed windows of n_ctx - 1 tokens
  and run through ``bridge.run_with_cache(window)``, one window at a time, every hook cached;
  the claims' neurons are sliced out of the cache, and for ablation layers the whole
  ``hook_post`` layer is summarised (firing rate and magnitude, for the matched null neurons);
* activation predicates: document means of the neuron (tokens excluded where the predicate
  says so); the neuron's scale (99.9th percentile of |activation|) and the ablation null
  neurons' firing profiles read from the reference profiles that ship with the model, as
  polytests reads them (generous to the notebook: it computes none of them). Each bound test
  is the one polytests runs (issue #21), written with scipy: ``scipy.stats.permutation_test``
  (``vectorized=True``, the same ``n_resamples``) of a studentized Brunner-Munzel statistic
  computed with ``scipy.stats.rankdata`` (each group's placement variance floored as polytests
  floors it), both tails read from one null distribution, each p the larger of the
  permutation p and the statistic's Satterthwaite t approximation and never below the
  separation floor max(2^-n_x, 2^-n_y); groups under 30 documents must also pass
  ``scipy.stats.binomtest`` on random disjoint pairs; groups under 10 documents are not tested
  (inconclusive). ``top_k_precision`` uses ``scipy.stats.binomtest``; ``explained_by`` over
  tokens is never decided (polytests reports it inconclusive: docs/statistics.md);
* ablation predicates: for every document of the claimed corpora, one forward pass per window
  with a hook zeroing the neuron at ``hook_post`` (``run_with_hooks``) against the clean loss
  of the cached run, for the claimed neuron and then each matched null neuron in turn (chosen
  by polytests' ``matched_null_neurons`` with the claim's seed, so both sides use the same
  neurons), stopping by the same Besag-Clifford rule (10 null neurons as large as the
  observed effect); the bound part is the exact sign test of the median delta
  (``scipy.stats.binomtest``);
* Holm over the family's 2m one-sided hypotheses (both sides of every claim) with
  ``statsmodels.stats.multitest.multipletests``, then the verdict rule of polytests
  (confirmed when the adjusted p above is at most alpha, refuted when the adjusted p below is,
  else inconclusive), written out here. Random streams differ from polytests' (scipy draws its
  own relabellings and pairs), so p-values agree within Monte Carlo error, not to the digit;
  polytests also resamples again a decision within Monte Carlo error of alpha, which the
  notebook does not.

The notebook computes only what the verdicts need (no bootstrap CIs, no reports, no figures),
so the ratios are if anything generous to it. Only ``zero`` ablation is reproduced; a claim
with ``mean`` or ``resample`` ablation stops the benchmark with a message.

Defaults (about 8 minutes on the development machine when quiet): the claims in
DEFAULT_CLAIMS below (every predicate kind, refuted and confirmed claims, one ablation claim),
``--n-null 39`` for ablation claims on both sides, 9,999 resamples, 3 repeats of the pytest
runs and 1 of the notebook. ``--claims all --n-null 0`` runs the whole of hypotheses/ as
written (n_null 199; the notebook then takes most of an hour).

Usage: python benchmarks/bench_notebook.py [--claims ID|FILE|all ...] [--n-null 39]
       [--resamples 9999] [--repeats 3] [--notebook-repeats 1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CLAIMS = (
    "l0n45-spanish-gibberish-every-control",  # polysemantic (shared tokens excluded) + 2 x not_one_token
    "l0n23-spanish-latex-selective",  # polysemantic, expected refuted
    "l3n197-spanish-poetry",  # fires_on, not_explained_by_one_token, token_matched
    "l3n197-top-contexts",  # top_k_precision
    "l3n197-silent-on-legal",  # silent_on
    "l1n494-accented-bytes",  # explained_by
    "l3n344-python",  # a Python-file claim, fires_on
    "l3n197-ablation-spanish-poetry",  # ablation_hurts, expected refuted
)
DEFAULT_N_NULL = 39
BESAG_CLIFFORD_H = 10


# ------------------------------------------------------------------------------------------
# the family: claims of hypotheses/, selected, written as one TOML file of a scratch project
# ------------------------------------------------------------------------------------------


def hypothesis_claims(folder: Path) -> list:
    """Every claim of a hypotheses folder: TOML files and module-level claims of test_*.py."""
    import runpy

    from polytests.claims.model import Claim
    from polytests.claims.parse import read_claim_file

    claims = []
    for path in sorted(folder.rglob("*.toml")):
        contents = read_claim_file(path)
        if contents.problems:
            raise SystemExit(f"{path}: {contents.problems[0].error}")
        claims += contents.claims
    for path in sorted(folder.rglob("test_*.py")):
        claims += [v for v in runpy.run_path(str(path)).values() if isinstance(v, Claim)]
    return claims


def select_claims(claims: list, wanted: list[str]) -> list:
    """``wanted``: claim ids, claim files (their claims), or "all"."""
    if "all" in wanted:
        return list(claims)
    by_id = {c.id: c for c in claims}
    chosen: dict[str, object] = {}
    for w in wanted:
        path = Path(w)
        if path.suffix in (".toml", ".py") and path.exists():
            source = path.resolve()
            found = [c for c in claims if c.source and Path(c.source).resolve() == source]
            if not found:
                raise SystemExit(f"--claims {w}: no claims found in that file")
            chosen.update((c.id, c) for c in found)
        elif w in by_id:
            chosen[w] = by_id[w]
        else:
            raise SystemExit(f"--claims {w}: no claim with that id (known: {', '.join(sorted(by_id))})")
    return list(chosen.values())


def with_n_null(claim, n_null: int):
    """The claim with every ablation_hurts predicate's n_null set to ``n_null`` (0: unchanged)."""
    if not n_null:
        return claim
    preds = tuple(p.model_copy(update={"n_null": n_null}) if p.kind == "ablation_hurts" else p
                  for p in claim.predicates)
    return claim.model_copy(update={"predicates": preds})


def claim_toml(claim) -> str:
    """One ``[[claim]]`` table with its predicates, fields at their defaults left out."""
    from polytests.claims.diagnose import toml_literal

    data = claim.model_dump(by_alias=True, exclude_defaults=True, mode="json")
    preds = data.pop("predicate", [])
    lines = ["[[claim]]"] + [f"{k} = {toml_literal(v)}" for k, v in data.items()]
    for p, model in zip(preds, claim.predicates, strict=True):
        p = {"kind": model.kind, **{k: v for k, v in p.items() if k != "kind"}}
        lines += ["", "[[claim.predicate]]"] + [f"{k} = {toml_literal(v)}" for k, v in p.items()]
    return "\n".join(lines) + "\n"


def polytests_settings(model: str | None, corpora: str | None) -> dict:
    """The repository's [tool.polytests] settings with every default filled in, the model and the
    corpora as given (paths made absolute: the scratch project lives elsewhere)."""
    from polytests.settings import load_pyproject_settings

    settings = load_pyproject_settings(REPO).model_dump()
    if model is not None:
        settings["model"] = str(Path(model).resolve()) if Path(model).is_dir() else model
    elif Path(REPO / settings["model"]).is_dir():
        settings["model"] = str((REPO / settings["model"]).resolve())
    settings["corpora"] = str(Path(corpora).resolve() if corpora else (REPO / settings["corpora"]).resolve())
    return settings


def write_project(folder: Path, claims: list, settings: dict) -> None:
    """A scratch project: pyproject.toml ([tool.polytests] = ``settings``, paths absolute) and
    hypotheses/claims.toml with ``claims``."""
    from polytests.claims.diagnose import toml_literal

    table = {k: v for k, v in settings.items() if k not in ("root", "hypotheses", "device", "report_dir",
                                                           "cache_dir") and v is not None}
    table["report_dir"] = "reports"
    (folder / "hypotheses").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\ntestpaths = [\"hypotheses\"]\n\n[tool.polytests]\n"
        + "".join(f"{k} = {toml_literal(v)}\n" for k, v in table.items()), encoding="utf-8")
    (folder / "hypotheses" / "claims.toml").write_text("\n".join(claim_toml(c) for c in claims), encoding="utf-8")


# ------------------------------------------------------------------------------------------
# the polytests side: pytest in a subprocess
# ------------------------------------------------------------------------------------------


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_pytest(project: Path, cache_dir: Path, junit: Path, resamples: int) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "pytest", "hypotheses/", "-p", "no:cacheprovider", "--polytests-no-reports",
           "-q", f"--polytests-cache-dir={cache_dir}", f"--polytests-resamples={resamples}", f"--junitxml={junit}"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):  # 1: some claim's verdict differs from its expect (a result)
        sys.stdout.write(proc.stdout[-5000:] + proc.stderr[-5000:])
        raise SystemExit(f"pytest failed with exit code {proc.returncode}: {' '.join(cmd)}")
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        for prop in case.iter("property"):
            if prop.get("name") == "polytests_result":
                data = json.loads(prop.get("value"))
                results[data["claim_id"]] = {"verdict": data["verdict"], "above": data["pvalue"],
                                             "below": data["pvalue_refute"], "adjusted": data["pvalue_adjusted"]}
    return elapsed, results


# ------------------------------------------------------------------------------------------
# the notebook side (runs in its own process: `--notebook-child SPEC.json`)
# ------------------------------------------------------------------------------------------


def notebook(spec: dict) -> dict:
    """The whole notebook, from the first import of torch to the verdicts; returns timings and results."""
    started = time.perf_counter()
    import numpy as np
    import torch
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    from polytests.claims.parse import read_claim_file
    from polytests.corpora import load_corpora
    from polytests.engine.models import load_model
    from polytests.engine.reference import POST_SITE, settings_profiles
    from polytests.neurons import NeuronRef
    from polytests.settings import Settings
    from polytests.stats.nulls import matched_null_neurons

    timings: dict[str, float] = {}
    claims = list(read_claim_file(spec["claims_file"]).claims)
    seed, alpha = spec["seed"], spec["alpha"]
    R, min_effect, min_effect_loss = spec["resamples"], spec["min_effect"], spec["min_effect_loss"]

    model = load_model(spec["model"])
    bridge, tok = model.bridge, model.tokenizer
    bos, n_ctx = tok.bos_token_id, model.n_ctx
    vocab = [tok.decode([i]) for i in range(int(model.cfg.d_vocab))]
    # Scales and the matched null neurons' firing profiles on the model's fixed reference text: read
    # from the profiles that ship with the model, as polytests reads them (not counted as work here).
    # (A model without a reference text: both from the split itself, as polytests then does.)
    profiles = settings_profiles(Settings(**spec["settings"]), model, "confirm")
    MIN_DOCS = 10  # polytests.stats.relative.MIN_DOCUMENTS: fewer and the shift test is not run
    timings["import torch + TransformerLens, load model"] = time.perf_counter() - started

    # -- 1. a full activation cache per window of every document -------------------------------
    t = time.perf_counter()
    docs = [d for c in load_corpora(spec["corpora"]).values() for d in c.split("confirm")]
    corpus_of = np.array([d.corpus for d in docs])
    corpora = sorted(set(corpus_of))
    ids = [np.array(tok(d.text, add_special_tokens=False)["input_ids"], dtype=np.int64) for d in docs]
    windows = [[ids_d[s : s + n_ctx - 1] for s in range(0, len(ids_d), n_ctx - 1)] for ids_d in ids]
    neurons = sorted({(c.neuron.layer, c.neuron.index) for c in claims})
    acts = {n: [] for n in neurons}  # neuron -> per document, activations of its tokens
    abl_layers = [] if profiles is not None else sorted(
        {c.neuron.layer for c in claims if any(p.kind.startswith("ablation") for p in c.predicates)})
    fired = {L: np.zeros(model.d_mlp) for L in abl_layers}
    post_sum = {L: np.zeros(model.d_mlp) for L in abl_layers}
    clean_loss = []  # per document, next-token loss of every token
    with torch.inference_mode():
        for doc_windows in windows:
            per_n = {n: [] for n in neurons}
            losses = []
            for w in doc_windows:
                row = torch.tensor([[bos, *w.tolist()]])
                logits, cache = bridge.run_with_cache(row)
                for layer, index in neurons:
                    per_n[(layer, index)].append(cache[model.activation_site(layer)][0, 1:, index].numpy())
                for L in abl_layers:
                    post = cache[f"blocks.{L}.mlp.hook_post"][0, 1:].double().numpy()
                    fired[L] += (post > 0).sum(0)
                    post_sum[L] += post.sum(0)
                logp = torch.log_softmax(logits[0, :-1].float(), dim=-1)
                losses.append(-logp.gather(-1, row[0, 1:, None])[:, 0].numpy())
            for n in neurons:
                acts[n].append(np.concatenate(per_n[n]) if per_n[n] else np.zeros(0, np.float32))
            clean_loss.append(np.concatenate(losses) if losses else np.zeros(0, np.float32))
    n_tokens = sum(len(i) for i in ids)
    timings["run_with_cache per window, slice neurons"] = time.perf_counter() - t

    # -- 2. statistics, claim by claim ----------------------------------------------------------
    def bm_t(x, y, axis=-1):
        """Studentized Brunner-Munzel statistic of x against y (positive when x tends to exceed y),
        with rankdata; each group's placement variance floored at (n - 1) / (4 n^2), as polytests
        floors it (docs/statistics.md)."""
        x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
        nx, ny = x.shape[-1], y.shape[-1]
        pooled = stats.rankdata(np.concatenate([x, y], axis=-1), axis=-1)
        px = (pooled[..., :nx] - stats.rankdata(x, axis=-1)) / ny  # placements: share of y below, ties half
        py = (pooled[..., nx:] - stats.rankdata(y, axis=-1)) / nx
        theta = px.mean(-1)
        vx = np.maximum(px.var(-1, ddof=1), (nx - 1) / (4 * nx * nx))
        vy = np.maximum(py.var(-1, ddof=1), (ny - 1) / (4 * ny * ny))
        d = theta - 0.5
        d = np.where(np.abs(d) < 1e-12, 0.0, d)
        return d / np.sqrt(vx / nx + vy / ny), vx, vy

    def both_tails(res, n_arrangements):
        """(p greater, p less) from one scipy permutation_test (called with alternative="greater")."""
        null, obs = res.null_distribution, res.statistic
        gamma = abs(obs * np.finfo(float).eps * 100)
        adj = 0 if n_arrangements <= R else 1
        return (float(res.pvalue),
                min(1.0, (np.count_nonzero(null <= obs + gamma) + adj) / (len(null) + adj)))

    def bound_test(x, y, bound, seed_):
        """The shift of x over y against bound: (p above, p below). Each the larger of the permutation
        p of the Brunner-Munzel t and its Satterthwaite t approximation, never below the separation
        floor max(2^-n_x, 2^-n_y); groups under 30 documents must also pass the exact sign test over
        random disjoint pairs (the same test as polytests', written with scipy)."""
        rng = np.random.default_rng(seed_)
        nx, ny = len(x), len(y)
        res = stats.permutation_test((x - bound, y), lambda a, b, axis: bm_t(a, b, axis)[0],
                                     permutation_type="independent", vectorized=True, n_resamples=R,
                                     alternative="greater", rng=rng)
        n_arr = math.comb(nx + ny, nx)
        perm = both_tails(res, n_arr)
        t, vx, vy = (float(np.asarray(v)) for v in bm_t(x - bound, y))
        a, b = vx / nx, vy / ny
        df = (a + b) ** 2 / (a * a / (nx - 1) + b * b / (ny - 1))
        floor = max(1 / n_arr if n_arr <= R else 1 / (R + 1), 0.5 ** nx, 0.5 ** ny)
        above = max(perm[0], stats.t.sf(t, df), floor)
        below = max(perm[1], stats.t.cdf(t, df), floor)
        if min(nx, ny) < 30:
            n = min(nx, ny)
            d = rng.permutation(x)[:n] - bound - rng.permutation(y)[:n]
            above = max(above, stats.binomtest(int(np.sum(d > 0)), n, 0.5, alternative="greater").pvalue)
            below = max(below, stats.binomtest(int(np.sum(d < 0)), n, 0.5, alternative="greater").pvalue)
        return float(above), float(below)

    def bound_test_one_sample(d, bound):
        """The median of paired deltas against bound: exact sign tests (ties count for neither side)."""
        n = len(d)
        return (stats.binomtest(int(np.sum(d > bound)), n, 0.5, alternative="greater").pvalue,
                stats.binomtest(int(np.sum(d < bound)), n, 0.5, alternative="greater").pvalue)

    def doc_means(neuron, excluded=frozenset()):
        out = np.full(len(docs), np.nan)
        drop = np.fromiter(excluded, dtype=np.int64)
        for i, (a, t_ids) in enumerate(zip(acts[neuron], ids, strict=True)):
            keep = ~np.isin(t_ids, drop) if len(drop) else np.ones(len(t_ids), bool)
            if keep.any():
                out[i] = a[keep].astype(np.float64).mean()
        return out

    def group(means, names):
        v = means[np.isin(corpus_of, list(names))]
        return v[np.isfinite(v)]

    def scale(neuron):
        """99.9th percentile of |activation| on the model's reference text (read from the profiles that
        ship with the model, as polytests reads them; not computed here)."""
        if profiles is None:
            return float(np.quantile(np.abs(np.concatenate(acts[neuron]).astype(np.float64)), 0.999))
        return profiles.scale(NeuronRef(*neuron), None)  # None: the default activation site

    def types_in(corpus):
        return set(np.unique(np.concatenate([ids[i] for i in np.flatnonzero(corpus_of == corpus)])).tolist())

    def shared_tokens(names):
        seen: dict[int, int] = {}
        for c in names:
            for t in types_in(c):
                seen[t] = seen.get(t, 0) + 1
        return {t for t, k in seen.items() if k >= 2}

    def baseline_of(claimed, explicit):
        return tuple(explicit) if explicit else tuple(c for c in corpora if c not in claimed)

    def bound_of(p, neuron):
        return (p.min_effect if p.min_effect is not None else min_effect) * scale(neuron)

    def fires(neuron, corpus, baseline, excluded, versus, bound, seed_):
        means = doc_means(neuron, excluded)
        x = group(means, [corpus])
        if versus != "each":
            y = group(means, baseline)
            if len(x) < MIN_DOCS or len(y) < MIN_DOCS:
                return None
            return bound_test(x, y, bound, seed_)
        tests = []
        for j, c in enumerate(baseline):
            y = group(means, [c])
            if len(x) < MIN_DOCS or len(y) < MIN_DOCS:
                return None
            tests.append(bound_test(x, y, bound, seed_ + 1 + j))
        return max(t[0] for t in tests), min(1.0, len(tests) * min(t[1] for t in tests))

    def most_active_token(neuron, corpus, min_count):
        sel = np.flatnonzero(corpus_of == corpus)
        t_ids = np.concatenate([ids[i] for i in sel])
        a = np.clip(np.concatenate([acts[neuron][i] for i in sel]).astype(np.float64), 0, None)
        mass = np.bincount(t_ids, weights=a, minlength=len(vocab))
        mass[np.bincount(t_ids, minlength=len(vocab)) < min_count] = -np.inf
        return int(np.argmax(mass))

    def ids_of_strings(strings):
        return {i for i, s in enumerate(vocab) if s in set(strings)}

    ablation_seconds = 0.0

    def delta_loss(layer, index, doc_index):
        """Per-document change in mean next-token loss from zeroing one neuron: a hooked
        forward pass per window of each document."""
        def zero(tensor, hook=None):
            tensor = tensor.clone()
            tensor[..., index] = 0.0
            return tensor

        out = np.full(len(docs), np.nan)
        with torch.inference_mode():
            for i in doc_index:
                total = 0.0
                for w in windows[i]:
                    row = torch.tensor([[bos, *w.tolist()]])
                    logits = bridge.run_with_hooks(row, fwd_hooks=[(f"blocks.{layer}.mlp.hook_post", zero)])
                    logp = torch.log_softmax(logits[0, :-1].float(), dim=-1)
                    total += float(-logp.gather(-1, row[0, 1:, None])[:, 0].double().sum())
                if len(ids[i]):
                    out[i] = (total - clean_loss[i].astype(np.float64).sum()) / len(ids[i])
        return out

    def evaluate(claim, index, p, pseed):
        """(p above the bound, p below it) of one predicate, or None when untestable."""
        neuron = (claim.neuron.layer, claim.neuron.index)
        rng_seed = pseed % 2**32
        kind = p.kind
        if kind == "fires_on":
            excluded = set()
            if p.exclude_shared_tokens:
                excluded |= shared_tokens((p.corpus, *p.exclude_shared_tokens))
            excluded |= ids_of_strings(p.exclude_tokens)
            return fires(neuron, p.corpus, baseline_of((p.corpus,), p.baseline), excluded, p.versus,
                         bound_of(p, neuron), rng_seed)
        if kind == "not_explained_by_one_token":
            token = most_active_token(neuron, p.corpus, p.min_count)
            return fires(neuron, p.corpus, baseline_of((p.corpus,), p.baseline), {token}, p.versus,
                         bound_of(p, neuron), rng_seed)
        if kind == "polysemantic":
            baseline = baseline_of(p.corpora_, p.baseline)
            excluded = shared_tokens(p.corpora_) if p.exclude_shared_tokens else set()
            parts = [fires(neuron, c, baseline, excluded, p.versus, bound_of(p, neuron), rng_seed + 100 * i)
                     for i, c in enumerate(p.corpora_)]
            if any(part is None for part in parts):
                return None
            return max(q[0] for q in parts), min(1.0, len(parts) * min(q[1] for q in parts))
        if kind == "silent_on":
            means = doc_means(neuron)
            x, y = group(means, [p.corpus]), group(means, baseline_of((p.corpus,), p.baseline))
            margin = float(p.margin) if p.margin is not None else bound_of(p, neuron)
            if len(x) < MIN_DOCS or len(y) < MIN_DOCS or not margin > 0:
                return None
            upper, lower = bound_test(x, y, margin, rng_seed), bound_test(x, y, -margin, rng_seed + 1)
            return max(upper[1], lower[0]), min(1.0, 2 * min(upper[0], lower[1]))
        if kind == "token_matched":
            a = np.concatenate(acts[neuron]).astype(np.float64)
            t_ids = np.concatenate(ids)
            doc = np.repeat(np.arange(len(docs)), [len(i) for i in ids])
            in_a, in_b = corpus_of[doc] == p.corpus, corpus_of[doc] == p.against
            count_a = np.bincount(t_ids[in_a], minlength=len(vocab))
            count_b = np.bincount(t_ids[in_b], minlength=len(vocab))
            qualifying = np.flatnonzero((count_a >= p.min_occurrences) & (count_b >= p.min_occurrences))
            if len(qualifying) == 0:
                return None
            sel = (in_a | in_b) & np.isin(t_ids, qualifying)
            type_mean = (np.bincount(t_ids[sel], weights=a[sel], minlength=len(vocab))
                         / np.maximum(np.bincount(t_ids[sel], minlength=len(vocab)), 1))
            resid = a[sel] - type_mean[t_ids[sel]]
            with np.errstate(invalid="ignore", divide="ignore"):
                per_doc = (np.bincount(doc[sel], weights=resid, minlength=len(docs))
                           / np.bincount(doc[sel], minlength=len(docs)))
            x, y = group(per_doc, [p.corpus]), group(per_doc, [p.against])
            if len(x) < MIN_DOCS or len(y) < MIN_DOCS:
                return None
            return bound_test(x, y, bound_of(p, neuron), rng_seed)
        if kind == "top_k_precision":
            a = np.concatenate(acts[neuron])
            doc = np.repeat(np.arange(len(docs)), [len(i) for i in ids])
            taken: dict[int, int] = {}
            hits = k = 0
            for i in np.argsort(-a, kind="stable"):
                d = int(doc[i])
                if taken.get(d, 0) < p.max_per_document:
                    taken[d] = taken.get(d, 0) + 1
                    hits += corpus_of[d] in p.corpora_
                    k += 1
                    if k == p.k:
                        break
            if k == 0:
                return None
            if p.min_precision >= 1:
                return float(hits == k), 1.0
            return (stats.binomtest(hits, k, p.min_precision, alternative="greater").pvalue,
                    stats.binomtest(hits, k, p.min_precision, alternative="less").pvalue)
        if kind == "explained_by":
            # Over tokens no test keeps its error rates on long-tailed activations (docs/statistics.md):
            # polytests reports the correlation and never decides on it, so neither does the notebook.
            if p.over == "documents":
                raise SystemExit(f"{claim.id}: explained_by over documents is not reproduced notebook-style")
            return None
        if kind.startswith("ablation_"):
            nonlocal ablation_seconds
            if any(k != "zero" for k in p.kinds):
                raise SystemExit(f"{claim.id}: only zero ablation is reproduced notebook-style, not {p.kinds}")
            t_abl = time.perf_counter()
            layer, target = neuron
            bound = p.min_effect if p.min_effect is not None else min_effect_loss
            if kind == "ablation_hurts":
                sel = np.flatnonzero(np.isin(corpus_of, list(p.corpora_)))
                d = delta_loss(layer, target, sel)[sel]
                d = d[np.isfinite(d)]
                observed = float(d.mean())
                above, below = bound_test_one_sample(d, bound)
                if profiles is not None:  # firing rate and |mean| on the reference text
                    prof = profiles.profile(layer, POST_SITE)
                    rate, magnitude = prof.rate, prof.magnitude
                else:
                    rate, magnitude = fired[layer] / n_tokens, np.abs(post_sum[layer]) / n_tokens
                nulls = matched_null_neurons(rate, magnitude, target, p.n_null, pseed)
                hits, p_rank = 0, None
                for evaluated, n in enumerate(nulls, start=1):
                    if np.nanmean(delta_loss(layer, int(n), sel)[sel]) >= observed:
                        hits += 1
                        if hits == BESAG_CLIFFORD_H:  # Besag-Clifford: stop, p = h / L
                            p_rank = hits / evaluated
                            break
                if p_rank is None:
                    p_rank = (1 + hits) / (len(nulls) + 1)
                ablation_seconds += time.perf_counter() - t_abl
                return max(p_rank, above), below
            if kind == "ablation_specific":
                sel = np.flatnonzero(np.isin(corpus_of, list(p.corpora_)))
                base = np.flatnonzero(np.isin(corpus_of, list(baseline_of(p.corpora_, p.baseline))))
                delta = delta_loss(layer, target, np.concatenate([sel, base]))
                x, y = delta[sel], delta[base]
                result = bound_test(x[np.isfinite(x)], y[np.isfinite(y)], bound, rng_seed)
                ablation_seconds += time.perf_counter() - t_abl
                return result
            if kind == "ablation_spares":
                sel = np.flatnonzero(corpus_of == p.corpus)
                d = delta_loss(layer, target, sel)[sel]
                d = d[np.isfinite(d)]
                upper = bound_test_one_sample(d, p.margin)
                lower = bound_test_one_sample(d, -p.margin)
                ablation_seconds += time.perf_counter() - t_abl
                return max(upper[1], lower[0]), min(1.0, 2 * min(upper[0], lower[1]))
        raise SystemExit(f"{claim.id}: predicate kind {kind!r} is not reproduced notebook-style")

    import hashlib

    t = time.perf_counter()
    sides = []
    for claim in claims:
        parts = []
        for i, p in enumerate(claim.predicates):
            # the claim's per-predicate seed, as polytests derives it (it picks the null neurons)
            pseed = int.from_bytes(hashlib.sha256(f"{seed}/{claim.id}/{i}".encode()).digest()[:8], "big")
            parts.append(evaluate(claim, i, p, pseed))
        if any(q is None for q in parts):
            sides.append((None, 1.0))
        else:
            sides.append((max(q[0] for q in parts), min(1.0, len(parts) * min(q[1] for q in parts))))
    # Holm over the family's 2m one-sided hypotheses (both sides of every claim), as polytests does
    m = len(sides)
    adjusted = multipletests([1.0 if a is None else a for a, _ in sides]
                             + [1.0 if a is None else b for a, b in sides], alpha=alpha, method="holm")[1]
    results = {}
    for i, (claim, (above, below)) in enumerate(zip(claims, sides, strict=True)):
        level = claim.alpha if claim.alpha is not None else alpha
        adj_above, adj_below = float(adjusted[i]), float(adjusted[m + i])
        if above is None:
            verdict = "inconclusive"
        elif adj_above <= level:
            verdict = "confirmed"
        elif adj_below <= level:
            verdict = "refuted"
        else:
            verdict = "inconclusive"
        results[claim.id] = {"verdict": verdict, "above": above, "below": below,
                             "adjusted": min(adj_above, adj_below)}
    timings["ablation: hooked forward per neuron (real + null)"] = ablation_seconds
    timings["statistics: scipy permutation_test, t-tests, bootstrap, Holm"] = (
        time.perf_counter() - t - ablation_seconds)
    return {"seconds": time.perf_counter() - started, "timings": timings, "results": results,
            "documents": len(docs), "tokens": n_tokens, "windows": sum(len(w) for w in windows)}


def run_notebook(spec_path: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--notebook-child", str(spec_path)], env=_env(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-5000:] + proc.stderr[-5000:])
        raise SystemExit(f"the notebook run failed (exit code {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------


def _p(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2g}" if value >= 1e-3 else f"{value:.1e}"


def _ratio(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.0f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", nargs="+", default=list(DEFAULT_CLAIMS),
                        help="claim ids, claim files of hypotheses/, or 'all' (default: a representative subset)")
    parser.add_argument("--n-null", type=int, default=DEFAULT_N_NULL,
                        help=f"n_null of every ablation_hurts claim, on both sides (default {DEFAULT_N_NULL}; "
                             "0 keeps each claim's own, 199 unless it states one)")
    parser.add_argument("--resamples", type=int, default=None, help="permutation resamples, both sides "
                        "(default: [tool.polytests] resamples, 9999)")
    parser.add_argument("--repeats", type=int, default=3, help="cold + warm pytest runs (median of each)")
    parser.add_argument("--notebook-repeats", type=int, default=1, help="notebook runs (median)")
    parser.add_argument("--hypotheses", default=str(REPO / "hypotheses"), help="where the claims are read")
    parser.add_argument("--model", help="model spec (default: [tool.polytests] model, the embedded model)")
    parser.add_argument("--corpora", help="corpora folder (default: [tool.polytests] corpora)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch project (its path is printed)")
    parser.add_argument("--notebook-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.notebook_child:
        print(json.dumps(notebook(json.loads(Path(args.notebook_child).read_text()))))
        return 0
    if args.repeats < 1 or args.notebook_repeats < 1:
        parser.error("--repeats and --notebook-repeats must be at least 1")
    if args.n_null and args.n_null < 19:
        parser.error("--n-null must be at least 19 (the claim schema's minimum) or 0 (unchanged)")

    settings = polytests_settings(args.model, args.corpora)
    resamples = args.resamples or settings["resamples"]
    claims = [with_n_null(c, args.n_null) for c in select_claims(hypothesis_claims(Path(args.hypotheses)),
                                                                  args.claims)]
    odd = [c.id for c in claims if c.split != "confirm" or c.model is not None or c.site is not None]
    if odd:
        raise SystemExit(f"the notebook side reproduces claims on the run's model, the confirm split and the "
                         f"default activation site only; these state another: {odd}")
    kinds = sorted({p.kind for c in claims for p in c.predicates})
    ablation = [c.id for c in claims if any(p.kind.startswith("ablation") for p in c.predicates)]
    print(f"{len(claims)} claims (family of {len(claims)}, holm), predicate kinds: {', '.join(kinds)}; "
          f"resamples {resamples}; n_null of ablation claims: "
          f"{args.n_null if args.n_null else 'as written'}{' (none selected)' if not ablation else ''}; "
          f"seed {settings['seed']}; model {settings['model']}, split confirm; OMP_NUM_THREADS "
          f"{os.environ.get('OMP_NUM_THREADS', 'default')}\n", flush=True)

    scratch = Path(tempfile.mkdtemp(prefix="polytests-bench-notebook-"))
    try:
        write_project(scratch / "project", claims, settings)
        spec = {"claims_file": str(scratch / "project" / "hypotheses" / "claims.toml"),
                "corpora": settings["corpora"], "model": settings["model"], "seed": settings["seed"],
                "alpha": settings["alpha"], "resamples": resamples, "min_effect": settings["min_effect"],
                "min_effect_loss": settings["min_effect_loss"], "settings": settings}
        if settings["correction"] != "holm":
            raise SystemExit("the notebook side applies Holm; set [tool.polytests] correction = 'holm'")
        spec_path = scratch / "notebook.json"
        spec_path.write_text(json.dumps(spec))

        cold, warm, runs = [], [], []
        for i in range(args.repeats):
            cache = scratch / f"cache-{i}"
            seconds, results = run_pytest(scratch / "project", cache, scratch / f"cold-{i}.xml", resamples)
            cold.append(seconds)
            runs.append(results)
            seconds, results = run_pytest(scratch / "project", cache, scratch / f"warm-{i}.xml", resamples)
            warm.append(seconds)
            runs.append(results)
            print(f"pytest run {i + 1}: cold {cold[-1]:.1f} s, warm {warm[-1]:.1f} s", flush=True)
        nb_runs = []
        for i in range(args.notebook_repeats):
            nb_runs.append(run_notebook(spec_path))
            print(f"notebook run {i + 1}: {nb_runs[-1]['seconds']:.1f} s", flush=True)
    finally:
        if args.keep:
            print(f"scratch project kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    ours = runs[0]
    unstable = [cid for r in runs[1:] for cid in r if r[cid]["verdict"] != ours.get(cid, {}).get("verdict")]
    nb = nb_runs[0]
    theirs = nb["results"]
    print(f"\nNotebook: {nb['documents']} documents, {nb['tokens']:,} tokens, {nb['windows']} windows; "
          "polytests p-values from the first cold run. p above / p below: the claim's two one-sided p-values; "
          "adjusted: Holm over the family.\n")
    print("| claim | polytests verdict | notebook verdict | p above (polytests / notebook) "
          "| p below (polytests / notebook) | adjusted (polytests / notebook) | same |")
    print("|---|---|---|---|---|---|---|")
    differ = []
    for c in claims:
        a, b = ours.get(c.id), theirs.get(c.id)
        if a is None:
            raise SystemExit(f"pytest reported no result for {c.id}")
        same = a["verdict"] == b["verdict"]
        if not same:
            differ.append(c.id)
        print(f"| {c.id} | {a['verdict']} | {b['verdict']} | {_p(a['above'])} / {_p(b['above'])} | "
              f"{_p(a['below'])} / {_p(b['below'])} | {_p(a['adjusted'])} / {_p(b['adjusted'])} | "
              f"{'yes' if same else '**NO**'} |")
    for key in nb["timings"]:
        nb["timings"][key] = statistics.median(r["timings"][key] for r in nb_runs)
    print("\nWhere the notebook's time goes (median): " + "; ".join(f"{k} {v:.1f} s" for k, v in nb["timings"].items()))

    t_nb = statistics.median(r["seconds"] for r in nb_runs)
    t_cold, t_warm = statistics.median(cold), statistics.median(warm)
    print(f"\n| way | seconds (median of {args.repeats}; notebook {args.notebook_repeats}) | notebook / way |")
    print("|---|---|---|")
    print(f"| notebook (run_with_cache per window, scipy, hooked forward per ablated neuron) | {t_nb:.1f} | 1.0x |")
    print(f"| polytests cold (pytest, fresh activation cache) | {t_cold:.1f} | {_ratio(t_nb / t_cold)} |")
    print(f"| polytests warm (pytest, same cache dir again) | {t_warm:.1f} | {_ratio(t_nb / t_warm)} |")
    print(f"\nTargets: warm at least 20x faster than the notebook ({'met' if t_nb / t_warm >= 20 else 'NOT met'}), "
          f"cold at least 3x ({'met' if t_nb / t_cold >= 3 else 'NOT met'}).")
    if unstable:
        print(f"\nVERDICTS CHANGED between pytest runs: {sorted(set(unstable))}")
    if differ:
        print(f"\nVERDICTS DIFFER between polytests and the notebook: {differ}")
        return 1
    print(f"\nAll {len(claims)} verdicts agree.")
    return 1 if unstable else 0


if __name__ == "__main__":
    sys.exit(main())
