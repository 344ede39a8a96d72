"""Fixtures for torchvision's transforms.v2 on tensors (Tests/DeepNNTests/TransformTests.swift,
Tests/DeepCoreTests/ResizeTests.swift): a float image (values in [0, 1)) and a uint8 image, both
3×13×17, through resize (every mode, with and without antialias, down and up), crops, pads,
flips, dtype conversions and the colour and rotation functionals.

    /tmp/venv/bin/python Tests/Fixtures/make_transforms.py
"""
import torch
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode as IM

import json
import os

import numpy as np

from fixture_util import HERE


def save(name, tensors):
    """As fixture_util.save, with each value written as its shortest float32 spelling (the
    fixtures are float32 values; this halves the file)."""
    def entry(t):
        a = t.detach().to(torch.float32).numpy()
        return {"shape": list(a.shape), "data": [float(str(v)) for v in a.reshape(-1)]}
    path = os.path.join(HERE, name + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump({k: entry(v) for k, v in tensors.items()}, f, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print("wrote", path, len(tensors), "entries")

torch.manual_seed(0)
out = {}
xf = torch.rand(3, 13, 17)
xu = (torch.rand(3, 13, 17) * 256).floor().clamp(0, 255).to(torch.uint8)
out["image.float"] = xf
out["image.uint8"] = xu
images = {"float": xf, "uint8": xu}

modes = {"nearest": IM.NEAREST, "nearestExact": IM.NEAREST_EXACT, "bilinear": IM.BILINEAR, "bicubic": IM.BICUBIC}
sizes = [(7, 9), (18, 25), (5, 30)]
for kind, x in images.items():
    for name, mode in modes.items():
        for aa in (True, False):
            for h, w in sizes:
                y = TF.resize(x, [h, w], interpolation=mode, antialias=aa)
                out[f"resize.{kind}.{name}.{int(aa)}.{h}x{w}"] = y
    # Resize with an int (shorter side) and max_size.
    out[f"resize.{kind}.short8"] = T.Resize(8)(x)
    out[f"resize.{kind}.short10.max12"] = T.Resize(10, max_size=12)(x)
    out[f"resize.{kind}.short20"] = T.Resize(20)(x)
    out[f"resize.{kind}.max11"] = T.Resize(None, max_size=11)(x)
    for h, w in [(7, 9), (15, 20), (13, 5), (16, 16)]:
        out[f"centerCrop.{kind}.{h}x{w}"] = TF.center_crop(x, [h, w])
    for mode in ("constant", "edge", "reflect", "symmetric"):
        out[f"pad.{kind}.{mode}"] = TF.pad(x, [1, 2, 3, 4], fill=5, padding_mode=mode)
    out[f"vflip.{kind}"] = TF.vertical_flip(x)
    out[f"hflip.{kind}"] = TF.horizontal_flip(x)
    out[f"resizedCrop.{kind}"] = TF.resized_crop(x, 2, 3, 8, 10, [6, 6])
    out[f"crop.{kind}"] = TF.crop(x, -2, 10, 8, 10)


    # Colour functionals.
    for f in (0.6, 1.3):
        out[f"brightness.{kind}.{f}"] = TF.adjust_brightness(x, f)
        out[f"contrast.{kind}.{f}"] = TF.adjust_contrast(x, f)
        out[f"saturation.{kind}.{f}"] = TF.adjust_saturation(x, f)
    for f in (0.2, -0.35, 0.5):
        out[f"hue.{kind}.{f}"] = TF.adjust_hue(x, f)
    out[f"grayscale.{kind}.1"] = TF.rgb_to_grayscale(x, 1)
    out[f"grayscale.{kind}.3"] = TF.rgb_to_grayscale(x, 3)
    out[f"erase.{kind}"] = TF.erase(x, 2, 3, 4, 5, torch.tensor([1.0, 2.0, 3.0])[:, None, None].to(x.dtype))
    # Rotations (fill as RandomRotation's default 0, or 7 / 0.25).
    fill = 7 if kind == "uint8" else 0.25
    small = x[:, :7, :10]  # rotations of the top-left 7×10
    for angle in (30, -45, 90, 180, 270, 123.4):
        for interp in ("nearest", "bilinear"):
            for expand in (False, True):
                mode = IM.NEAREST if interp == "nearest" else IM.BILINEAR
                out[f"rotate.{kind}.{angle}.{interp}.{int(expand)}"] = TF.rotate(small, angle, mode, expand=expand, fill=0)
            out[f"rotate.{kind}.{angle}.{interp}.center"] = TF.rotate(small, angle, IM.NEAREST if interp == "nearest" else IM.BILINEAR,
                                                                     center=[4, 9], fill=fill)

out["toDtype.uint8.scaled"] = TF.to_dtype(xf, torch.uint8, scale=True)
out["toDtype.float.scaled"] = TF.to_dtype(xu, torch.float32, scale=True)

save("transforms", out)
