"""Checks the ONNX exports that ONNXExportTests writes when ONNX_EXPORT_DIR is set (run through
scripts/check-onnx.sh): each <model>.onnx passes onnx.checker with full checking, and ONNX Runtime's
outputs on the library's inputs (the traced batch and a batch of 3, for the dynamic batch axis)
match the library's outputs within 1e-4 relative. With --write-fixture, stores ONNX Runtime's
outputs on the first input as Tests/Fixtures/onnx_reference.json, which the Swift tests compare
against without Python.

    /tmp/venv/bin/python Tests/Fixtures/check_onnx.py /tmp/onnx-exports [--write-fixture]
"""
import glob
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

from fixture_util import save

TOLERANCE = 1e-4


def relative_error(got, want):
    scale = max(float(np.abs(want).max()), 1e-6)
    return float(np.abs(got - want).max()) / scale


def check(directory, model_path):
    name = os.path.basename(model_path)[:-len(".onnx")]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    outputs = {}
    worst = 0.0
    for suffix in ["", ".batch3"]:
        x = np.load(os.path.join(directory, f"{name}{suffix}.input.npy"))
        want = np.load(os.path.join(directory, f"{name}{suffix}.output.npy"))
        (got,) = session.run(["output"], {"input": x.astype(np.float32)})
        if got.shape != want.shape:
            raise SystemExit(f"{name}{suffix}: ONNX Runtime output {got.shape}, library {want.shape}")
        error = relative_error(got, want)
        worst = max(worst, error)
        if error > TOLERANCE:
            raise SystemExit(f"{name}{suffix}: ONNX Runtime differs from the library by {error:.3g} (relative)")
        outputs[suffix] = got
    ops = sorted({node.op_type for node in model.graph.node})
    print(f"ok {name}: opset {model.opset_import[0].version}, {len(model.graph.node)} nodes, "
          f"max relative error {worst:.2g}; ops {' '.join(ops)}")
    return name, outputs[""]


def main():
    directory = sys.argv[1]
    models = sorted(glob.glob(os.path.join(directory, "*.onnx")))
    if not models:
        raise SystemExit(f"no .onnx files in {directory}")
    results = dict(check(directory, path) for path in models)
    if "--write-fixture" in sys.argv:
        save("onnx_reference", {f"{name}.output": out for name, out in results.items()})


if __name__ == "__main__":
    main()
