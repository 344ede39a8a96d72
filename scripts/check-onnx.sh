#!/usr/bin/env bash
# Live check of the ONNX export with ONNX Runtime (needs onnx and onnxruntime from PyPI, so it is
# not part of scripts/test.sh): ONNXExportTests exports every model of the list with fixed seeded
# weights into a folder, then Tests/Fixtures/check_onnx.py runs onnx.checker (full check) and
# ONNX Runtime on each and compares with the library's outputs (≤ 1e-4 relative).
#
#     bash scripts/check-onnx.sh [--write-fixture]    # PYTHON=... to use another interpreter
#
# --write-fixture also rewrites Tests/Fixtures/onnx_reference.json (ONNX Runtime's outputs, which
# the Swift tests compare against).
set -euo pipefail
cd "$(dirname "$0")/.."
# PYTHON, when given, must have onnx and onnxruntime; otherwise a virtual environment outside the
# repository is made (once) and they are installed into it from PyPI.
source scripts/python-env.sh
python_with "${DEEPSTITCH_ONNX_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/deepstitch/venv-onnx}" "import onnx, onnxruntime, numpy" onnx onnxruntime numpy
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
swift build -c release --build-tests -Xswiftc -enable-testing
ONNX_EXPORT_DIR="$OUT" swift test -c release --skip-build --disable-swift-testing -Xswiftc -enable-testing --filter ONNXExportTests
(cd Tests/Fixtures && "$PYTHON" check_onnx.py "$OUT" "$@")
