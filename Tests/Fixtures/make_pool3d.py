"""Reference values for 3-D pooling, adaptive pooling, 3-D interpolation and the volume layers
(Tests/Fixtures/pool3d.json).

Run: /tmp/venv/bin/python Tests/Fixtures/make_pool3d.py

Ops (the Swift op table calls each with the settings written beside its case there): case
`<op>/<label>` stores `.x`, the weight `.w`, `.y` and `.dx`, the gradient of sum(y * w)
(fixture_util.gradient_case). Inputs are float64 rounded to two decimals, so Float32 reads them
exactly. Layers: `layer/<name>` stores the state dict (`.state.<key>`), the input `.x`, and per
mode (train, eval) `.y`, `.w`, `.dx` and `.grad.<parameter>`; after the training step the
buffers under `.after.<key>`.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from fixture_util import save, gradient_case

torch.manual_seed(0)
out = {}


def data(*shape, integers=False):
    if integers:  # few distinct values: ties inside pooling windows
        return torch.randint(0, 3, shape).double()
    return torch.round(torch.randn(*shape, dtype=torch.float64) * 100) / 100


def case(name, shape, fn, integers=False):
    gradient_case(out, name, fn, data(*shape, integers=integers))


# maxPool3d: kernel, stride, padding, dilation, ceil mode (the Swift rows repeat them).
case("maxPool3d/k2s2", (2, 2, 4, 6, 5), lambda x: F.max_pool3d(x, 2, 2))
case("maxPool3d/k3s2p1", (1, 2, 5, 7, 6), lambda x: F.max_pool3d(x, 3, 2, 1))
case("maxPool3d/dilation2", (1, 2, 6, 7, 5), lambda x: F.max_pool3d(x, (2, 3, 2), 1, (1, 1, 0), (2, 1, 2)))
case("maxPool3d/ceil", (1, 2, 6, 8, 7), lambda x: F.max_pool3d(x, 3, 2, ceil_mode=True))
case("maxPool3d/ceil_padding", (1, 2, 5, 5, 5), lambda x: F.max_pool3d(x, 2, 2, 1, ceil_mode=True))
case("maxPool3d/ties", (1, 2, 4, 4, 4), lambda x: F.max_pool3d(x, 3, 1, 1), integers=True)
case("maxPool3d/unbatched", (2, 4, 5, 6), lambda x: F.max_pool3d(x, (2, 2, 3), (1, 2, 2)))

# avgPool3d: kernel, stride, padding, ceil mode, count_include_pad, divisor_override.
case("avgPool3d/k2s2", (2, 2, 4, 6, 5), lambda x: F.avg_pool3d(x, 2, 2))
case("avgPool3d/k3s2p1", (1, 2, 5, 7, 6), lambda x: F.avg_pool3d(x, 3, 2, 1))
case("avgPool3d/k3s2p1_nopad", (1, 2, 5, 7, 6), lambda x: F.avg_pool3d(x, 3, 2, 1, count_include_pad=False))
case("avgPool3d/ceil", (1, 2, 6, 6, 7), lambda x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True))
case("avgPool3d/ceil_nopad", (1, 2, 6, 6, 7), lambda x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False))
case("avgPool3d/divisor", (1, 2, 4, 5, 6), lambda x: F.avg_pool3d(x, (2, 3, 2), (1, 2, 1), (1, 1, 0), divisor_override=5))
case("avgPool3d/unbatched", (2, 4, 5, 6), lambda x: F.avg_pool3d(x, 2, 1))

# Adaptive pooling: output sizes that do not divide, global, larger than the input.
adaptive = {"uneven": ((1, 2, 5, 7, 6), (2, 3, 4)), "global": ((2, 3, 4, 4, 4), (1, 1, 1)),
            "larger": ((1, 2, 3, 5, 4), (5, 2, 4)), "even": ((1, 2, 6, 6, 6), (3, 3, 3))}
for label, (shape, size) in adaptive.items():
    case(f"adaptiveAvgPool3d/{label}", shape, lambda x, s=size: F.adaptive_avg_pool3d(x, s))
    case(f"adaptiveMaxPool3d/{label}", shape, lambda x, s=size: F.adaptive_max_pool3d(x, s))

# interpolate on volumes: (shape, size or None, scale or None, mode, align_corners).
interpolations = {
    "nearest_scale2": ((1, 2, 2, 3, 4), None, 2.0, "nearest", None),
    "nearest_size": ((2, 1, 2, 3, 4), (3, 5, 7), None, "nearest", None),
    "nearest_down": ((1, 2, 5, 7, 4), (2, 3, 2), None, "nearest", None),
    "nearest_scale1.5": ((1, 1, 3, 4, 5), None, 1.5, "nearest", None),
    "trilinear_scale2": ((1, 2, 2, 3, 4), None, 2.0, "trilinear", False),
    "trilinear_scale2_align": ((1, 2, 2, 3, 4), None, 2.0, "trilinear", True),
    "trilinear_size": ((2, 1, 2, 3, 4), (3, 5, 7), None, "trilinear", False),
    "trilinear_size_align": ((2, 1, 2, 3, 4), (3, 5, 7), None, "trilinear", True),
    "trilinear_down": ((1, 1, 5, 7, 4), (2, 3, 2), None, "trilinear", False),
    "trilinear_down_align": ((1, 1, 5, 7, 4), (2, 3, 2), None, "trilinear", True),
    "trilinear_scale1.7": ((1, 1, 3, 4, 5), None, 1.7, "trilinear", False),
    "trilinear_one_align": ((1, 1, 3, 4, 5), (1, 5, 3), None, "trilinear", True),
}
for label, (shape, size, scale, mode, align) in interpolations.items():
    kwargs = {"size": size, "scale_factor": scale, "mode": mode, "align_corners": align}
    case(f"interpolate3d/{label}", shape, lambda x, kw=kwargs: F.interpolate(x, **kw))

# Layers, in training and evaluation mode.
layers = {
    "batchnorm3d": (lambda: nn.BatchNorm3d(3), (2, 3, 3, 4, 2)),
    "instancenorm3d": (lambda: nn.InstanceNorm3d(3), (2, 3, 3, 4, 2)),
    "instancenorm3d_affine": (lambda: nn.InstanceNorm3d(3, affine=True), (2, 3, 3, 4, 2)),
    "maxpool3d": (lambda: nn.MaxPool3d(3, stride=2, padding=1), (2, 2, 5, 6, 5)),
    "avgpool3d": (lambda: nn.AvgPool3d(2, count_include_pad=False, padding=1, divisor_override=3), (2, 2, 4, 5, 3)),
    "adaptiveavgpool3d": (lambda: nn.AdaptiveAvgPool3d((2, 3, 2)), (2, 2, 5, 7, 3)),
    "adaptivemaxpool3d": (lambda: nn.AdaptiveMaxPool3d(2), (2, 2, 5, 4, 3)),
}
for name, (make, shape) in layers.items():
    torch.manual_seed(1)
    m, key = make(), f"layer/{name}"
    with torch.no_grad():  # non-trivial affine parameters and running statistics
        for pname, p in m.named_parameters():
            p.uniform_(0.5, 1.5) if pname == "weight" else p.uniform_(-0.5, 0.5)
        if getattr(m, "running_mean", None) is not None:
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    state = {k: v.detach().clone() for k, v in m.state_dict().items()}
    out.update({f"{key}.state.{k}": v for k, v in state.items()})
    x = torch.randn(*shape) * 1.5
    out[f"{key}.x"] = x
    for mode in ("train", "eval"):
        m.train(mode == "train")
        m.zero_grad()
        gradient_case(out, f"{key}.{mode}", m, x)
        out.update({f"{key}.{mode}.grad.{p}": t.grad for p, t in m.named_parameters()})
        if mode == "train":
            out.update({f"{key}.after.{b}": t.detach().clone() for b, t in m.named_buffers()})
            m.load_state_dict(state)
    del out[f"{key}.train.x"], out[f"{key}.eval.x"]

# References to 6 decimals (float64 to start with): a shorter file, far inside the tolerances.
save("pool3d", {k: v if k.endswith((".x", ".w")) or ".state." in k else torch.round(v.double(), decimals=6)
                for k, v in out.items()})
