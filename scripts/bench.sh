#!/usr/bin/env bash
# Runs deep-bench and PyTorch's timing script (../shared/bench/torch_bench.py) on the same
# workloads, alternating per workload, and prints a Markdown table of medians and ratios.
# Usage: scripts/bench.sh [workload ...]   (PYTHON defaults to /tmp/venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/tmp/venv/bin/python}
TORCH_BENCH=${TORCH_BENCH:-../shared/bench/torch_bench.py}
swift build -c release --product deep-bench >/dev/null
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(gemm_1024 conv3x3_fwd conv3x3_fwd_bwd mlp_step fmnist_cnn_step)
echo "| workload | DeepStitch ms | PyTorch ms | ratio | note |"
echo "|---|---:|---:|---:|---|"
for w in "${workloads[@]}"; do
    ours=$(.build/release/deep-bench "$w" | head -1)
    theirs=$("$PYTHON" "$TORCH_BENCH" "$w" | head -1)
    "$PYTHON" - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
extra = ", ".join(f"{k} {v:.1f}" for k, v in a.items() if k not in ("workload", "ms", "impl"))
print(f"| {a['workload']} | {a['ms']:.2f} | {b['ms']:.2f} | {a['ms'] / b['ms']:.2f} | {extra} |")
PY
done
