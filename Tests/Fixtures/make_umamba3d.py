"""Reference fixtures for the 3-D U-Mamba (UMambaBot and UMambaEnc), written with the official code.

The official networks (bowang-lab/U-Mamba, umamba/nnunetv2/nets/UMambaBot_3d.py and
UMambaEnc_3d.py) are NOT part of this repository: at run time this script copies the two files
out of a git mirror of that repository (`git show <commit>:<path>`, the mirror's path from
$UMAMBA_REPO, default /work/.mirror/bowang-lab+U-Mamba/repo) into a temporary folder and
imports them from there, next to two stub packages it writes there:
  - `mamba_ssm` whose `Mamba` is `MambaRef` from make_mamba.py (mamba-ssm's `mamba_simple.Mamba`
    reference path, same parameter names and math, no CUDA);
  - `nnunetv2` with `InitWeights_He` (the same Kaiming-normal init as nnU-Net's, taken from
    dynamic_network_architectures) and empty `ConfigurationManager` / `PlansManager` classes
    (used only by the `get_*_from_plans` functions, which this script does not call).
Building blocks come from the PyPI package dynamic-network-architectures (BasicBlockD, ...).

Writes
1. umamba3d_keys.json: for each model {"config", "state_dict" (alias-free [[key, shape], ...]
   in PyTorch's order), "state_dict_full" (model.state_dict() as saved by nnU-Net, aliases
   included), "aliases" ({alias key: canonical key}), "parameters", "buffers",
   "parameter_count", "mamba_layers", "effective_n_blocks_per_stage",
   "effective_n_conv_per_stage_decoder", "source"}. Every top-level value decodes as
   TorchModelFixtures.Layout.
2. For bot, enc (input 1x1x8x16x16), enc_ctok and bot_aniso (input 1x1x4x8x8):
   umamba3d_<model>_tiny.safetensors: float32 weights under the official (canonical,
   alias-free) state-dict names; umamba3d_<model>_tiny.json (fixture_util format): "input",
   "output" (deep_supervision=False) and "output_ds.<i>" (deep_supervision=True, i = 0 full
   resolution ... coarser), references computed in float64 from the float32 weights and input.
3. For bot and enc: umamba3d_<model>_tiny_grads.safetensors ("w", "loss" = sum(output * w),
   "grad.input", "grad.<parameter>"), see `gradients`.

Run: /tmp/venv/bin/python Tests/Fixtures/make_umamba3d.py
"""
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

from fixture_util import HERE, save

UMAMBA_REPO = os.environ.get("UMAMBA_REPO", "/work/.mirror/bowang-lab+U-Mamba/repo")
UMAMBA_COMMIT = "28459e33ca03769800dd35e23c6e62491d1925b5"
NETS = {"UMambaBot_3d": "umamba/nnunetv2/nets/UMambaBot_3d.py",
        "UMambaEnc_3d": "umamba/nnunetv2/nets/UMambaEnc_3d.py"}

STUBS = {
    "mamba_ssm/__init__.py": "from make_mamba import MambaRef as Mamba\n",
    "nnunetv2/__init__.py": "",
    "nnunetv2/utilities/__init__.py": "",
    "nnunetv2/utilities/network_initialization.py":
        "from dynamic_network_architectures.initialization.weight_init import InitWeights_He\n",
    "nnunetv2/utilities/plans_handling/__init__.py": "",
    "nnunetv2/utilities/plans_handling/plans_handler.py":
        "class ConfigurationManager:\n    pass\n\n\nclass PlansManager:\n    pass\n",
}


def import_official():
    """Copies the two official files and the stubs into a temporary folder and imports them."""
    tmp = tempfile.mkdtemp(prefix="umamba3d_")
    for name, path in NETS.items():
        text = subprocess.run(["git", "-C", UMAMBA_REPO, "show", f"{UMAMBA_COMMIT}:{path}"],
                              check=True, capture_output=True, text=True).stdout
        with open(os.path.join(tmp, name + ".py"), "w") as f:
            f.write(text)
    for rel, text in STUBS.items():
        os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
        with open(os.path.join(tmp, rel), "w") as f:
            f.write(text)
    sys.path[:0] = [tmp, HERE]
    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)
    import UMambaBot_3d
    import UMambaEnc_3d
    from dynamic_network_architectures.initialization.weight_init import InitWeights_He
    return UMambaBot_3d, UMambaEnc_3d, InitWeights_He


ISO = dict(kernel_sizes=[[3, 3, 3]] * 3, strides=[[1, 1, 1], [2, 2, 2], [2, 2, 2]])
ANISO = dict(kernel_sizes=[[1, 3, 3], [3, 3, 3], [3, 3, 3]], strides=[[1, 1, 1], [1, 2, 2], [2, 2, 2]])


def config(shape, input_size=None):
    """Constructor arguments (JSON-able) of the small models; lists are fresh on every call
    because the official constructors change n_conv_per_stage / n_conv_per_stage_decoder in place."""
    c = dict(input_channels=1, n_stages=3, features_per_stage=[4, 8, 16], conv_op="Conv3d",
             kernel_sizes=[list(k) for k in shape["kernel_sizes"]], strides=[list(s) for s in shape["strides"]],
             n_conv_per_stage=[2, 2, 2], num_classes=3, n_conv_per_stage_decoder=[2, 2], conv_bias=True,
             norm_op="InstanceNorm3d", norm_op_kwargs={"eps": 1e-5, "affine": True},
             dropout_op=None, dropout_op_kwargs=None,
             nonlin="LeakyReLU", nonlin_kwargs={"inplace": True}, deep_supervision=False)
    if input_size is not None:
        c = dict(input_size=list(input_size), **c)
    return c


def build(cls, cfg, deep_supervision=None):
    kw = json.loads(json.dumps(cfg))   # deep copy: the constructors mutate their list arguments
    kw["conv_op"], kw["norm_op"], kw["nonlin"] = nn.Conv3d, nn.InstanceNorm3d, nn.LeakyReLU
    if deep_supervision is not None:
        kw["deep_supervision"] = deep_supervision
    with contextlib.redirect_stdout(io.StringIO()):   # UMambaEnc_3d prints its feature map sizes
        return cls(**kw)


def aliases_of(model):
    """{alias: canonical} for state-dict entries that are the same tensor under a second name
    (ConvDropoutNormReLU.all_modules.*, decoder.encoder.*); the canonical name is the first in
    PyTorch's state-dict order, as named_parameters() reports it."""
    sd = model.state_dict(keep_vars=True)
    first, aliases = {}, {}
    for k, t in sd.items():
        if id(t) in first:
            aliases[k] = first[id(t)]
        else:
            first[id(t)] = k
    return aliases


def mamba_layers(model):
    out = []
    for name, m in model.named_modules():
        if type(m).__name__ == "MambaLayer" and not name.startswith("decoder.encoder."):
            out.append(dict(module=name, dim=int(m.dim), channel_token=bool(getattr(m, "channel_token", False))))
    return out


def layout(model, cfg):
    sd = model.state_dict()
    aliases = aliases_of(model)
    enc = model.encoder
    blocks = [len(s) for s in enc.stages]
    dec = [len(s) for s in model.decoder.stages]
    return {
        "config": cfg,
        "state_dict": [[k, list(v.shape)] for k, v in sd.items() if k not in aliases],
        "state_dict_full": [[k, list(v.shape)] for k, v in sd.items()],
        "aliases": aliases,
        "parameters": [k for k, _ in model.named_parameters()],
        "buffers": [k for k, _ in model.named_buffers()],
        "parameter_count": sum(p.numel() for p in model.parameters()),
        "mamba_layers": mamba_layers(model),
        "effective_n_blocks_per_stage": blocks,
        "effective_n_conv_per_stage_decoder": dec,
        "source": f"bowang-lab/U-Mamba@{UMAMBA_COMMIT} {NETS[type(model).__name__ + '_3d']}",
    }


def short(t, digits=8):
    a = t.detach().to(torch.float64).numpy()
    return np.array([float("%.*g" % (digits, v)) for v in a.reshape(-1)]).reshape(a.shape)


def randomise(model, init_he):
    """He init as nnU-Net applies it, then random affine norms, conv biases and Mamba A_log / D
    so that each of them changes the output."""
    model.apply(init_he(1e-2))
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.InstanceNorm3d, nn.LayerNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, nn.Conv3d) and m.bias is not None:
                m.bias.uniform_(-0.1, 0.1)
            elif type(m).__name__ == "MambaRef":
                m.A_log.add_(torch.randn(m.A_log.shape) * 0.1)
                m.D.add_(torch.randn(m.D.shape) * 0.1)


def gradients(name, model, x, seed):
    """umamba3d_<name>_tiny_grads.safetensors: a seeded weight "w" shaped like the output, "loss"
    = sum(output * w) (shape [1]), "grad.input" and "grad.<parameter>" for every parameter
    (canonical names), computed in float64 in eval mode, stored as float32."""
    torch.manual_seed(seed + 2)
    model = model.double()
    model.zero_grad()
    xd = x.double().requires_grad_(True)
    y = model(xd)
    w = torch.randn(y.shape, dtype=torch.float32)
    loss = (y * w.double()).sum()
    loss.backward()
    store = {"w": w, "loss": loss.detach().reshape(1), "grad.input": xd.grad}
    unused = [k for k, p in model.named_parameters() if p.grad is None]
    assert unused == ["decoder.seg_layers.0.weight", "decoder.seg_layers.0.bias"], unused
    for k, p in model.named_parameters():
        if p.grad is not None:      # the coarse seg layer is unused without deep supervision
            store[f"grad.{k}"] = p.grad.clone()
    # float32 gradients of the same model, to see how close a float32 implementation can get
    m32 = model.float()
    m32.zero_grad()
    x32 = x.clone().requires_grad_(True)
    (m32(x32) * w).sum().backward()
    # Conv biases right before an InstanceNorm have a zero gradient (the norm removes the mean):
    # about 1e-12 here, so only an absolute tolerance compares them.
    zero = [k for k in store if k.startswith("grad.") and store[k].abs().max() < 1e-9]
    worst = max(((p.grad.double() - store[f"grad.{k}"]).abs().max() / store[f"grad.{k}"].abs().max()).item()
                for k, p in m32.named_parameters() if k not in unused and f"grad.{k}" not in zero)
    save_file({k: v.detach().to(torch.float32).contiguous() for k, v in store.items()},
              os.path.join(HERE, f"umamba3d_{name}_tiny_grads.safetensors"))
    print(f"{name}: loss {loss.item():.6g}, {len(store) - 3} parameter gradients, {len(zero)} of them zero "
          f"(|g| < 1e-9); float32 vs float64 worst error relative to a gradient's largest element {worst:.2e}")


def tiny(name, cls, cfg, init_he, input_shape, seed, grads=False):
    torch.manual_seed(seed)
    model = build(cls, cfg)
    randomise(model, init_he)
    model.eval()
    aliases = aliases_of(model)
    weights = {k: v.detach().to(torch.float32).contiguous().clone()
               for k, v in model.state_dict().items() if k not in aliases}
    save_file(weights, os.path.join(HERE, f"umamba3d_{name}_tiny.safetensors"), metadata={
        "source": f"bowang-lab/U-Mamba@{UMAMBA_COMMIT}"})   # one entry: a deterministic header

    torch.manual_seed(seed + 1)
    x = torch.randn(*input_shape).to(torch.float32)
    ds_model = build(cls, cfg, deep_supervision=True)
    ds_model.load_state_dict(model.state_dict())
    ds_model.eval()
    with torch.no_grad():
        y = model.double()(x.double())
        ys = ds_model.double()(x.double())
        y32 = model.float()(x)
    assert torch.equal(y, ys[0]), "deep supervision's first output is the plain output"
    store = {"input": x, "output": short(y)}
    for i, t in enumerate(ys):
        store[f"output_ds.{i}"] = short(t)
    save(f"umamba3d_{name}_tiny", store)
    err = (y32.double() - y).abs().max().item()
    if grads:
        gradients(name, model, x, seed)
    print(f"{name}: params {sum(p.numel() for p in model.parameters())}, output {tuple(y.shape)}, "
          f"ds {[tuple(t.shape) for t in ys]}, |y| max {y.abs().max().item():.3g}, float32 vs float64 {err:.2e}")
    return model


def main():
    bot, enc, init_he = import_official()
    models = {
        "bot": (bot.UMambaBot, config(ISO)),
        "enc": (enc.UMambaEnc, config(ISO, input_size=[8, 16, 16])),
        "bot_aniso": (bot.UMambaBot, config(ANISO)),
        "enc_aniso": (enc.UMambaEnc, config(ANISO, input_size=[8, 16, 16])),
        # input 4x8x8: the last stage's map (1x2x2, 4 voxels) has no more voxels than its 16
        # channels, so its MambaLayer takes the channels as tokens (d_model = 4).
        "enc_ctok": (enc.UMambaEnc, config(ISO, input_size=[4, 8, 8])),
    }
    layouts = {}
    for name, (cls, cfg) in models.items():
        torch.manual_seed(0)
        layouts[name] = layout(build(cls, cfg), cfg)
    path = os.path.join(HERE, "umamba3d_keys.json")
    with open(path + ".tmp", "w") as f:
        json.dump(layouts, f, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print("wrote", path, {k: v["parameter_count"] for k, v in layouts.items()})

    tiny("bot", *models["bot"], init_he, (1, 1, 8, 16, 16), seed=10, grads=True)
    tiny("enc", *models["enc"], init_he, (1, 1, 8, 16, 16), seed=20, grads=True)
    tiny("enc_ctok", *models["enc_ctok"], init_he, (1, 1, 4, 8, 8), seed=30)
    # Anisotropic: (1, 3, 3) kernels padded (0, 1, 1) in stage 0, up-sampling by (1, 2, 2).
    tiny("bot_aniso", *models["bot_aniso"], init_he, (1, 1, 4, 8, 8), seed=40)


if __name__ == "__main__":
    main()
