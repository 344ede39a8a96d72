"""Fixtures for Tests/DeepNNTests/UNetTests.swift.

A PyTorch U-Net with the module layout of the common implementation (milesial/Pytorch-UNet:
`inc`, `downK.maxpool_conv`, `upK.up` / `upK.conv`, `outc.conv`; DoubleConv = (3x3 conv without
bias, BN, ReLU) x 2; bilinear up-sampling with aligned corners or 2x2 transposed convolutions;
the up-sampled map padded to the skip connection's size, centred), written here for any depth.

1. unet_layout.json: state-dict keys and shapes and parameter counts at depth 4, base 64
   (both up-sampling modes) for 3 input channels and 2 classes.
2. unet/<name>.safetensors + unet/<name>_io.safetensors: depth 3, base 4 models (bilinear and
   transposed) with random BatchNorm statistics, an odd-sized input (2, 3, 37, 29), logits in
   eval and train mode, the gradients of a pixel-wise cross-entropy, and the BatchNorm running
   statistics after the train-mode pass.

Run: /tmp/venv/bin/python Tests/Fixtures/make_unet.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "unet")


def double_conv(cin, cout, mid=None):
    mid = mid or cout
    block = nn.Module()
    block.double_conv = nn.Sequential(
        nn.Conv2d(cin, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
        nn.Conv2d(mid, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
    block.forward = lambda x: block.double_conv(x)
    return block


class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), double_conv(cin, cout))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, cin, cout, bilinear):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = double_conv(cin, cout, cin // 2)
        else:
            self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
            self.conv = double_conv(cin, cout)

    def forward(self, x, skip):
        x = self.up(x)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class OutConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, in_channels, num_classes, depth=4, base=64, bilinear=False):
        super().__init__()
        factor = 2 if bilinear else 1
        ch = [base * 2 ** k for k in range(depth + 1)]
        self.depth = depth
        self.inc = double_conv(in_channels, ch[0])
        for k in range(1, depth + 1):
            setattr(self, f"down{k}", Down(ch[k - 1], ch[k] // (factor if k == depth else 1)))
        for k in range(1, depth + 1):
            level = depth - k
            setattr(self, f"up{k}", Up(ch[level + 1], ch[level] // (1 if level == 0 else factor), bilinear))
        self.outc = OutConv(ch[0], num_classes)

    def forward(self, x):
        skips = [self.inc(x)]
        for k in range(1, self.depth + 1):
            skips.append(getattr(self, f"down{k}")(skips[-1]))
        y = skips.pop()
        for k in range(1, self.depth + 1):
            y = getattr(self, f"up{k}")(y, skips.pop())
        return self.outc(y)


def layout(model):
    return {"state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
            "parameter_count": sum(p.numel() for p in model.parameters())}


def make_small(name, model, x, labels):
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 1 + 0.2 * torch.randn(n, generator=gen)
            m.bias.data = 0.1 * torch.randn(n, generator=gen)
            m.running_mean.data = 0.1 * torch.randn(n, generator=gen)
            m.running_var.data = 0.5 + torch.rand(n, generator=gen)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(OUT, name + ".safetensors"))
    io = {"input": x, "labels": labels.float()}
    params = dict(model.named_parameters())
    names = ["inc.double_conv.0.weight", "up1.conv.double_conv.3.weight", "outc.conv.bias"]
    if "up1.up.weight" in params:
        names.append("up1.up.weight")
    for mode in ["eval", "train"]:
        model.train(mode == "train")
        model.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_(True)
        logits = model(xi)
        F.cross_entropy(logits, labels).backward()
        io[mode + ".logits"] = logits.detach()
        io[mode + ".grad.input"] = xi.grad
        for n in names:
            io[mode + ".grad." + n] = params[n].grad
    # The running statistics after the train-mode forward (momentum 0.1 from the random ones).
    for k, v in model.state_dict().items():
        if k.endswith("running_mean") or k.endswith("running_var"):
            io["train.after." + k] = v
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(OUT, name + "_io.safetensors"))
    print(name, sum(p.numel() for p in model.parameters()), "parameters")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    info = {"transposed": layout(UNet(3, 2, bilinear=False)), "bilinear": layout(UNet(3, 2, bilinear=True))}
    with open(os.path.join(HERE, "unet_layout.json"), "w") as f:
        json.dump(info, f, separators=(",", ":"))
    print({k: v["parameter_count"] for k, v in info.items()})
    x = torch.randn(2, 3, 37, 29)
    labels = torch.randint(0, 3, (2, 37, 29))
    make_small("transposed_d3_b4", UNet(3, 3, depth=3, base=4, bilinear=False), x, labels)
    make_small("bilinear_d3_b4", UNet(3, 3, depth=3, base=4, bilinear=True), x, labels)


if __name__ == "__main__":
    main()
