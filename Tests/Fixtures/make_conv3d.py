"""Reference values for 3-D convolution and transposed convolution (Tests/Fixtures/conv3d.json).

Run: /tmp/venv/bin/python Tests/Fixtures/make_conv3d.py

Case `<op>/<i>` stores, in the layout `OpFixture.named` reads, its inputs `x0` (x), `x1` (the
weight) and `x2` (the bias, when there is one), an upstream gradient `w`, the output `y` and the
gradients `dx0`, `dx1`, `dx2` of sum(y * w), plus `params`, the op's settings as numbers (the
Swift tests read the settings from there, so a case is added here only). Inputs and `w` are
rounded to two decimals so that Float32 reads them exactly as PyTorch does; references are
computed in float64 and rounded to 5 decimals. Shapes are small: the tests also check every
case by finite differences.
"""
import numpy as np
import torch
import torch.nn.functional as F
from fixture_util import save

torch.manual_seed(0)
cases = {}


def draw(*shape):
    return torch.round(torch.randn(*shape, dtype=torch.float64) * 100) / 100


def store(name, settings, inputs, op):
    """Case `name`: `inputs`, y = op(*inputs), a drawn w and the gradients of sum(y * w)."""
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    y = op(*leaves)
    w = draw(*y.shape)
    (y * w).sum().backward()
    entries = {"params": np.array(settings, dtype=np.float64), "w": w.numpy(), "y": np.round(y.detach().numpy(), 5)}
    for i, (t, leaf) in enumerate(zip(inputs, leaves)):
        entries[f"x{i}"] = t.numpy()
        entries[f"dx{i}"] = np.round(leaf.grad.numpy(), 5)
    cases.update({f"{name}.{key}": value for key, value in entries.items()})


# conv3d: ((N, C, D, H, W), C', (kD, kH, kW), stride, padding, dilation, groups, bias)
conv3d_cases = [
    ((2, 2, 3, 4, 4), 3, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, True),    # 3×3×3, padding 1
    ((1, 2, 5, 5, 6), 3, (3, 3, 3), (2, 2, 2), (0, 0, 0), (1, 1, 1), 1, False),   # stride 2, odd sizes
    ((1, 2, 5, 5, 5), 2, (3, 3, 3), (1, 1, 1), (2, 2, 2), (2, 2, 2), 1, True),    # dilation 2, padding 2
    ((2, 4, 3, 4, 4), 4, (3, 3, 3), (2, 1, 2), (1, 1, 1), (1, 1, 1), 2, True),    # groups 2, per-axis stride
    ((1, 3, 3, 4, 4), 3, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 3, True),    # depthwise
    ((1, 2, 3, 4, 4), 4, (3, 3, 3), (1, 2, 1), (1, 1, 0), (1, 1, 1), 2, False),   # channel multiplier 2
    ((2, 2, 3, 5, 4), 3, (1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1), 1, False),   # (1, 3, 3)
    ((2, 2, 5, 3, 3), 3, (3, 1, 1), (1, 1, 1), (1, 0, 0), (1, 1, 1), 1, True),    # (3, 1, 1)
    ((2, 3, 2, 3, 4), 2, (1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1, True),    # pointwise: a plain GEMM
    ((1, 2, 5, 5, 5), 3, (1, 1, 1), (2, 2, 2), (0, 0, 0), (1, 1, 1), 1, False),   # 1×1×1 stride 2
    ((1, 2, 4, 6, 5), 2, (2, 3, 2), (1, 2, 3), (1, 0, 1), (2, 1, 1), 1, True),    # per-axis everything
    ((1, 1, 3, 3, 3), 2, (3, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1, True),    # kernel = input: 1×1×1 output
]
for i, (shape, k, ks, s, p, d, g, bias) in enumerate(conv3d_cases):
    inputs = [draw(*shape), draw(k, shape[1] // g, *ks)] + ([draw(k)] if bias else [])
    store(f"conv3d/{i}", list(s) + list(p) + list(d) + [g], inputs,
          lambda x, wt, b=None, s=s, p=p, d=d, g=g: F.conv3d(x, wt, b, s, p, d, g))

# convTranspose3d: ((N, C, D, H, W), C', (kD, kH, kW), stride, padding, outputPadding, dilation, groups, bias)
conv_transpose3d_cases = [
    ((1, 4, 2, 3, 2), 2, (3, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1), (1, 1, 1), 2, True),   # stride 2, output padding 1, groups 2
    ((2, 3, 2, 2, 3), 2, (2, 2, 2), (2, 2, 2), (0, 0, 0), (0, 0, 0), (1, 1, 1), 1, True),   # U-Net upsampling
    ((1, 2, 3, 2, 3), 3, (3, 2, 3), (1, 2, 1), (1, 0, 0), (0, 1, 0), (2, 1, 1), 1, False),  # per-axis settings
    ((1, 2, 2, 3, 3), 2, (3, 3, 3), (2, 1, 2), (1, 1, 1), (1, 0, 1), (1, 1, 1), 2, True),   # depthwise
    ((2, 3, 2, 3, 3), 2, (1, 1, 1), (1, 1, 1), (0, 0, 0), (0, 0, 0), (1, 1, 1), 1, True),   # pointwise
]
for i, (shape, k, ks, s, p, op, d, g, bias) in enumerate(conv_transpose3d_cases):
    inputs = [draw(*shape), draw(shape[1], k // g, *ks)] + ([draw(k)] if bias else [])
    store(f"convTranspose3d/{i}", list(s) + list(p) + list(op) + list(d) + [g], inputs,
          lambda x, wt, b=None, s=s, p=p, op=op, d=d, g=g: F.conv_transpose3d(x, wt, b, s, p, op, g, d))

save("conv3d", cases)
