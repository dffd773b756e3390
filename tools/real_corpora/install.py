"""Put the real documents gathered by gather.py into corpora/ (issue #23).

For each corpus that gather.py filled, this replaces the authored documents by real ones:

- ``--per-corpus`` documents (default 100), chosen round-robin over the source packages, each
  package's documents in sha256("corpora:" + id) order, so no package crowds out the others;
- each document cut at ``--max-chars`` characters (default 2,000) at the last line end before it
  (the document is the unit of analysis: more documents buy more power than longer ones, and the
  suite's run time grows with tokens); a cut document says so in sources.json (``excerpt_of``);
- ``corpora/<corpus>/sources.json``: per document its origin ("real"), registry, package, version,
  path inside the archive, licence and the archive's SHA-256, which ``polytests corpora
  --write-manifest`` copies into the manifest;
- ``CARD.md`` rewritten from ``notes/<corpus>.md`` and the counts.

Corpora gather.py did not fill (gibberish: generated; spanish_poetry: no licence-clear source) are
left as they are. Run from the repository root:

    python3 tools/real_corpora/install.py --from /tmp/polytests-realtext --corpora corpora
    polytests corpora --write-manifest
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _order(doc_id: str) -> str:
    return hashlib.sha256(("corpora:" + doc_id).encode("utf-8")).hexdigest()


def _shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"\S+", text.lower())
    return {tuple(words[i: i + n]) for i in range(len(words) - n + 1)}


def near_duplicate(a: set, b: set) -> bool:
    """More than half of the shorter document's word 8-grams shared (gather.py's rule, and the tests')."""
    return bool(a and b) and len(a & b) >= 0.5 * min(len(a), len(b))


def choose(rows: list[dict], n: int) -> list[dict]:
    """Up to ``n`` rows, round-robin over packages (packages by name), each in sha256 order."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["package"], []).append(row)
    queues = [sorted(groups[k], key=lambda r: _order(r["id"])) for k in sorted(groups)]
    out: list[dict] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def cut(text: str, max_chars: int) -> str:
    """The text up to ``max_chars`` characters, ending at a line end when one is in the second half."""
    if len(text) <= max_chars:
        return text
    end = text.rfind("\n", 0, max_chars)
    return (text[:end] if end > max_chars // 2 else text[:max_chars]).rstrip() + "\n"


def install(source: Path, corpora: Path, per_corpus: int, max_chars: int) -> dict[str, int]:
    counts = {}
    for folder in sorted(p for p in source.iterdir() if (p / "sources.json").is_file()):
        rows = json.loads((folder / "sources.json").read_text(encoding="utf-8"))
        if not rows:
            continue
        name = folder.name
        # gather.py can give two documents one id (sqlite's vfs.html in two folders): the file on
        # disk is then the last one written and its sources.json row is ambiguous, so both are left out.
        seen: dict[str, int] = {}
        for row in rows:
            seen[row["id"]] = seen.get(row["id"], 0) + 1
        rows = [r for r in rows if seen[r["id"]] == 1]
        target = corpora / name
        docs = target / "docs"
        if docs.exists():
            shutil.rmtree(docs)
        docs.mkdir(parents=True)
        entries: dict[str, dict] = {}
        kept_shingles: list[set] = []
        for row in choose(rows, len(rows)):
            if len(entries) == per_corpus:
                break
            text = (folder / "docs" / f"{row['id']}.txt").read_text(encoding="utf-8")
            kept = cut(text, max_chars)
            grams = _shingles(kept)
            if any(near_duplicate(grams, other) for other in kept_shingles):
                continue  # cutting made two documents near-duplicates: the later one is left out
            kept_shingles.append(grams)
            (docs / f"{row['id']}.txt").write_text(kept, encoding="utf-8")
            entry = {"origin": "real", "registry": row["registry"], "package": row["package"],
                     "version": row["version"], "path": row["path"], "licence": row["licence"],
                     "archive": row["archive"], "archive_sha256": row["archive_sha256"]}
            if kept != text:
                entry["excerpt_of"] = len(text.encode("utf-8"))  # bytes of the whole document
            if row.get("note"):
                entry["note"] = row["note"]
            entries[row["id"]] = entry
        (target / "sources.json").write_text(json.dumps({"documents": entries}, indent=1, sort_keys=True,
                                                        ensure_ascii=False) + "\n", encoding="utf-8")
        notes = (HERE / "notes" / f"{name}.md").read_text(encoding="utf-8")
        packages = sorted({(e["package"], e["version"]) for e in entries.values()})
        excerpts = sum("excerpt_of" in e for e in entries.values())
        card = (notes.replace(f"# {name}: real documents", f"# {name}", 1)
                .replace("## Where it comes from", "## What it is\nReal text that nobody wrote for polytests and that the "
                         "embedded model never trained on (checked: see below).\n\n### Where it comes from", 1)
                .replace("## Licence", "## License", 1)
                .replace("## How it was cut and filtered (all corpora)", "## How it was made", 1)).rstrip() + (
            f"\n\n### What is in corpora/{name}\n"
            f"{len(entries)} of the {len(rows)} documents gather.py kept, round-robin over "
            f"{', '.join(f'{p} {v}' for p, v in packages)}; {excerpts} of them cut to their first "
            f"{max_chars:,} characters at a line end (`excerpt_of` in sources.json gives the whole document's "
            "size). Chosen and cut by `tools/real_corpora/install.py`; every document's source, version, path and "
            "licence are in `sources.json` and in `corpora/manifest.json`.\n")
        (target / "CARD.md").write_text(card, encoding="utf-8")
        counts[name] = len(entries)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="source", default="/tmp/polytests-realtext", help="gather.py's --out")
    ap.add_argument("--corpora", default="corpora")
    ap.add_argument("--per-corpus", type=int, default=100)
    ap.add_argument("--max-chars", type=int, default=2000)
    args = ap.parse_args()
    for name, n in install(Path(args.source), Path(args.corpora), args.per_corpus, args.max_chars).items():
        print(f"{name}: {n} real documents")


if __name__ == "__main__":
    main()
