"""Reference outputs and gradients of DeepNN layers from torch.nn, in train and eval mode.

For each case: the module's state dict (params and buffers, under "<case>.state.<name>"), the
input, the output and the gradients of sum(y*w) with respect to the input and every parameter,
in training mode (buffers after the step under "<case>.after.<name>") and in evaluation mode.
Also writes layers_sequential.safetensors with safetensors.torch for the weight-loading test.
"""
import os
import torch
import torch.nn as nn
from safetensors.torch import save_file
from fixture_util import save, HERE

torch.manual_seed(0)
out = {}

cases = {
    "linear": (lambda: nn.Linear(5, 3), (4, 5)),
    "linear_3d": (lambda: nn.Linear(5, 3, bias=False), (2, 3, 5)),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 6)),
    "conv2d_groups": (lambda: nn.Conv2d(4, 6, (3, 2), padding=(1, 0), dilation=(2, 1), groups=2), (1, 4, 6, 5)),
    "conv1d": (lambda: nn.Conv1d(3, 4, 3, padding=2, dilation=2), (2, 3, 9)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), (2, 4, 3, 4)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 2, 3)),
    "batchnorm1d": (lambda: nn.BatchNorm1d(5), (6, 5)),
    "layernorm": (lambda: nn.LayerNorm(6), (2, 3, 6)),
    "groupnorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3)),
    "rmsnorm": (lambda: nn.RMSNorm(6), (2, 3, 6)),
    "instancenorm2d": (lambda: nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 4)),
    "relu": (lambda: nn.ReLU(), (3, 4)),
    "leakyrelu": (lambda: nn.LeakyReLU(0.2), (3, 4)),
    "gelu_tanh": (lambda: nn.GELU(approximate="tanh"), (3, 4)),
    "silu": (lambda: nn.SiLU(), (3, 4)),
    "hardswish": (lambda: nn.Hardswish(), (3, 4)),
    "softmax": (lambda: nn.Softmax(dim=1), (3, 4)),
    "maxpool2d": (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    "avgpool2d": (lambda: nn.AvgPool2d(2), (2, 3, 6, 5)),
    "adaptiveavgpool2d": (lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    "upsample_bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), (1, 2, 3, 4)),
    "flatten": (lambda: nn.Flatten(), (2, 3, 2, 2)),
    "unflatten": (lambda: nn.Unflatten(1, (3, 4)), (2, 12)),
    "sequential": (lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                         nn.Flatten(), nn.Linear(16, 3)), (3, 2, 4, 4)),
}

for name, (make, shape) in cases.items():
    torch.manual_seed(1)
    m = make()
    # Non-trivial affine parameters and running statistics.
    with torch.no_grad():
        for pname, p in m.named_parameters():
            if pname.endswith("weight") and p.dim() == 1:
                p.uniform_(0.5, 1.5)
            elif pname.endswith("bias") and p.dim() == 1:
                p.uniform_(-0.5, 0.5)
        for bname, b in m.named_buffers():
            if "running_mean" in bname:
                b.uniform_(-0.2, 0.2)
            elif "running_var" in bname:
                b.uniform_(0.5, 1.5)
    for k, v in m.state_dict().items():
        out[f"{name}.state.{k}"] = v.detach().float().clone()
    x = torch.randn(*shape) * 1.5
    out[f"{name}.x"] = x
    for mode in ("train", "eval"):
        m.train(mode == "train")
        xi = x.clone().requires_grad_(True)
        m.zero_grad()
        y = m(xi)
        w = torch.randn_like(y)
        (y * w).sum().backward()
        out[f"{name}.{mode}.y"], out[f"{name}.{mode}.w"], out[f"{name}.{mode}.dx"] = y, w, xi.grad
        for pname, p in m.named_parameters():
            out[f"{name}.{mode}.grad.{pname}"] = p.grad
        if mode == "train":
            for bname, b in m.named_buffers():
                out[f"{name}.after.{bname}"] = b.detach().float().clone()
            # Restore the buffers for the eval pass.
            m.load_state_dict({k: out[f"{name}.state.{k}"].to(v.dtype) for k, v in m.state_dict().items()})

save("layers", out)

torch.manual_seed(2)
seq = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 3))
with torch.no_grad():   # LayerNorm away from its ones/zeros init, from its own generator (xs keeps its draw)
    g = torch.Generator().manual_seed(3)
    seq[1].weight.copy_(1 + 0.3 * torch.randn(8, generator=g))
    seq[1].bias.copy_(0.3 * torch.randn(8, generator=g))
seq.eval()
save_file({k: v.contiguous() for k, v in seq.state_dict().items()}, os.path.join(HERE, "layers_sequential.safetensors"))
xs = torch.randn(5, 4)
save("layers_sequential", {"x": xs, "y": seq(xs)})
