"""Fixtures for Tests/DeepNNTests/InceptionTransformerTests.swift, from the official iFormer code.

The official `models/inception_transformer.py` of sail-sg/iFormer is not copied into this
repository: the script extracts it at fixture time from a git mirror of that repository (default
/work/.mirror/sail-sg+iFormer/repo, or $IFORMER_REPO; commit $IFORMER_COMMIT, default HEAD) into
a temporary folder and imports it. It needs timm 0.6 (`pip install timm==0.6.13`) and, for the
MACs the paper quotes, fvcore.

1. iformer_layout.json: for iformer_small/base/large (1000 classes, 224²): the parameter count,
   the multiply-adds fvcore counts (the paper's "FLOPs") and the FLOPs of
   torch.utils.flop_counter (2 per multiply-add, products only); for iformer_small also every
   state-dict key in order, compactly: `keys` lists the keys outside the blocks and those of
   the first block of each stage with N in place of the block index, `blocks` the number of
   blocks per stage (every block of a stage has the same keys).
2. iformer_tiny.json: the logits "tiny.y0" of a tiny configuration (see TINY) in eval mode, with
   every state-dict entry and the input filled by a formula the test repeats (no weights
   stored): the entry named K of n values gets v_i = 2·frac(43758.5453·sin(1.3·k + 0.37·i + 0.1)) − 1, i < n, with
   k = Σⱼ (j+1)·code(Kⱼ) mod 997 over K's characters, used as 1 + 0.3·v (one-dimensional
   `…weight`s, the norms' scales, and layer scales), 0.1·v (running means), 0.75 + 0.25·v
   (running variances), 0.3·v (other parameters), num_batches_tracked left 0; the input
   (2×1×32×32) is the same with k = 1000.

Run: /tmp/venv/bin/python Tests/Fixtures/make_iformer.py
"""
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile

import torch

import fixture_util

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("IFORMER_REPO", "/work/.mirror/sail-sg+iFormer/repo")
COMMIT = os.environ.get("IFORMER_COMMIT", "HEAD")

TINY = dict(img_size=32, in_chans=1, num_classes=5, embed_dims=[4, 4, 8, 8], depths=[1, 1, 2, 1],
            num_heads=[2, 2, 4, 4], attention_heads=[1, 1, 1, 2, 2], mlp_ratio=2,
            use_layer_scale=True, layer_scale_init_value=1e-6)


def official_module():
    """Imports models/inception_transformer.py of the mirror's COMMIT from a temporary folder."""
    source = subprocess.run(["git", "--git-dir", REPO, "show", f"{COMMIT}:models/inception_transformer.py"],
                            check=True, capture_output=True, text=True).stdout
    folder = tempfile.mkdtemp(prefix="iformer_")
    path = os.path.join(folder, "inception_transformer.py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("inception_transformer", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # timm's register_model looks the module up
    spec.loader.exec_module(module)
    return module


def compact_keys(model, depths):
    """Keys outside the blocks, and those of block 0 of each stage with `N` for the index."""
    keys, seen = [], set()
    for k in model.state_dict().keys():
        parts = k.split(".")
        if parts[0].startswith("blocks"):
            parts[1] = "N"
        k = ".".join(parts)
        if k not in seen:
            seen.add(k)
            keys.append(k)
    return keys


def macs(model):
    from fvcore.nn import FlopCountAnalysis
    counter = FlopCountAnalysis(model, torch.randn(1, 3, 224, 224))
    counter.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return int(counter.total())


def product_flops(model):
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, 224, 224))
    return int(counter.get_total_flops())


def layouts(official):
    out = {}
    for name, depths in [("iformer_small", [3, 3, 9, 3]), ("iformer_base", [4, 6, 14, 6]), ("iformer_large", [4, 6, 18, 8])]:
        model = getattr(official, name)(num_classes=1000).eval()
        entry = {"parameter_count": sum(p.numel() for p in model.parameters())}
        with torch.no_grad():
            entry["fvcore_macs_1x3x224x224"] = macs(model)
            entry["flops_1x3x224x224"] = product_flops(model)
        if name == "iformer_small":
            entry["keys"] = compact_keys(model, depths)
            entry["blocks"] = depths
            entry["key_count"] = len(model.state_dict())
        out[name] = entry
        print(name, {k: v for k, v in entry.items() if k != "keys"})
    return out


def key_index(name):
    """A number for a state-dict key: Σ (j+1)·code(c_j) mod 997 over its characters."""
    return sum((j + 1) * ord(c) for j, c in enumerate(name)) % 997


def pattern(shape, k):
    """2·frac(43758.5453·sin(1.3·k + 0.37·i + 0.1)) − 1 for the i-th value of a tensor of `shape`
    (a hash spread evenly over [−1, 1)), as float32."""
    n = 1
    for d in shape:
        n *= d
    values = []
    for i in range(n):
        h = 43758.5453 * math.sin(1.3 * k + 0.37 * i + 0.1)
        values.append(2 * (h - math.floor(h)) - 1)
    return torch.tensor(values, dtype=torch.float64).reshape(shape).float()


def fill_by_formula(module):
    """Fills every state-dict entry of `module` by its key (see the module docstring)."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            v = pattern(t.shape, key_index(name))
            if name.endswith("running_var"):
                t.copy_(0.75 + 0.25 * v)
            elif name.endswith("running_mean"):
                t.copy_(0.1 * v)
            elif t.dim() == 1 and (name.endswith("weight") or name.split(".")[-1].startswith("layer_scale")):
                t.copy_(1 + 0.3 * v)  # norms' scales and layer scales
            elif not name.endswith("num_batches_tracked"):
                t.copy_(0.3 * v)


def tiny(official):
    model = official.InceptionTransformer(**TINY).eval()
    fill_by_formula(model)
    with torch.no_grad():
        y = model(pattern((2, 1, 32, 32), 1000))
    print("tiny parameters", sum(p.numel() for p in model.parameters()), "logits", y)
    return {"tiny.y0": y}


def main():
    official = official_module()
    path = os.path.join(HERE, "iformer_layout.json")
    with open(path + ".tmp", "w") as f:
        json.dump(layouts(official), f, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print("wrote", path)
    fixture_util.save("iformer_tiny", tiny(official))


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
