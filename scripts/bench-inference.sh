#!/usr/bin/env bash
# The inference workloads (resnet18_infer_b1, resnet18_infer_b32, vit_infer_b32) of deep-bench
# (plain eval forward, and after fuseForInference()) against ONNX Runtime and PyTorch eager
# (../shared/bench/ort_bench.py), alternating REPEATS times (default 3); prints a Markdown table of
# the medians and the ratios to ONNX Runtime. Needs onnx and onnxruntime beside torch and
# torchvision in PYTHON's environment (default /tmp/venv/bin/python).
# Usage: [REPEATS=n] scripts/bench-inference.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/tmp/venv/bin/python}
ORT_BENCH=${ORT_BENCH:-../shared/bench/ort_bench.py}
REPEATS=${REPEATS:-3}
swift build -c release --product deep-bench >/dev/null
workloads=(resnet18_infer_b1 resnet18_infer_b32 vit_infer_b32)
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for _ in $(seq "$REPEATS"); do
    .build/release/deep-bench "${workloads[@]}" >>"$lines"
    "$PYTHON" "$ORT_BENCH" "${workloads[@]}" 2>/dev/null >>"$lines"
done
"$PYTHON" - "$lines" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs.setdefault((r["workload"], r["impl"]), []).append(r["ms"])
print("| workload | DeepStitch | DeepStitch fused | ONNX Runtime | PyTorch | fused / ORT | fused / PyTorch |")
print("|---|---:|---:|---:|---:|---:|---:|")
for w in ["resnet18_infer_b1", "resnet18_infer_b32", "vit_infer_b32"]:
    m = {impl: statistics.median(v) for (name, impl), v in runs.items() if name == w}
    ours = m.get("deepstitch-fused", m["deepstitch"])
    fused = f"{m['deepstitch-fused']:.1f}" if "deepstitch-fused" in m else "(nothing to fold)"
    print(f"| {w} | {m['deepstitch']:.1f} | {fused} | {m['onnxruntime']:.1f} | {m['torch']:.1f} | "
          f"{ours / m['onnxruntime']:.2f} | {ours / m['torch']:.2f} |")
PY
