"""Writes elementwise.json: values and gradients of the elementwise ops from PyTorch.

For each unary op `<name>`: `<name>.x` (input), `<name>.w` (a fixed weight), `<name>.y` (output)
and `<name>.dx` (gradient of (y * w).sum() with respect to x). Binary ops store `.a`, `.b`,
`.w`, `.y`, `.da`, `.db` (b broadcasts against a); `select` adds the condition `.c`; the
comparisons store `.a`, `.b` and one output per comparison. Inputs include the points where
PyTorch picks a gradient convention (0 for relu/abs/sign/leaky_relu/elu, ±3 for hardswish, the
clamp bounds, ties for maximum/minimum, base 0 for pow). No NaN or inf: JSON has neither.

Run: /tmp/venv/bin/python Tests/Fixtures/make_elementwise.py
"""
import torch
import torch.nn.functional as F

from fixture_util import save

torch.manual_seed(0)
SHAPE = (3, 6)
out = {}


def randn(scale=1.0):
    return torch.randn(SHAPE, dtype=torch.float32) * scale


def positive(low=0.1, high=3.0):
    return torch.rand(SHAPE, dtype=torch.float32) * (high - low) + low


def with_values(x, values):
    """x with its first elements replaced by `values` (the kinks to check)."""
    x = x.clone().reshape(-1)
    x[: len(values)] = torch.tensor(values, dtype=torch.float32)
    return x.reshape(SHAPE)


def unary(name, x, f):
    x = x.clone().requires_grad_(True)
    w = torch.randn(SHAPE, dtype=torch.float32)
    y = f(x)
    (y * w).sum().backward()
    out.update({f"{name}.x": x, f"{name}.w": w, f"{name}.y": y, f"{name}.dx": x.grad})


def binary(name, a, b, f, b_needs_grad=True):
    a = a.clone().requires_grad_(True)
    b = b.clone().requires_grad_(b_needs_grad)
    y = f(a, b)
    w = torch.randn(y.shape, dtype=torch.float32)
    (y * w).sum().backward()
    out.update({f"{name}.a": a, f"{name}.b": b, f"{name}.w": w, f"{name}.y": y, f"{name}.da": a.grad})
    if b_needs_grad:
        out[f"{name}.db"] = b.grad


# Exponentials, logarithms, powers.
unary("exp", randn(2), torch.exp)
unary("log", positive(), torch.log)
unary("sqrt", positive(), torch.sqrt)
unary("rsqrt", positive(), torch.rsqrt)
unary("square", randn(2), torch.square)
unary("reciprocal", with_values(positive(), [-0.5, -2.0]), torch.reciprocal)
unary("pow2", with_values(randn(2), [0.0]), lambda x: torch.pow(x, 2))
unary("pow3", with_values(randn(2), [0.0]), lambda x: torch.pow(x, 3))
unary("pow1", randn(2), lambda x: torch.pow(x, 1))
unary("pow0", with_values(randn(2), [0.0]), lambda x: torch.pow(x, 0))
unary("pow_half", positive(), lambda x: torch.pow(x, 0.5))
unary("pow_neg1_5", positive(), lambda x: torch.pow(x, -1.5))
unary("pow_neg2", with_values(randn(2), [-0.5]), lambda x: torch.pow(x, -2))
# Base 0 with exponents ≥ 0 (exponent gradient 0 by convention) and positive bases; the
# exponent broadcasts along the rows. Negative bases (integer exponents) only for the base's
# gradient: the exponent's, x^e · ln x, is NaN there.
exponent = torch.tensor([0.0, 1.0, 2.5, 2.0, 3.0, -2.0])
binary("pow_tensor", with_values(positive(0.2, 2.5), [0.0, 0.0, 0.0]), exponent, torch.pow)
binary("pow_tensor_negative_base", with_values(randn(2), [0.0, 0.0, 0.0, -1.5, -0.5, -2.0]),
       torch.tensor([0.0, 1.0, 2.0, 2.0, 3.0, -2.0]), torch.pow, b_needs_grad=False)

# Sign, magnitude, clamping, trigonometry.
unary("abs", with_values(randn(2), [0.0]), torch.abs)
unary("sign", with_values(randn(2), [0.0]), torch.sign)
unary("clamp_both", with_values(randn(2), [-0.5, 0.75]), lambda x: torch.clamp(x, min=-0.5, max=0.75))
unary("clamp_min", with_values(randn(2), [-0.5]), lambda x: torch.clamp(x, min=-0.5))
unary("clamp_max", with_values(randn(2), [0.75]), lambda x: torch.clamp(x, max=0.75))
unary("clamp_crossed", randn(2), lambda x: torch.clamp(x, min=1.0, max=-1.0))
unary("sin", randn(3), torch.sin)
unary("cos", randn(3), torch.cos)

# Activations; large magnitudes check the stable forms.
tails = [0.0, -30.0, 30.0, -100.0, 100.0]
unary("relu", with_values(randn(2), [0.0]), F.relu)
unary("leaky_relu", with_values(randn(2), [0.0]), F.leaky_relu)
unary("leaky_relu_0_2", with_values(randn(2), [0.0]), lambda x: F.leaky_relu(x, 0.2))
unary("elu", with_values(randn(2), [0.0, -20.0]), F.elu)
unary("elu_1_5", with_values(randn(2), [0.0]), lambda x: F.elu(x, alpha=1.5))
unary("gelu", with_values(randn(3), [0.0, -8.0, 8.0]), F.gelu)
unary("gelu_tanh", with_values(randn(3), [0.0, -8.0, 8.0]), lambda x: F.gelu(x, approximate="tanh"))
unary("silu", with_values(randn(3), tails), F.silu)
unary("sigmoid", with_values(randn(3), tails), torch.sigmoid)
unary("tanh", with_values(randn(3), tails), torch.tanh)
unary("softplus", with_values(randn(3), tails + [20.0, 20.5, 19.5]), F.softplus)
unary("softplus_beta2_threshold1", with_values(randn(1), [0.5, 0.6, -0.5, -40.0]),
      lambda x: F.softplus(x, beta=2, threshold=1))
unary("hardswish", with_values(randn(3), [-3.0, 3.0, 0.0]), F.hardswish)

# Maximum and minimum with ties (the gradient is split in halves there) and broadcasting.
a = randn()
a[0, :3] = torch.tensor([0.25, -1.0, 2.0])
b = randn()[0]
b[:3] = torch.tensor([0.25, -1.0, 2.0])
a[1, 0] = 0.25  # a second tie with the broadcast b[0]
binary("maximum", a, b, torch.maximum)
binary("minimum", a, b, torch.minimum)
binary("maximum_same_shape", a, with_values(randn(), [0.25, -1.0]), torch.maximum)

# Selection: the condition (3, 1) broadcasts against a (3, 6) and b (6).
c = torch.tensor([[1.0], [0.0], [1.0]])
sa = randn().requires_grad_(True)
sb = randn()[0].clone().requires_grad_(True)
sy = torch.where(c != 0, sa, sb)
sw = torch.randn(sy.shape, dtype=torch.float32)
(sy * sw).sum().backward()
out.update({"select.c": c, "select.a": sa, "select.b": sb, "select.w": sw, "select.y": sy,
            "select.da": sa.grad, "select.db": sb.grad})

# Comparisons against a broadcast tensor (with ties) and against a scalar.
ca = torch.round(randn(2))
cb = torch.round(randn(2)[1])
out.update({"compare.a": ca, "compare.b": cb,
            "compare.eq": (ca == cb).float(), "compare.ne": (ca != cb).float(),
            "compare.lt": (ca < cb).float(), "compare.le": (ca <= cb).float(),
            "compare.gt": (ca > cb).float(), "compare.ge": (ca >= cb).float(),
            "compare.eq_scalar": (ca == 1).float(), "compare.ne_scalar": (ca != 1).float(),
            "compare.lt_scalar": (ca < 1).float(), "compare.le_scalar": (ca <= 1).float(),
            "compare.gt_scalar": (ca > 1).float(), "compare.ge_scalar": (ca >= 1).float()})

save("elementwise", out)
