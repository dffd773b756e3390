#!/usr/bin/env bash
# Issue 27, first evidence past one CPU machine: tests/test_cuda.py and benchmarks/bench_gpu.py on a GPU.
#
# Written for the device tool's nvidia-h200 machine (no network; Python packages the image lacks
# travel as wheels in .whl/, see docs/gpu.md), run from the repository root:
#     bash benchmarks/gpu_check.sh          (through the device tool: carry .whl, timeout about 420 s)
# Elsewhere (a GPU machine with the project installed) it runs as it is, without .whl/.
# Writes into $OUT (./gpu-out when OUT is unset): env.txt, pytest_cuda.log, bench.log,
# bench_cuda.json, bench_cpu.json. Each step has a time limit, so the whole script ends within
# GPU_CHECK_BUDGET seconds (default 390) and what finished comes back.
set -u
set -o pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
budget=${GPU_CHECK_BUDGET:-390}
start=$SECONDS
left() { echo $(( budget - (SECONDS - start) )); }
limit() { local want=$1 reserve=$2 l; l=$(( $(left) - reserve )); (( l < want )) && want=$l; (( want < 10 )) && want=10; echo "$want"; }
export PYTHONUNBUFFERED=1

if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed"; exit 1; }
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi

{
    echo "== date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host cores: $(nproc)  PYTHONPATH=$PYTHONPATH"
    nvidia-smi
    python3 - <<'EOF'
import importlib.metadata as md, platform
print("python", platform.python_version())
for n in ("torch", "transformers", "transformer-lens", "tokenizers", "safetensors", "accelerate", "huggingface-hub",
          "datasets", "pyarrow", "fsspec", "dill", "multiprocess", "pydantic", "pydantic-core", "typing-extensions",
          "typeguard", "jaxtyping", "numpy", "scipy", "numba", "statsmodels", "rich", "pytest", "filelock", "gguf",
          "psutil", "matplotlib"):
    try:
        print(f"  {n} {md.version(n)}")
    except md.PackageNotFoundError:
        print(f"  {n} MISSING")
EOF
} 2>&1 | tee "$OUT/env.txt"

# transformer_lens imports three names from datasets at import time and uses them for nothing here.
# Should the carried datasets not import against this image's pyarrow/fsspec/huggingface-hub, a stub
# of those names stands in (said in env.txt), so that the models still load.
if ! python3 -c "import datasets" >>"$OUT/env.txt" 2>&1; then
    echo "!! datasets does not import here (above); a stub of the names transformer_lens imports stands in" | tee -a "$OUT/env.txt"
    rm -rf /tmp/site/datasets && mkdir -p /tmp/site/datasets
    printf 'def load_dataset(*args, **kwargs):\n    raise RuntimeError("datasets is a stub on this machine")\n' > /tmp/site/datasets/load.py
    printf 'class Dataset:\n    pass\n' > /tmp/site/datasets/arrow_dataset.py
    printf 'class IterableDataset:\n    pass\n' > /tmp/site/datasets/iterable_dataset.py
    printf 'from .arrow_dataset import Dataset\nfrom .iterable_dataset import IterableDataset\nfrom .load import load_dataset\n' \
        > /tmp/site/datasets/__init__.py
fi
# Without a working numba the permutation engine's NumPy loops run (same numbers).
if ! python3 -c "import numba" >>"$OUT/env.txt" 2>&1; then
    echo "!! numba does not import here; POLYTESTS_JIT=0" | tee -a "$OUT/env.txt"
    export POLYTESTS_JIT=0
fi
python3 -c "
import torch, transformer_lens, polytests.verdicts.runner
from polytests.engine.models import load_model
print('imports ok; cuda available:', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')
" 2>&1 | tee -a "$OUT/env.txt"

echo "== [$(( SECONDS - start )) s] pytest tests/test_cuda.py"
timeout "$(limit 200 150)" python3 -m pytest -q -p no:cacheprovider -rfEs --durations=20 tests/test_cuda.py 2>&1 \
    | tee "$OUT/pytest_cuda.log"
echo "pytest exit status: $?" | tee -a "$OUT/pytest_cuda.log"

# The same sizes on both devices (the CPU/CUDA ratios), then larger ones on CUDA alone.
echo "== [$(( SECONDS - start )) s] bench_gpu.py --device cuda"
timeout "$(limit 120 70)" python3 benchmarks/bench_gpu.py --device cuda --tokens 32768,285246,1000000 \
    --embedded-tokens 65536,285246 --ablation-tokens 2048 --big-ablation-tokens 1024 --check-tokens 16384 \
    --out "$OUT/bench_cuda.json" 2>&1 | tee "$OUT/bench.log"
echo "bench cuda exit status: $?" | tee -a "$OUT/bench.log"

echo "== [$(( SECONDS - start )) s] bench_gpu.py --device cpu"
timeout "$(limit 150 5)" python3 benchmarks/bench_gpu.py --device cpu --tokens 32768 \
    --embedded-tokens 65536 --ablation-tokens 2048 --big-ablation-tokens 1024 \
    --out "$OUT/bench_cpu.json" 2>&1 | tee -a "$OUT/bench.log"
echo "bench cpu exit status: $?" | tee -a "$OUT/bench.log"
echo "== [$(( SECONDS - start )) s] done"
