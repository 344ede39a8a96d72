"""Fixtures for Tests/DeepNNTests/CentralizedFeaturePyramidNeckTests.swift, from CFPNet's code.

CFPNet's model files (cfp/models/{Functions,evc_blocks,darknet,yolo_pafpn}.py of
QY1994-0919/CFPNet) are not copied into this repository: the script extracts them at fixture time
from a git mirror (default /work/.mirror/QY1994-0919+CFPNet/repo, or $CFPNET_REPO; commit
$CFPNET_COMMIT, default HEAD) into a temporary package and imports `YOLOPAFPN` from it. It needs
timm 0.6 (`pip install timm==0.6.13`).

cfp_neck.json: CFPNet's `YOLOPAFPN(depth=0.33, width=0.0625)` (levels of 8, 16 and 32 channels)
with its backbone replaced by the given feature maps, in eval mode, with every state-dict entry
and input filled by the formula of make_iformer.py (`fill_by_formula`; no weights stored); level
j (1×8×8×8, 1×16×4×4, 1×32×2×2) is `pattern` with k = 1000 + j.
Stored: the outputs "neck.y0"…"neck.y2", and in cfp_neck_keys.json the state-dict keys in order
with their shapes (`[[key, shape], …]`).

Run: /tmp/venv/bin/python Tests/Fixtures/make_cfp_neck.py
"""
import importlib
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn

import fixture_util
from make_iformer import fill_by_formula, pattern

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("CFPNET_REPO", "/work/.mirror/QY1994-0919+CFPNet/repo")
COMMIT = os.environ.get("CFPNET_COMMIT", "HEAD")
FILES = ["Functions.py", "evc_blocks.py", "darknet.py", "yolo_pafpn.py"]


def official_package():
    """CFPNet's model files of the mirror's COMMIT as a temporary package `cfpmodels`."""
    root = tempfile.mkdtemp(prefix="cfpnet_")
    package = os.path.join(root, "cfpmodels")
    os.makedirs(package)
    open(os.path.join(package, "__init__.py"), "w").close()
    for name in FILES:
        source = subprocess.run(["git", "--git-dir", REPO, "show", f"{COMMIT}:cfp/models/{name}"],
                                check=True, capture_output=True, text=True).stdout
        with open(os.path.join(package, name), "w") as f:
            f.write(source)
    # darknet.py imports YOLOX's `network_blocks`, which CFPNet renamed to evc_blocks.py.
    with open(os.path.join(package, "network_blocks.py"), "w") as f:
        f.write("from .evc_blocks import *  # noqa: F401,F403\n")
    sys.path.insert(0, root)
    return importlib.import_module("cfpmodels.yolo_pafpn")


class GivenLevels(nn.Module):
    """Stands in for the backbone: returns the levels it is called with, by CFPNet's names."""

    def forward(self, levels):
        return dict(zip(("dark3", "dark4", "dark5"), levels))


def main():
    pafpn = official_package()
    neck = pafpn.YOLOPAFPN(depth=0.33, width=0.0625)
    neck.backbone = GivenLevels()
    neck.eval()
    state = neck.state_dict()
    with open(os.path.join(HERE, "cfp_neck_keys.json"), "w") as f:
        json.dump([[k, list(v.shape)] for k, v in state.items()], f, separators=(",", ":"))
    fill_by_formula(neck)
    with torch.no_grad():
        levels = [pattern((1, c, s, s), 1000 + j) for j, (c, s) in enumerate([(8, 8), (16, 4), (32, 2)])]
        outputs = neck(levels)
    print("parameters", sum(p.numel() for p in neck.parameters()), "keys", len(state))
    fixture_util.save("cfp_neck", {f"neck.y{i}": y for i, y in enumerate(outputs)})


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
