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

from fixture_util import save

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
    for h, w in [(7, 9), (15, 20), (13, 5), (16, 16)]:
        out[f"centerCrop.{kind}.{h}x{w}"] = TF.center_crop(x, [h, w])
    for mode in ("constant", "edge", "reflect", "symmetric"):
        out[f"pad.{kind}.{mode}"] = TF.pad(x, [1, 2, 3, 4], fill=5, padding_mode=mode)
    out[f"vflip.{kind}"] = TF.vertical_flip(x)
    out[f"hflip.{kind}"] = TF.horizontal_flip(x)
    out[f"resizedCrop.{kind}"] = TF.resized_crop(x, 2, 3, 8, 10, [6, 6])
    out[f"crop.{kind}"] = TF.crop(x, -2, 10, 8, 10)

out["toDtype.uint8.scaled"] = TF.to_dtype(xf, torch.uint8, scale=True)
out["toDtype.float.scaled"] = TF.to_dtype(xu, torch.float32, scale=True)

save("transforms", out)
