"""Shared helper for the fixture scripts in this folder.

Fixtures are small JSON files: {"name": {"shape": [...], "data": [...row-major floats...]}}.
The Swift tests read them with `loadFixtures(_:)` (Tests/TestSupport/Fixtures.swift).
Run a script with the virtual environment that has torch/einops, e.g.
    /tmp/venv/bin/python Tests/Fixtures/make_core.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def to_entry(t):
    import numpy as np
    try:
        import torch  # without PyTorch installed, this may be the folder Tests/Fixtures/torch
        if hasattr(torch, "Tensor") and isinstance(t, torch.Tensor):
            t = t.detach().to(torch.float64).cpu().numpy()
    except ImportError:
        pass
    a = np.asarray(t, dtype=np.float64)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def save(name, tensors):
    """Writes Tests/Fixtures/<name>.json from a dict of name -> tensor/array."""
    path = os.path.join(HERE, name + ".json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({k: to_entry(v) for k, v in tensors.items()}, f, separators=(",", ":"))
    os.replace(tmp, path)
    print("wrote", path, len(tensors), "entries")


def gradient_case(out, name, fn, *inputs, extra=None):
    """Stores case `name` in `out`: the inputs (`name.x`, or `name.x0`, `name.x1`, ...), a random
    upstream gradient `name.w`, the output `name.y` and the input gradients of sum(y * w)
    (`name.dx` or `name.dx0`, ...), plus any `extra` tensors as `name.<key>`."""
    import torch
    xs = [t.clone().requires_grad_(True) for t in inputs]
    y = fn(*xs)
    w = torch.randn(y.shape)
    (y * w).sum().backward()
    if len(xs) == 1:
        out[f"{name}.x"] = inputs[0]
        out[f"{name}.dx"] = xs[0].grad
    else:
        for i, (t, x) in enumerate(zip(inputs, xs)):
            out[f"{name}.x{i}"] = t
            out[f"{name}.dx{i}"] = x.grad
    out[f"{name}.w"] = w
    out[f"{name}.y"] = y
    for k, v in (extra or {}).items():
        out[f"{name}.{k}"] = v
