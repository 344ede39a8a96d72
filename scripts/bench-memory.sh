#!/usr/bin/env bash
# Peak resident memory (RSS) of every training and inference workload's timing loop, each run
# alone in its own process: deep-bench's `peak_rss_mb` (the high-water mark from the warm-up to the
# end of the timing; for inference, of the fused model), and the anchors through
# scripts/peak_memory_anchor.py (PyTorch and JAX for training, ONNX Runtime and PyTorch for
# inference; the same high-water mark, plus the RSS after their imports alone). Prints a Markdown table. Needs torch, torchvision, jax, flax, optax, onnx and
# onnxruntime in PYTHON's environment (default /tmp/venv/bin/python).
# Usage: scripts/bench-memory.sh [workload ...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/tmp/venv/bin/python}
export BENCH_DIR=${BENCH_DIR:-$PWD/../shared/bench}
training=(mlp_step fmnist_cnn_step resnet18_step vit_step conv3x3_fwd_bwd attention_fwd_bwd)
inference=(resnet18_infer_b1 resnet18_infer_b32 vit_infer_b32)
selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=("${training[@]}" "${inference[@]}")
swift build -c release --product deep-bench >/dev/null
for w in "${inference[@]}"; do
    [ -f "/tmp/deepstitch-onnx/$w.onnx" ] || "$PYTHON" "$BENCH_DIR/ort_bench.py" "$w" >/dev/null 2>&1
done
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for w in "${selected[@]}"; do
    .build/release/deep-bench "$w" | tail -1 >>"$lines"
    if [[ " ${inference[*]} " == *" $w "* ]]; then anchors=(onnxruntime torch-inference); else anchors=(torch jax); fi
    for impl in "${anchors[@]}"; do
        "$PYTHON" scripts/peak_memory_anchor.py "$impl" "$w" 2>/dev/null | tail -1 >>"$lines"
    done
done
"$PYTHON" - "$lines" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    rows.setdefault(r["workload"], {})["deepstitch" if r["impl"].startswith("deepstitch") else r["impl"]] = r
print("| workload | DeepStitch peak RSS (MB) | anchors' peak RSS (MB; in brackets: after the imports alone) | DeepStitch / PyTorch | DeepStitch / smallest anchor |")
print("|---|---:|---|---:|---:|")
for w, m in rows.items():
    ours = m.pop("deepstitch")["peak_rss_mb"]
    anchors = ", ".join(f"{k} {v['peak_rss_mb']:.0f} ({v['baseline_rss_mb']:.0f})" for k, v in m.items())
    torch = next(v["peak_rss_mb"] for k, v in m.items() if k.startswith("torch"))
    print(f"| {w} | {ours:.0f} | {anchors} | {ours / torch:.2f} | {ours / min(v['peak_rss_mb'] for v in m.values()):.2f} |")
PY
