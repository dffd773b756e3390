"""Writing the report folder: claims.json/.md/.html, summary.md, figures, and the ledger line.

Everything happens under the folder's lock and every file is replaced atomically, so a run
killed at any point leaves each file either as it was or complete. A previous claims.json
that does not parse is set aside (renamed) with a warning; it never stops a run.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from polytests.claims.results import ClaimResult
from polytests.reports import figures as figs
from polytests.reports.atomic import (
    atomic_write_bytes,
    atomic_write_text,
    finite_json,
    remove_stale_temporaries,
    report_lock,
)
from polytests.reports.html import render_html
from polytests.reports.ledger import (
    LEDGER_NAME,
    append_entry,
    claim_history,
    find_flips,
    ledger_entry,
    read_ledger,
)
from polytests.reports.markdown import claims_markdown, summary_markdown

CLAIMS_JSON = "claims.json"


@dataclass
class WrittenReports:
    folder: Path
    paths: list[Path] = field(default_factory=list)
    flips: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def figures(self) -> list[Path]:
        return [p for p in self.paths if p.suffix == ".png"]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_previous_report(folder: Path, warnings: list[str], set_aside: bool) -> dict | None:
    """The previous claims.json, or None; a malformed one is renamed aside with a warning."""
    path = folder / CLAIMS_JSON
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
            raise ValueError("no 'claims' list")
        return data
    except (ValueError, UnicodeDecodeError) as exc:
        if set_aside:
            aside = path.with_name(f"{CLAIMS_JSON}.malformed-{_dt.datetime.now():%Y%m%dT%H%M%S}")
            path.replace(aside)
            warnings.append(f"previous {path} is malformed ({exc}); set aside as {aside.name}")
        else:
            warnings.append(f"previous {path} is malformed ({exc}); ignored")
        return None


def detect_flips(results: list[ClaimResult], report_dir: str | Path) -> WrittenReports:
    """Flips against the ledger (or previous claims.json) without writing anything."""
    folder = Path(report_dir)
    out = WrittenReports(folder)
    ledger = read_ledger(folder / LEDGER_NAME)
    out.warnings += ledger.warnings(folder / LEDGER_NAME)
    out.flips = find_flips(results, ledger.entries, read_previous_report(folder, out.warnings, set_aside=False))
    return out


def write_reports(results: list[ClaimResult], report_dir: str | Path, *, stamp: str | None = None,
                  figure_cache: str | Path | None = None, lock_timeout: float = 600.0) -> WrittenReports:
    """Append this run to the ledger and write every report file; returns paths, flips, warnings.

    ``figure_cache``: a folder where per-claim figures are kept by content, so a rerun whose
    results did not change does not draw them again (the history figure only when the claim's
    result changed since the run before)."""
    folder = Path(report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = stamp or _now()
    out = WrittenReports(folder)
    with report_lock(folder, lock_timeout):
        remove_stale_temporaries(folder)
        previous = read_previous_report(folder, out.warnings, set_aside=True)
        ledger_path = folder / LEDGER_NAME
        ledger = read_ledger(ledger_path)
        out.warnings += ledger.warnings(ledger_path)
        out.flips = find_flips(results, ledger.entries, previous)
        entry = ledger_entry(results, stamp)
        append_entry(ledger_path, entry, ledger)
        entries = [*ledger.entries, entry]

        figures: dict[str, dict[str, bytes | None]] = {}
        figure_names: dict[str, str] = {}
        for r in results:
            cid = r.claim_id
            figures[cid] = {**figs.claim_figures(r, figure_cache),
                            "history": figs.history_plot(cid, claim_history(entries, cid), figure_cache)}
            if figures[cid]["strip"]:
                out.paths.append(atomic_write_bytes(folder / f"{cid}.png", figures[cid]["strip"]))
                figure_names[cid] = f"{cid}.png"
        report = {"generated": stamp, "run": entry["run"], "flips": out.flips, "warnings": out.warnings,
                  "claims": [r.to_dict() for r in results]}
        out.paths[:0] = [
            atomic_write_text(folder / CLAIMS_JSON, json.dumps(finite_json(report), indent=1, allow_nan=False) + "\n"),
            atomic_write_text(folder / "claims.md", claims_markdown(results, stamp, out.flips, figure_names)),
            atomic_write_text(folder / "claims.html", render_html(results, stamp, out.flips, figures, out.warnings)),
            atomic_write_text(folder / "summary.md", summary_markdown(results, stamp, out.flips, out.warnings)),
            ledger_path,
        ]
    return out
