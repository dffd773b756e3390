"""Time to load the embedded model as a TransformerBridge, in fresh processes.

Reports the import of TransformerLens and the load itself separately (median of --repeats
fresh interpreters), since a pytest session pays both once.

Usage: python benchmarks/bench_load.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, time
t0 = time.perf_counter()
from polytests.engine.models.loaded import import_bridge
import_bridge()
t1 = time.perf_counter()
from polytests.engine.models import load_model
model = load_model("embedded")
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = [json.loads(subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                                      check=True).stdout.strip().splitlines()[-1]) for _ in range(args.repeats)]
    imp = statistics.median(r["import"] for r in runs)
    load = statistics.median(r["load"] for r in runs)
    print(f"| import TransformerLens | load embedded model | total |\n|---|---|---|\n"
          f"| {imp:.2f} s | {load:.2f} s | {imp + load:.2f} s |\n\n(median of {args.repeats} fresh processes)")


if __name__ == "__main__":
    main()
