"""Fixtures for the tensor file I/O and Linalg tests.

Writes
  io/*.safetensors   files written by safetensors.numpy / safetensors.torch save_file,
  io/*.npy           files written by np.save / np.lib.format.write_array,
  io/expected.json   their contents as float64 ("<file stem>.<tensor name>" or "<file stem>"),
  linalg.json        inputs and float64 PyTorch results for Linalg (solve, inverse, cholesky, qr).
Run:  /tmp/venv/bin/python Tests/Fixtures/make_io.py
"""
import os

import numpy as np
import torch
import safetensors.numpy
import safetensors.torch

from fixture_util import HERE, save

IO = os.path.join(HERE, "io")
os.makedirs(IO, exist_ok=True)
rng = np.random.default_rng(0)
expected = {}


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def record(prefix, arrays):
    for name, a in arrays.items():
        key = f"{prefix}.{name}" if name else prefix
        if isinstance(a, torch.Tensor):
            a = a.to(torch.float64).numpy()
        expected[key] = np.asarray(a, dtype=np.float64)


# --- safetensors ---------------------------------------------------------------------------
numpy_tensors = {
    "f32": f32(2, 3),
    "f64": rng.standard_normal(3),
    "f16": f32(2, 2).astype(np.float16),
    "i64": np.array([-3, 0, 7, 2**40 + 1], dtype=np.int64),
    "i32": np.array([[1, -2], [3, 2**30]], dtype=np.int32),
    "i8": np.array([-128, 0, 127], dtype=np.int8),
    "u8": np.array([0, 1, 255], dtype=np.uint8),
    "bool": np.array([True, False, False, True]),
    "scalar": np.array(3.25, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
}
safetensors.numpy.save_file(numpy_tensors, os.path.join(IO, "st_numpy.safetensors"), metadata={"source": "numpy"})
record("st_numpy", numpy_tensors)

torch.manual_seed(0)
torch_tensors = {
    "bf16": torch.randn(2, 3).to(torch.bfloat16),
    "f16": torch.randn(3).to(torch.float16),
    "f32": torch.randn(3, 4),
    "i64": torch.tensor([[5, -6], [7, 8]]),
    "layer.0.weight": torch.randn(2, 2),
}
safetensors.torch.save_file(torch_tensors, os.path.join(IO, "st_torch.safetensors"), metadata={"format": "pt"})
record("st_torch", torch_tensors)

# All F32, for a byte-for-byte comparison with Safetensors.encode.
reference = {"b": f32(2, 3), "a": f32(4), "c": np.array(-1.5, dtype=np.float32), "d": np.zeros((0, 2), np.float32)}
safetensors.numpy.save_file(reference, os.path.join(IO, "st_reference.safetensors"), metadata={"format": "pt"})
record("st_reference", reference)

# --- npy -------------------------------------------------------------------------------------
def npy(name, array, version=None, record_as=None):
    path = os.path.join(IO, name + ".npy")
    if version is None:
        np.save(path, array, allow_pickle=array.dtype == object)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, array, version=version)
    if record_as is not False:
        expected[name] = np.asarray(array, dtype=np.float64)


npy("npy_f32", f32(2, 3))
npy("npy_vector", f32(5))
npy("npy_scalar", np.array(0.75, dtype=np.float32))
npy("npy_empty", np.zeros((0, 3), np.float32))
npy("npy_f64", rng.standard_normal((3, 2)))
npy("npy_f16", f32(5).astype(np.float16))
npy("npy_i64", np.array([[-1, 2], [2**33, 4]], dtype=np.int64))
npy("npy_i32", np.array([-7, 0, 9], dtype=np.int32))
npy("npy_u1", np.array([0, 200, 255, 3], dtype=np.uint8))
npy("npy_b1", np.array([True, False, True]))
fortran2 = np.asfortranarray(f32(3, 4))
fortran3 = np.asfortranarray(rng.standard_normal((2, 3, 4)))
assert fortran2.flags.f_contiguous and not fortran2.flags.c_contiguous
npy("npy_fortran_f32", fortran2)
npy("npy_fortran_f64", fortran3)
npy("npy_v2", f32(2, 2), version=(2, 0))
npy("npy_v3", f32(3), version=(3, 0))
npy("npy_big_endian", np.array([1.0, 2.0], dtype=">f4"), record_as=False)
npy("npy_object", np.array([{"a": 1}, None], dtype=object), record_as=False)

save("io/expected", expected)

# --- linalg ----------------------------------------------------------------------------------
torch.manual_seed(0)


def as_f32(t):
    """The float32-rounded matrix as float64, so the reference sees exactly the Swift input."""
    return t.to(torch.float32).to(torch.float64)


solve_a = as_f32(torch.randn(4, 4, dtype=torch.float64) + 4 * torch.eye(4))
solve_b = as_f32(torch.randn(4, dtype=torch.float64))
solve_bm = as_f32(torch.randn(4, 2, dtype=torch.float64))
inv_a = as_f32(torch.randn(5, 5, dtype=torch.float64) + 3 * torch.eye(5))
m = torch.randn(4, 4, dtype=torch.float64)
chol_a = as_f32(m @ m.T + 4 * torch.eye(4))
qr_tall = as_f32(torch.randn(5, 3, dtype=torch.float64))
qr_wide = as_f32(torch.randn(3, 5, dtype=torch.float64))
qr_square = as_f32(torch.randn(4, 4, dtype=torch.float64))
fixtures = {
    "solve_a": solve_a, "solve_b": solve_b, "solve_x": torch.linalg.solve(solve_a, solve_b),
    "solve_bm": solve_bm, "solve_xm": torch.linalg.solve(solve_a, solve_bm),
    "inv_a": inv_a, "inv": torch.linalg.inv(inv_a),
    "chol_a": chol_a, "chol_l": torch.linalg.cholesky(chol_a),
}
for name, a in [("tall", qr_tall), ("wide", qr_wide), ("square", qr_square)]:
    q, r = torch.linalg.qr(a)
    fixtures.update({f"qr_{name}": a, f"qr_{name}_q": q, f"qr_{name}_r": r})
save("linalg", fixtures)
