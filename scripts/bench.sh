#!/usr/bin/env bash
# Runs deep-bench and PyTorch's timing script (../shared/bench/torch_bench.py) on the same
# workloads, alternating DeepStitch and PyTorch REPEATS times per workload (default 3), and prints
# a Markdown table: the median over the repeats of each side's median ms, their ratio, and the
# range of the per-pair ratios (the machines are noisy; one pair can mislead).
# Usage: [REPEATS=n] scripts/bench.sh [workload ...]   (PYTHON defaults to /tmp/venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/tmp/venv/bin/python}
TORCH_BENCH=${TORCH_BENCH:-../shared/bench/torch_bench.py}
REPEATS=${REPEATS:-3}
swift build -c release --product deep-bench >/dev/null
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(gemm_1024 conv3x3_fwd conv3x3_fwd_bwd mlp_step fmnist_cnn_step)
echo "| workload | DeepStitch ms | PyTorch ms | ratio | pair ratios | note |"
echo "|---|---:|---:|---:|---|---|"
for w in "${workloads[@]}"; do
    ours=(); theirs=()
    for _ in $(seq "$REPEATS"); do
        ours+=("$(.build/release/deep-bench "$w" | head -1)")
        theirs+=("$("$PYTHON" "$TORCH_BENCH" "$w" | head -1)")
    done
    "$PYTHON" - "$REPEATS" "${ours[@]}" "${theirs[@]}" <<'PY'
import json, statistics, sys
n = int(sys.argv[1])
a = [json.loads(s) for s in sys.argv[2:2 + n]]
b = [json.loads(s) for s in sys.argv[2 + n:2 + 2 * n]]
ma, mb = statistics.median(x["ms"] for x in a), statistics.median(x["ms"] for x in b)
pairs = sorted(x["ms"] / y["ms"] for x, y in zip(a, b))
extra = ", ".join(f"{k} {statistics.median(x[k] for x in a):.1f}" for k in a[0] if k not in ("workload", "ms", "impl"))
def r(x): return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"   # two significant digits below 0.1
print(f"| {a[0]['workload']} | {ma:.2f} | {mb:.2f} | {r(ma / mb)} | {r(pairs[0])}–{r(pairs[-1])} | {extra} |")
PY
done
