"""Report figures as PNG bytes (matplotlib, Agg): per-document strip plot, null distributions,
verdict history. The HTML report embeds them as data URIs, so it opens from disk alone."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from polytests.claims.results import ClaimResult
from polytests.reports.format import fmt_signed, null_of

CLAIMED = "#d62728"
OTHER = "#7f7f7f"
VERDICT_COLOURS = {"confirmed": "#1a7f37", "refuted": "#cf222e", "inconclusive": "#9a6700"}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    pyplot().close(fig)
    return buffer.getvalue()


@cache
def _source() -> str:
    """This module's source: a figure drawn by other code is another figure."""
    return Path(__file__).read_text(encoding="utf-8")


def claim_figures(r: ClaimResult, cache_dir=None) -> dict[str, bytes | None]:
    """A claim's per-result figures (strip plot, null distributions), read from ``cache_dir``
    where an earlier run, or an xdist worker of this one, drew them from the same result."""
    return {"strip": memoised("strip", strip_plot, r, cache_dir), "null": memoised("null", null_plot, r, cache_dir)}


def memoised(kind: str, draw, r: ClaimResult, cache_dir=None) -> bytes | None:
    """``draw(r)``, or the same PNG drawn by an earlier run from the same result.

    The key is a digest of the figure's kind, the result without its provenance (which
    says where numbers came from, not what they are) and this module's source; an entry
    is named by its key and the digest of its bytes, and read only when both match.
    """
    content = {k: v for k, v in r.to_dict().items() if k not in ("provenance", "family_excluded")}
    return memoised_content(kind, lambda: draw(r), content, cache_dir)


def memoised_content(kind: str, draw, content, cache_dir=None) -> bytes | None:
    """``draw()``, or the PNG an earlier run drew for the same ``kind`` and ``content`` (see :func:`memoised`)."""
    if cache_dir is None:
        return draw()
    import hashlib
    import json

    from polytests.reports.atomic import atomic_write_bytes

    key = hashlib.sha256(json.dumps([kind, content, _source()], sort_keys=True,
                                    default=str).encode()).hexdigest()[:32]
    folder = Path(cache_dir)
    for path in folder.glob(f"{kind}-{key}-*.png"):
        data = path.read_bytes()
        if path.stem.rsplit("-", 1)[-1] == hashlib.sha256(data).hexdigest()[:16]:
            return data
    data = draw()
    if data is not None:
        try:
            atomic_write_bytes(folder / f"{kind}-{key}-{hashlib.sha256(data).hexdigest()[:16]}.png", data)
        except OSError:
            pass  # a figure cache that cannot be written only costs the reuse
    return data


def strip_plot(r: ClaimResult) -> bytes | None:
    """The neuron's per-document mean activation by corpus, claimed corpora in red."""
    doc_means = r.doc_means
    if not doc_means:
        return None
    import numpy as np

    plt = pyplot()
    claimed = set(r.corpora)
    names = sorted(doc_means, key=lambda c: (c not in claimed, c))
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.2), dpi=100)
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        values = np.asarray(doc_means[name], dtype=float)
        colour = CLAIMED if name in claimed else OTHER
        ax.scatter(values, i + rng.uniform(-0.18, 0.18, len(values)), s=9, color=colour, alpha=0.7)
        if len(values):
            ax.plot([values.mean()] * 2, [i - 0.3, i + 0.3], color="black", lw=1.2)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean activation per document at {r.site}")
    ax.set_title(f"{r.claim_id} ({r.neuron}): {r.verdict}", fontsize=9)
    fig.tight_layout()
    return png_bytes(fig)


def null_plot(r: ClaimResult) -> bytes | None:
    """Every recorded null distribution of the claim's predicates, observed statistic marked."""
    panels = [(pred.kind, label, null) for pred in r.predicates for label, null in null_of(pred)]
    if not panels:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.9 * len(panels) + 0.4), dpi=100, squeeze=False)
    for ax, (kind, label, null) in zip(axes[:, 0], panels, strict=True):
        edges, counts = null["edges"], null["counts"]
        ablation = kind.startswith("ablation_hurts")
        # One stepped patch, not a bar per bin: the same histogram, a fraction of the drawing time.
        ax.stairs(counts, edges, fill=True, color="#9ecae1" if not ablation else "#c6dbef",
                  label="matched random neurons" if ablation else f"null ({null['n']:,} resamples)")
        ax.stairs(counts, edges, color="#6baed6", lw=0.6)
        ax.axvline(null["observed"], color=CLAIMED, lw=2,
                   label=f"{'claimed neuron' if ablation else 'observed'} {fmt_signed(null['observed'], 4)}")
        ax.set_title(f"{kind}{' ' + label if label else ''}: {null['statistic']}", fontsize=8.5)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper right", frameon=False)
    fig.tight_layout()
    return png_bytes(fig)


def history_changes(history: list[dict]) -> list[dict]:
    """The claim's records where its result changed: consecutive runs with the same verdict and
    effect are one point (the first run's time, ``runs`` how many in a row). A rerun that found
    the same numbers adds nothing to read, and leaves the figure (and its cached PNG) as it was."""
    out: list[dict] = []
    for h in history:
        same = out and out[-1]["verdict"] == h.get("verdict") and out[-1].get("effect") == h.get("effect")
        if same:
            out[-1]["runs"] += 1
        else:
            out.append({"verdict": h.get("verdict"), "effect": h.get("effect"), "generated": h.get("generated"),
                        "flipped": bool(h.get("flipped")), "runs": 1})
    return out


def history_plot(claim_id: str, history: list[dict], cache_dir=None) -> bytes | None:
    """A claim's effect at each run where its result changed, coloured by verdict, flips ringed."""
    changes = history_changes(history)
    points = [(i, h) for i, h in enumerate(changes) if h.get("effect") and h["effect"].get("estimate") is not None]
    if len(history) < 2 or not points:
        return None
    # The figure does not show how many runs each point stands for: that grows on every rerun.
    content = [claim_id, [{k: v for k, v in c.items() if k != "runs"} for c in changes]]
    return memoised_content("history", lambda: _draw_history(claim_id, points), content, cache_dir)


def _draw_history(claim_id: str, points: list[tuple[int, dict]]) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 1.9), dpi=100)
    xs = [i for i, _ in points]
    ys = [h["effect"]["estimate"] for _, h in points]
    ax.plot(xs, ys, color="#bbbbbb", lw=1, zorder=1)
    for i, h in points:
        e = h["effect"]
        if e.get("low") is not None and e.get("high") is not None:
            ax.plot([i, i], [e["low"], e["high"]], color=VERDICT_COLOURS.get(h["verdict"], OTHER), lw=1.2)
        ax.scatter([i], [e["estimate"]], s=30 if h.get("flipped") else 14, zorder=3,
                   color=VERDICT_COLOURS.get(h["verdict"], OTHER),
                   edgecolor="black" if h.get("flipped") else "none")
    bounds = {h["effect"].get("bound") for _, h in points} - {None}
    for b in bounds:
        ax.axhline(b, color="black", ls=":", lw=0.8)
    labels = [str(h.get("generated", ""))[:16].replace("T", " ") for _, h in points]
    ax.set_xticks(xs, labels, fontsize=6, rotation=30)
    ax.set_ylabel("effect", fontsize=8)
    ax.set_title(f"{claim_id}: effect from each run that changed it (colour = verdict, ringed = flipped)",
                 fontsize=8.5)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return png_bytes(fig)
