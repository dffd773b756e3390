"""Judge every claim of hypotheses/ on the EXPLORE split, to write expectations before a confirm run.

The confirm split is never looked at: each claim is copied with ``split = "explore"`` and the whole
family is judged as `pytest hypotheses/` would (the same settings, Holm over every claim). Prints,
per claim, its current expectation, its verdict on explore and each predicate's estimate against
its bound, and writes the same as JSON (``--out``). Used for issue #23 (real corpora, the reference
scale); see docs/findings.md.

    python tools/explore_verdicts.py --out /tmp/explore.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_claims(folder: Path) -> list:
    from polytests.claims.model import Claim
    from polytests.claims.parse import parse_claim_file

    claims = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".toml":
            claims += parse_claim_file(path)
        elif path.suffix == ".py" and path.name.startswith("test_"):
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            claims += [v for v in vars(module).values() if isinstance(v, Claim)]
    return claims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hypotheses", default=str(ROOT / "hypotheses"))
    ap.add_argument("--out", help="write the verdicts and estimates here as JSON")
    args = ap.parse_args()
    from polytests.settings import load_pyproject_settings
    from polytests.verdicts.runner import ClaimRunner

    settings = load_pyproject_settings(ROOT)
    claims = [c.model_copy(update={"split": "explore"}) for c in load_claims(Path(args.hypotheses))]
    from polytests.errors import ModelWeightsAbsent

    runner = ClaimRunner(settings)
    present = []
    for c in claims:
        try:
            runner.check_claim(c)
            present.append(c)
        except ModelWeightsAbsent:
            print(f"{c.id}: skipped, its model's weights are not on this machine")
    claims = present
    results = runner.evaluate_family(claims)
    rows = []
    for c in claims:
        r = results[c.id]
        preds = [{"kind": p.kind, "estimate": p.estimate, "bound": p.bound, "ci": p.ci, "p": p.pvalue,
                  "p_refute": p.pvalue_refute, "summary": p.summary} for p in r.predicates]
        rows.append({"id": c.id, "expect": c.expect, "verdict": r.verdict, "p_adjusted": r.pvalue_adjusted,
                     "p_refute_adjusted": r.pvalue_refute_adjusted, "predicates": preds,
                     "scale": r.provenance.get("scale")})
        print(f"{c.id:48s} expect {str(c.expect):9s} explore {r.verdict}")
        for p in preds:
            print(f"    {p['kind']:24s} {p['summary'][:150]}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1, default=str) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
