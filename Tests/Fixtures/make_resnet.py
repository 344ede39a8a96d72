"""Fixtures for Tests/DeepNNTests/ResNetTests.swift, written with torchvision's own ResNet code.

1. resnet_layout.json: the ordered state-dict keys (with shapes), parameter names and buffer names
   of torchvision's resnet18 and resnet50 (num_classes=10), their parameter counts and the
   FLOPs of a forward pass at 1x3x224x224. The
   full-size weights (45 and 94 MB) are not committed.
2. resnet/<name>.safetensors + resnet/<name>_io.safetensors for reduced-width models built by
   torchvision's `ResNet`, `BasicBlock` and `Bottleneck` themselves (same code path as resnet18/50;
   only the planes 64/128/256/512 become 8/16/32/64 through `_make_layer`): the weights (with
   random BatchNorm affine parameters and running statistics), an input, the logits in eval
   and train mode, the gradients of a cross-entropy loss with respect to the input and a few
   weights in both modes, and the running statistics after the train-mode forward.

Run: /tmp/venv/bin/python Tests/Fixtures/make_resnet.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from torchvision.models import resnet18, resnet50
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "resnet")


def forward_flops(model, shape):
    """FLOPs of one eval-mode forward as torch.utils.flop_counter counts them (2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(*shape, generator=torch.Generator().manual_seed(0)))
    return counter.get_total_flops()


def layout(model):
    sd = model.state_dict()
    return {
        "flops_1x3x224x224": forward_flops(model, (1, 3, 224, 224)),
        "state_dict": [[k, list(v.shape)] for k, v in sd.items()],
        "parameters": [k for k, _ in model.named_parameters()],
        "buffers": [k for k, _ in model.named_buffers()],
        "parameter_count": sum(p.numel() for p in model.parameters()),
    }


class NarrowResNet(ResNet):
    """torchvision's ResNet with planes base·[1, 2, 4, 8] instead of 64·[1, 2, 4, 8].

    `ResNet.__init__` builds conv1/bn1 with 64 channels and calls `_make_layer(block, 64, ...)`
    first; the override rebuilds the stem at `base` channels on that first call and scales
    every stage's planes, then `fc` is rebuilt for the narrower features. The blocks, the
    down-sampling rule, dilation, groups and the initialisation loop are torchvision's.
    """

    def __init__(self, block, layers, base=8, **kwargs):
        self._base = base
        self._first = True
        super().__init__(block, layers, **kwargs)
        self.fc = nn.Linear(8 * base * block.expansion, self.fc.out_features)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        if self._first:
            self._first = False
            self.inplanes = self._base
            self.conv1 = nn.Conv2d(3, self._base, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = self._norm_layer(self._base)
        return super()._make_layer(block, planes * self._base // 64, blocks, stride, dilate)


def randomize_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 1 + 0.2 * torch.randn(n, generator=gen)
            m.bias.data = 0.1 * torch.randn(n, generator=gen)
            m.running_mean.data = 0.1 * torch.randn(n, generator=gen)
            m.running_var.data = 0.5 + torch.rand(n, generator=gen)
            m.num_batches_tracked.fill_(3)


def forward_backward(model, x, labels, names):
    x = x.clone().requires_grad_(True)
    model.zero_grad(set_to_none=True)
    logits = model(x)
    F.cross_entropy(logits, labels).backward()
    params = dict(model.named_parameters())
    grads = {"grad.input": x.grad}
    grads.update({"grad." + n: params[n].grad for n in names})
    return logits.detach(), grads


def make_small(name, model, x, labels, names):
    gen = torch.Generator().manual_seed(1)
    randomize_batchnorm(model, gen)
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(weights, os.path.join(OUT, name + ".safetensors"))
    io = {"input": x, "labels": labels.float()}
    model.eval()
    logits, grads = forward_backward(model, x, labels, names)
    io["eval.logits"] = logits
    io.update({"eval." + k: v for k, v in grads.items()})
    model.train()
    logits, grads = forward_backward(model, x, labels, names)
    io["train.logits"] = logits
    io.update({"train." + k: v for k, v in grads.items()})
    for k, v in model.state_dict().items():
        if k.endswith("running_mean") or k.endswith("running_var"):
            io["train.after." + k] = v
    save_file({k: v.detach().contiguous() for k, v in io.items()}, os.path.join(OUT, name + "_io.safetensors"))
    total = sum(os.path.getsize(os.path.join(OUT, name + s)) for s in [".safetensors", "_io.safetensors"])
    print(name, sum(p.numel() for p in model.parameters()), "parameters,", total, "bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    info = {"resnet18": layout(resnet18(num_classes=10)), "resnet50": layout(resnet50(num_classes=10))}
    with open(os.path.join(HERE, "resnet_layout.json"), "w") as f:
        json.dump(info, f, separators=(",", ":"))
    print("resnet18", info["resnet18"]["parameter_count"], "resnet50", info["resnet50"]["parameter_count"])

    x = torch.randn(2, 3, 48, 48)
    labels = torch.tensor([3, 9])
    torch.manual_seed(1)
    make_small("basic_w8", NarrowResNet(BasicBlock, [2, 2, 2, 2], num_classes=10), x, labels,
               ["conv1.weight", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.weight",
                "fc.weight", "fc.bias"])
    torch.manual_seed(2)
    make_small("bottleneck_w8", NarrowResNet(Bottleneck, [1, 2, 1, 1], num_classes=10), x, labels,
               ["conv1.weight", "layer1.0.downsample.0.weight", "layer2.1.conv2.weight", "layer3.0.bn3.weight",
                "fc.bias"])
    torch.manual_seed(3)
    make_small("resnext_dilated_w8",
               NarrowResNet(Bottleneck, [1, 1, 2, 1], num_classes=10, groups=2, width_per_group=32,
                            replace_stride_with_dilation=[False, True, True]),
               x, labels, ["conv1.weight", "layer3.1.conv2.weight", "layer4.0.bn3.weight", "fc.weight"])


if __name__ == "__main__":
    main()
