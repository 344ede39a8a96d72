"""Reference values for convolution, pooling and interpolation (Tests/Fixtures/conv.json).

Run: /tmp/venv/bin/python Tests/Fixtures/make_conv.py

Every case stores its inputs, an upstream gradient `gy`, the output `y` and the gradients of
sum(y * gy) with respect to every input, plus `params`, the op's settings as numbers (the
Swift tests read the settings from there, so a case is added here only). Inputs are rounded to
two decimals so that the JSON stays short and Float32 reads them exactly as PyTorch does;
references are computed in float64 and rounded to 5 decimals.
"""
import math
import numpy as np
import torch
import torch.nn.functional as F
from fixture_util import save

torch.manual_seed(0)
out = {}


def data(*shape, integers=False):
    if integers:  # few distinct values: ties inside pooling windows
        return torch.randint(0, 3, shape).double()
    return torch.round(torch.randn(*shape, dtype=torch.float64) * 100) / 100


def rounded(t):
    return np.round(t.detach().numpy(), 5)


def record(prefix, params, inputs, fn):
    """Stores inputs, params, y = fn(*inputs), gy and the gradients d sum(y*gy) / d input."""
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    y = fn(*leaves)
    gy = data(*y.shape)
    (y * gy).sum().backward()
    out[f"{prefix}/params"] = np.array(params, dtype=np.float64)
    for i, (t, leaf) in enumerate(zip(inputs, leaves)):
        out[f"{prefix}/in{i}"] = t.numpy()
        out[f"{prefix}/grad{i}"] = rounded(leaf.grad)
    out[f"{prefix}/gy"] = gy.numpy()
    out[f"{prefix}/y"] = rounded(y)


# conv2d: (N, C, H, W, C', kH, kW, stride, padding, dilation, groups, bias)
conv2d_cases = [
    (2, 3, 6, 7, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1, True),    # plain 3×3, padding 1
    (2, 3, 7, 9, 4, 3, 3, (2, 2), (0, 0), (1, 1), 1, False),   # stride 2, odd sizes
    (1, 2, 8, 8, 3, 3, 3, (1, 1), (2, 2), (2, 2), 1, True),    # padding 2, dilation 2, batch 1
    (2, 4, 7, 6, 6, 3, 3, (2, 2), (1, 1), (1, 1), 2, True),    # groups 2
    (2, 4, 6, 6, 4, 3, 3, (1, 1), (1, 1), (1, 1), 4, True),    # depthwise
    (2, 3, 9, 8, 6, 3, 3, (2, 2), (2, 2), (2, 2), 3, False),   # depthwise, multiplier 2
    (2, 5, 4, 3, 3, 1, 1, (1, 1), (0, 0), (1, 1), 1, True),    # 1×1 (plain GEMM)
    (2, 4, 5, 7, 3, 1, 1, (2, 2), (0, 0), (1, 1), 1, False),   # 1×1 stride 2
    (3, 4, 3, 5, 6, 1, 1, (1, 1), (0, 0), (1, 1), 2, True),    # 1×1 groups 2
    (2, 3, 7, 8, 2, 2, 3, (2, 1), (1, 0), (1, 2), 1, True),    # rectangular, per-axis settings
    (1, 2, 5, 9, 3, 3, 2, (1, 3), (0, 2), (1, 1), 1, False),   # asymmetric padding per axis
    (2, 2, 4, 4, 3, 5, 5, (1, 1), (2, 2), (1, 1), 1, True),    # 5×5 on 4×4
    (2, 2, 3, 4, 2, 5, 6, (1, 1), (1, 1), (1, 1), 1, False),   # kernel = padded input: 1×1 output
    (1, 1, 6, 5, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1, True),    # one input channel
    # 3×3 stride 1 (the Winograd path when the tests lower its channel threshold)
    (2, 3, 5, 6, 2, 3, 3, (1, 1), (0, 0), (1, 1), 1, False),   # no padding, odd output height
    (1, 2, 4, 7, 3, 3, 3, (1, 1), (2, 2), (1, 1), 1, True),    # padding 2
]
for i, (n, c, h, w, k, kh, kw, s, p, d, g, bias) in enumerate(conv2d_cases):
    inputs = [data(n, c, h, w), data(k, c // g, kh, kw)] + ([data(k)] if bias else [])
    record(f"conv2d/{i}", list(s) + list(p) + list(d) + [g], inputs,
           lambda x, wt, b=None, s=s, p=p, d=d, g=g: F.conv2d(x, wt, b, s, p, d, g))

# conv1d: (N, C, L, C', k, stride, padding, dilation, groups, bias, causal)
conv1d_cases = [
    (2, 3, 9, 4, 3, 1, 1, 1, 1, True, False),
    (2, 4, 10, 4, 3, 2, 2, 2, 2, False, False),
    (2, 4, 7, 4, 4, 1, 3, 1, 4, True, True),                   # Mamba's causal depthwise conv
    (1, 3, 8, 6, 1, 1, 0, 1, 3, True, False),                  # pointwise, groups 3
]
for i, (n, c, length, k, ks, s, p, d, g, bias, causal) in enumerate(conv1d_cases):
    inputs = [data(n, c, length), data(k, c // g, ks)] + ([data(k)] if bias else [])

    def fn(x, wt, b=None, s=s, p=p, d=d, g=g, causal=causal, length=length):
        y = F.conv1d(x, wt, b, s, p, d, g)
        return y[:, :, :length] if causal else y
    record(f"conv1d/{i}", [s, p, d, g, int(causal)], inputs, fn)

# convTranspose2d: (N, C, H, W, C', kH, kW, stride, padding, outputPadding, dilation, groups, bias)
conv_transpose_cases = [
    (2, 3, 4, 5, 2, 3, 3, (2, 2), (1, 1), (1, 1), (1, 1), 1, True),
    (2, 4, 4, 3, 6, 3, 3, (1, 1), (1, 1), (0, 0), (2, 2), 2, False),
    (1, 2, 3, 4, 3, 3, 4, (2, 3), (0, 1), (1, 2), (1, 1), 1, True),
    (2, 4, 3, 3, 2, 1, 1, (1, 1), (0, 0), (0, 0), (1, 1), 1, True),    # 1×1
    (2, 3, 4, 4, 3, 3, 3, (2, 2), (1, 1), (0, 0), (1, 1), 3, True),    # depthwise
    (1, 2, 4, 5, 2, 2, 3, (1, 1), (0, 1), (1, 1), (2, 2), 1, False),   # output padding < dilation only
    (2, 3, 3, 5, 2, 3, 3, (1, 1), (1, 1), (0, 0), (1, 1), 1, True),    # 3×3 stride 1 (Winograd)
]
for i, (n, c, h, w, k, kh, kw, s, p, op, d, g, bias) in enumerate(conv_transpose_cases):
    inputs = [data(n, c, h, w), data(c, k // g, kh, kw)] + ([data(k)] if bias else [])
    record(f"convTranspose2d/{i}", list(s) + list(p) + list(op) + list(d) + [g], inputs,
           lambda x, wt, b=None, s=s, p=p, op=op, d=d, g=g: F.conv_transpose2d(x, wt, b, s, p, op, g, d))

# maxPool2d: (shape, kernel, stride, padding, dilation, ceil, integer inputs)
max_pool_cases = [
    ((2, 2, 6, 7), (2, 2), (2, 2), (0, 0), (1, 1), False, False),
    ((1, 3, 7, 7), (3, 3), (2, 2), (1, 1), (1, 1), False, False),
    ((1, 2, 8, 8), (3, 3), (2, 2), (0, 0), (1, 1), True, False),
    ((1, 2, 5, 5), (2, 2), (2, 2), (1, 1), (1, 1), True, False),        # last ceil window would start in padding
    ((2, 1, 7, 8), (2, 3), (1, 2), (1, 1), (2, 1), False, False),
    ((1, 2, 6, 6), (3, 3), (1, 1), (1, 1), (1, 1), False, True),        # ties: the first maximum wins
]
for i, (shape, k, s, p, d, ceil, ints) in enumerate(max_pool_cases):
    record(f"maxPool2d/{i}", list(k) + list(s) + list(p) + list(d) + [int(ceil)], [data(*shape, integers=ints)],
           lambda x, k=k, s=s, p=p, d=d, ceil=ceil: F.max_pool2d(x, k, s, p, d, ceil_mode=ceil))

# avgPool2d: (shape, kernel, stride, padding, ceil, count_include_pad, divisor_override or 0)
avg_pool_cases = [
    ((2, 2, 6, 7), (2, 2), (2, 2), (0, 0), False, True, 0),
    ((1, 3, 7, 7), (3, 3), (2, 2), (1, 1), False, True, 0),
    ((1, 3, 7, 7), (3, 3), (2, 2), (1, 1), False, False, 0),
    ((1, 2, 8, 8), (3, 3), (2, 2), (1, 1), True, True, 0),
    ((1, 2, 8, 8), (3, 3), (2, 2), (1, 1), True, False, 0),
    ((1, 2, 5, 6), (2, 3), (1, 2), (1, 1), False, True, 3),
]
for i, (shape, k, s, p, ceil, cip, div) in enumerate(avg_pool_cases):
    record(f"avgPool2d/{i}", list(k) + list(s) + list(p) + [int(ceil), int(cip), div], [data(*shape)],
           lambda x, k=k, s=s, p=p, ceil=ceil, cip=cip, div=div:
           F.avg_pool2d(x, k, s, p, ceil, cip, div if div else None))

# adaptive pools: (shape, output size)
adaptive_cases = [((2, 2, 7, 9), (3, 4)), ((1, 3, 5, 5), (1, 1)), ((1, 2, 6, 7), (6, 7)),
                  ((1, 2, 7, 6), (4, 5)), ((1, 2, 3, 4), (5, 2))]
for i, (shape, size) in enumerate(adaptive_cases):
    x = data(*shape)
    record(f"adaptiveAvgPool2d/{i}", list(size), [x], lambda x, size=size: F.adaptive_avg_pool2d(x, size))
    record(f"adaptiveMaxPool2d/{i}", list(size), [x], lambda x, size=size: F.adaptive_max_pool2d(x, size))

# interpolate: (shape, size or None, scale or None, mode, align_corners); params hold
# [height, width] (0, 0 when a scale is given), scale (0 when a size is given), bilinear, align.
interpolate_cases = [
    ((1, 2, 3, 4), None, 2.0, "nearest", False),
    ((2, 1, 3, 4), (5, 7), None, "nearest", False),
    ((1, 2, 5, 7), (2, 3), None, "nearest", False),
    ((1, 1, 4, 5), None, 1.5, "nearest", False),
    ((1, 1, 6, 5), None, 0.5, "nearest", False),
    ((1, 2, 3, 4), None, 2.0, "bilinear", False),
    ((1, 2, 3, 4), None, 2.0, "bilinear", True),
    ((2, 1, 3, 4), (5, 7), None, "bilinear", False),
    ((2, 1, 3, 4), (5, 7), None, "bilinear", True),
    ((1, 2, 5, 7), (2, 3), None, "bilinear", False),
    ((1, 2, 5, 7), (2, 3), None, "bilinear", True),
    ((1, 1, 4, 5), None, 1.7, "bilinear", False),
    ((1, 1, 4, 5), (1, 5), None, "bilinear", True),
]
for i, (shape, size, scale, mode, align) in enumerate(interpolate_cases):
    params = list(size or (0, 0)) + [scale or 0, int(mode == "bilinear"), int(align)]
    kwargs = {"size": size, "scale_factor": scale, "mode": mode}
    if mode == "bilinear":
        kwargs["align_corners"] = align
    record(f"interpolate/{i}", params, [data(*shape)], lambda x, kw=kwargs: F.interpolate(x, **kw))

save("conv", out)
