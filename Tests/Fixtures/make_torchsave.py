"""Fixtures for reading torch.save files (issue 20): Tests/DeepCoreTests/TorchFileTests.swift,
Tests/DeepNNTests/TorchLoadTests.swift and Tests/StitchTests/StitchTorchWeightsTests.swift.

Writes Tests/Fixtures/torch/:
- resnet18.pth: torchvision's resnet18() state dict (its real key layout), every parameter and
  buffer replaced by an `as_strided` view (overlapping strides, non-zero storage offsets) of one
  of six small storages, so the file is small; resnet18_io.json: a 1x3x32x32 input and the
  eval-mode logits of torchvision's model after `load_state_dict` of those views.
- checkpoint.pth: {"model": sd, "optimizer": Adam's state_dict(), "epoch": 3} of a small model
  after one step; values in torch_checkpoint.json.
- dtypes_p2.pth / dtypes_p5.pth: a tensor of every dtype (f32 f64 f16 bf16 i64 i32 i16 i8 u8
  bool), a transposed view, a view with a storage offset and two views of one storage, in a
  nested dict, with pickle protocols 2 and 5; values (as float32, as the reader converts them)
  in torch_dtypes.json.
- mlp.pth: the state dict of stitch's "mlp" model (Flatten, Linear(784, 256), ReLU,
  Linear(256, 10)) made of strided views of small storages, for `stitch evaluate --weights`.
- legacy.pth: a state dict written with _use_new_zipfile_serialization=False (must be refused).
and Tests/Fixtures/malformed/pth-*.pth: malicious or broken archives that must throw
(a __reduce__ calling os.system, builtins.eval, numpy's _reconstruct, an unknown opcode, a
truncated data.pkl, a missing data/N record, a compressed archive, a view past its storage).

Run: /tmp/venv/bin/python Tests/Fixtures/make_torchsave.py
"""
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torchvision

from fixture_util import HERE, save

OUT = os.path.join(HERE, "torch")
BAD = os.path.join(HERE, "malformed")
os.makedirs(OUT, exist_ok=True)
g = torch.Generator().manual_seed(20)


def strided_views(sd, storages, pick):
    """`sd` with every tensor replaced by an as_strided view of `storages[pick(name)]`: strides
    in 0..3 chosen at random (overlapping), a random storage offset, all inside the storage."""
    out = collections.OrderedDict()
    for name, t in sd.items():
        base = storages[pick(name, t)]
        if t.dim() == 0:
            out[name] = base.as_strided((), (), int(torch.randint(0, base.numel(), (), generator=g)))
            continue
        while True:
            strides = [int(s) for s in torch.randint(0, 4, (t.dim(),), generator=g)]
            strides[-1] = max(strides[-1], 1)
            reach = sum((n - 1) * s for n, s in zip(t.shape, strides))
            if reach < base.numel():
                break
        offset = int(torch.randint(0, base.numel() - reach, (), generator=g))
        out[name] = base.as_strided(tuple(t.shape), tuple(strides), offset)
    return out


def resnet():
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    n = 4096
    storages = {
        "weight": (torch.rand(n, generator=g) - 0.5) * 0.05,
        "bn_weight": 0.8 + 0.4 * torch.rand(n, generator=g),
        "bias": (torch.rand(n, generator=g) - 0.5) * 0.2,
        "mean": (torch.rand(n, generator=g) - 0.5) * 0.2,
        "var": 0.5 + torch.rand(n, generator=g),
        "count": torch.arange(7, dtype=torch.int64),
    }

    def pick(name, t):
        if name.endswith("num_batches_tracked"):
            return "count"
        if name.endswith("running_mean"):
            return "mean"
        if name.endswith("running_var"):
            return "var"
        if name.endswith("bias"):
            return "bias"
        return "weight" if t.dim() > 1 else "bn_weight"

    sd = strided_views(model.state_dict(), storages, pick)
    torch.save(sd, os.path.join(OUT, "resnet18.pth"))
    model.load_state_dict(sd)
    x = torch.randn(1, 3, 32, 32, generator=g)
    with torch.no_grad():
        y = model(x)
    save("torch/resnet18_io", {"input": x, "output": y})


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def checkpoint():
    model = small_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4, generator=g)).square().sum().backward()
    opt.step()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
               os.path.join(OUT, "checkpoint.pth"))
    values = {f"model.{k}": v.float() for k, v in model.state_dict().items()}
    values["exp_avg.0"] = opt.state_dict()["state"][0]["exp_avg"]
    save("torch/checkpoint", values)


def dtypes():
    base = torch.arange(-6, 18, dtype=torch.float64) * 1.25
    tensors = collections.OrderedDict()
    for dtype in [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
                  torch.int16, torch.int8, torch.uint8, torch.bool]:
        source = base.abs() if dtype == torch.uint8 else base
        if dtype == torch.bool:
            source = (base.round() % 3 == 0)
        tensors[str(dtype).replace("torch.", "")] = source.to(dtype).reshape(2, 3, 4)
    shared = torch.arange(30, dtype=torch.float32)
    views = {
        "transposed": torch.arange(12, dtype=torch.float32).reshape(3, 4).t(),
        "offset": shared[5:11].reshape(2, 3),
        "strided": shared.as_strided((3, 2), (7, 3), 2),
        "overlapping": shared.as_strided((4, 3), (1, 1), 9),
        "scalar": torch.tensor(2.5, dtype=torch.float64),
        "empty": torch.zeros(0, 3),
    }
    data = {"dtypes": tensors, "views": views, "list": [1, 2.5, "three", None, True, (4, 5)]}
    for protocol in [2, 5]:
        torch.save(data, os.path.join(OUT, f"dtypes_p{protocol}.pth"), pickle_protocol=protocol)
    expected = {f"dtypes.{k}": v.float() for k, v in tensors.items()}
    expected.update({f"views.{k}": v.float() for k, v in views.items()})
    save("torch/dtypes", expected)


def mlp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    storages = {"w": (torch.rand(2048, generator=g) - 0.5) * 0.1, "b": (torch.rand(512, generator=g) - 0.5) * 0.1}
    sd = strided_views(model.state_dict(), storages, lambda name, t: "w" if t.dim() > 1 else "b")
    torch.save(sd, os.path.join(OUT, "mlp.pth"))


def legacy():
    torch.save(small_model().state_dict(), os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)


# --- malicious and broken archives ------------------------------------------------------------

def archive(name, records, compression=zipfile.ZIP_STORED):
    """A zip laid out as torch.save lays it out (top folder `name`), with `records` (path: bytes)."""
    path = os.path.join(BAD, f"pth-{name}.pth")
    with zipfile.ZipFile(path, "w", compression) as z:
        for record, data in records.items():
            z.writestr(f"{name}/{record}", data)


def torch_records(obj):
    """The records of torch.save(obj) by path below the top folder."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        return {n.split("/", 1)[1]: z.read(n) for n in z.namelist()}


class SystemCall:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class Evaluate:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def malicious():
    good = torch_records({"w": torch.arange(4.0)})
    pkl = good["data.pkl"]
    archive("os-system", {**good, "data.pkl": pickle.dumps({"w": SystemCall()}, protocol=2)})
    archive("builtins-eval", {**good, "data.pkl": pickle.dumps({"w": Evaluate()}, protocol=2)})
    archive("numpy-reconstruct", {**good, "data.pkl": pickle.dumps({"w": np.arange(3.0)}, protocol=2)})
    # INST ('i'), a protocol-0 opcode that imports and calls: never accepted.
    archive("unknown-opcode", {**good, "data.pkl": pkl[:2] + b"iposix\nsystem\n" + pkl[2:]})
    archive("truncated-pickle", {**good, "data.pkl": pkl[: len(pkl) // 2]})
    archive("missing-storage", {k: v for k, v in good.items() if not k.startswith("data/")})
    archive("deflated", good, zipfile.ZIP_DEFLATED)
    archive("storage-too-small", {**good, "data/0": good["data/0"][:8]})
    view = torch_records({"w": torch.arange(4.0).as_strided((2, 2), (1, 1), 1)})
    # The same view (reaching element 3), over a storage declared to hold 3 elements (and holding 3).
    archive("view-past-storage", {**view, "data.pkl": view["data.pkl"].replace(b"K\x04t", b"K\x03t"),
                                  "data/0": view["data/0"][:12]})
    with open(os.path.join(BAD, "pth-not-a-zip.pth"), "wb") as f:
        f.write(b"PK\x03\x04" + b"\x00" * 40)


if __name__ == "__main__":
    resnet()
    checkpoint()
    dtypes()
    mlp()
    legacy()
    malicious()
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("Tests/Fixtures/torch:", total, "bytes")
