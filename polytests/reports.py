"""Reports: the terminal table (rich), and JSON, Markdown and HTML files in ``reports/``.

Reports only read :class:`~polytests.claims.results.ClaimResult` dictionaries
(as serialised by :func:`result_to_dict`), so they work the same whether the
claims ran in this process or in pytest-xdist workers.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import html
import json
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

VERDICT_STYLE = {"confirmed": "bold green", "refuted": "bold red", "inconclusive": "bold yellow"}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def result_to_dict(result) -> dict:
    return _plain(result)


def _p(p) -> str:
    return "—" if p is None else (f"{p:.3g}" if p >= 1e-3 else f"{p:.1e}")


def outcome(r: dict) -> str:
    if r["verdict"] == "inconclusive":
        return "skipped"
    return "passed" if r["verdict"] == r["expect"] else "FAILED"


class SummaryTable:
    """A rich renderable: one row per claim."""

    def __init__(self, results: list[dict]) -> None:
        self.results = results

    def __rich_console__(self, console, options):
        table = Table(title="polytests: claims", show_lines=False, expand=False)
        for col in ("claim", "neuron", "verdict", "expect", "p", "p adj", "test"):
            table.add_column(col, overflow="fold")
        for r in self.results:
            table.add_row(
                r["claim_id"], r["neuron"], Text(r["verdict"], style=VERDICT_STYLE[r["verdict"]]),
                r["expect"], _p(r["pvalue"]), _p(r["pvalue_adjusted"]), outcome(r),
            )
        yield table
        if self.results:
            r0 = self.results[0]
            yield Text(f"family of {r0['family_size']} claims, {r0['correction']} correction; "
                       f"model {r0['provenance'].get('model')} ({r0['provenance'].get('model_digest', '')[:12]}), "
                       f"split {r0['provenance'].get('split')}, seed {r0['provenance'].get('seed')}",
                       style="dim")


def explain(r: dict) -> str:
    """The words of a failed, refuted or inconclusive claim, for pytest's failure section."""
    lines = [
        f"claim {r['claim_id']}: {r['statement']}",
        f"verdict: {r['verdict'].upper()} (expected {r['expect']}) — {r['reason']}",
        f"neuron {r['neuron']} read at {r['site']}; p={_p(r['pvalue'])}, "
        f"{r['correction']}-adjusted p={_p(r['pvalue_adjusted'])} (family of {r['family_size']}), alpha={r['alpha']}",
    ]
    for pr in r["predicates"]:
        status = "inconclusive" if pr["pvalue"] is None else f"p={_p(pr['pvalue'])}"
        lines.append(f"  - {pr['kind']} [{status}]: {pr['summary']}")
    if r.get("top_tokens"):
        tops = ", ".join(f"{t!r} {a:.3g} ({c})" for t, a, c in r["top_tokens"][:8])
        lines.append(f"top activating tokens: {tops}")
    prov = r.get("provenance", {})
    lines.append(f"documents {prov.get('documents')}, tokens {prov.get('tokens')}, model digest "
                 f"{str(prov.get('model_digest', ''))[:12]}, corpus hash {str(prov.get('corpus_hash', ''))[:12]}")
    return "\n".join(lines)


def claim_figure(r: dict, path: Path) -> Path | None:
    """A strip plot of the neuron's per-document means by corpus, claimed corpora highlighted."""
    doc_means = r.get("doc_means") or {}
    if not doc_means:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    claimed = set(r.get("corpora", ()))
    names = sorted(doc_means, key=lambda c: (c not in claimed, c))
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.2), dpi=110)
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        values = np.asarray(doc_means[name], dtype=float)
        colour = "#d62728" if name in claimed else "#7f7f7f"
        ax.scatter(values, i + rng.uniform(-0.18, 0.18, len(values)), s=9, color=colour, alpha=0.7)
        if len(values):
            ax.plot([values.mean()] * 2, [i - 0.3, i + 0.3], color="black", lw=1.2)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean activation per document at {r['site']}")
    ax.set_title(f"{r['claim_id']} ({r['neuron']}): {r['verdict']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# -- issue 13 (reliability): a malformed previous report is set aside, never fatal --------------


def read_previous_claims(path: Path) -> dict[str, dict]:
    """The previous run's claims by id; {} if there is none. A report that is not what this
    module writes (truncated by a kill, edited by hand) is renamed ``*.bad-<time>`` with a
    warning, so the run goes on and the next report replaces it."""
    import warnings

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"unreadable ({exc})"
    else:
        try:
            data = json.loads(text)
            claims = data["claims"]
            if not isinstance(claims, list) or not all(
                    isinstance(c, dict) and isinstance(c.get("claim_id"), str) and isinstance(c.get("verdict"), str)
                    and isinstance(c.get("provenance", {}), dict) for c in claims):
                raise TypeError("claims must be a list of results with claim_id, verdict and provenance")
            return {c["claim_id"]: c for c in claims}
        except (ValueError, KeyError, TypeError) as exc:
            problem = f"malformed ({exc.__class__.__name__}: {exc})" if text.strip() else "empty"
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.bad-{stamp}")
    try:
        path.replace(aside)
        where = f"moved to {aside.name}"
    except OSError:
        where = "left in place"
    warnings.warn(f"polytests: previous report {path} is {problem}; {where}, no verdict flips checked "
                  "this run", stacklevel=2)
    return {}


def verdict_flips(results: list[dict], report_dir: str | Path) -> list[dict]:
    """Claims whose verdict differs from the previous run's ``claims.json`` in ``report_dir``.

    Each flip says what changed in the provenance too (model weights, corpora, seed), so a
    nightly run tells a regression in the tool from a change in its inputs.
    """
    previous = read_previous_claims(Path(report_dir) / "claims.json")
    flips = []
    for r in results:
        before = previous.get(r["claim_id"])
        if before is None or before.get("verdict") == r["verdict"]:
            continue
        changed = [k for k in ("model_digest", "corpus_hash", "seed", "resamples")
                   if before.get("provenance", {}).get(k) != r["provenance"].get(k)]
        flips.append({"claim_id": r["claim_id"], "before": before["verdict"], "after": r["verdict"],
                      "changed": changed, "previous_run": before.get("generated")})
    return flips


def write_reports(results: list[dict], report_dir: str | Path) -> list[Path]:
    """Write claims.json, claims.md, claims.html and one PNG per claim; return their paths.

    claims.json records the verdicts that flipped since the previous claims.json there.
    """
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    flips = verdict_flips(results, out)
    figures = {r["claim_id"]: claim_figure(r, out / f"{r['claim_id']}.png") for r in results}
    paths = [out / "claims.json", out / "claims.md", out / "claims.html"]
    paths[0].write_text(json.dumps({"generated": stamp, "flips": flips, "claims": results}, indent=1) + "\n")
    paths[1].write_text(_markdown(results, stamp, figures))
    paths[2].write_text(_html(results, stamp, figures))
    return paths + [p for p in figures.values() if p is not None]


def _markdown(results: list[dict], stamp: str, figures: dict) -> str:
    rows = ["# polytests report", "", f"Generated {stamp}.", "",
            "| claim | neuron | verdict | expect | p | p adj | test |", "|---|---|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r['claim_id']} | {r['neuron']} | {r['verdict']} | {r['expect']} | {_p(r['pvalue'])} "
                    f"| {_p(r['pvalue_adjusted'])} | {outcome(r)} |")
    for r in results:
        rows += ["", f"## {r['claim_id']}", "", "```", explain(r), "```"]
        if figures.get(r["claim_id"]):
            rows += ["", f"![{r['claim_id']}]({figures[r['claim_id']].name})"]
    return "\n".join(rows) + "\n"


def _html(results: list[dict], stamp: str, figures: dict) -> str:
    colour = {"confirmed": "#1a7f37", "refuted": "#cf222e", "inconclusive": "#9a6700"}
    body = []
    for r in results:
        body.append(
            f"<tr><td>{html.escape(r['claim_id'])}</td><td>{r['neuron']}</td>"
            f"<td style='color:{colour[r['verdict']]};font-weight:bold'>{r['verdict']}</td>"
            f"<td>{r['expect']}</td><td>{_p(r['pvalue'])}</td><td>{_p(r['pvalue_adjusted'])}</td>"
            f"<td>{outcome(r)}</td></tr>")
    details = "".join(
        f"<h2 id='{html.escape(r['claim_id'])}'>{html.escape(r['claim_id'])}</h2><pre>{html.escape(explain(r))}</pre>"
        + (f"<img src='{figures[r['claim_id']].name}' alt='per-document activations by corpus'>"
           if figures.get(r["claim_id"]) else "")
        for r in results)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>polytests report</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
            "pre{background:#f6f8fa;padding:1em;white-space:pre-wrap}</style></head><body>"
            f"<h1>polytests report</h1><p>Generated {stamp}.</p><table><tr><th>claim</th><th>neuron</th>"
            "<th>verdict</th><th>expect</th><th>p</th><th>p adj</th><th>test</th></tr>"
            + "".join(body) + "</table>" + details + "</body></html>\n")
