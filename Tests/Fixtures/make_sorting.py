"""Writes sorting.json: PyTorch's values and gradients for sorting, scatter, cumulative and
logical ops (Tests/DeepCoreTests/{Sorting,Scatter,Cumulative,Logical}Tests.swift).

Each case `c` stores its inputs `c.<input>` (`c.x`, or `c.x`, `c.src`, ...), the output `c.y`,
extra outputs (`c.indices`: positions as floats), and for a differentiable op the weight `c.w`
and the gradients of sum(y * w), `c.d<input>`. Integer arguments (indices, k, axes) are written
in the Swift test beside the case. JSON has no NaN or infinity: a tensor holding any is stored
with those elements as 0 and a companion `<key>.nonfinite` (1: NaN, 2: +inf, 3: -inf) that the
test decodes.

Finite-difference inputs are drawn by the Swift test itself; the PyTorch inputs here include
ties, NaN and infinities where PyTorch defines the result (stable sorts, the median), and zeros
for the cumulative product's gradient.

Run: /tmp/venv/bin/python Tests/Fixtures/make_sorting.py
"""
import torch

from fixture_util import save

torch.manual_seed(0)
out = {}
inf, nan = float("inf"), float("nan")


def store(key, t):
    t = torch.as_tensor(t).detach().to(torch.float64)
    finite = torch.isfinite(t)
    if not finite.all():
        code = torch.zeros_like(t)
        code[t.isnan()] = 1
        code[t == inf] = 2
        code[t == -inf] = 3
        out[key + ".nonfinite"] = code
        t = torch.where(finite, t, torch.zeros_like(t))
    out[key] = t


def case(name, fn, differentiable=True, **inputs):
    """Stores fn(**inputs): its first result as `.y`, the others (a dict) under their names, and,
    when `differentiable`, the gradients of the floating inputs that are not named `mask`."""
    assert not {"y", "w"} & set(inputs), "an input named y or w would be overwritten by the output or weight"
    leaves = {}
    for k, t in inputs.items():
        wants = differentiable and t.is_floating_point() and k != "mask"
        leaves[k] = t.clone().requires_grad_(wants)
        store(f"{name}.{k}", t)
    result = fn(**leaves)
    y, extra = result if isinstance(result, tuple) else (result, {})
    store(f"{name}.y", y)
    for k, v in extra.items():
        store(f"{name}.{k}", v)
    if differentiable:
        w = torch.randn(y.shape)
        (y * w).sum().backward()
        store(f"{name}.w", w)
        for k, t in leaves.items():
            if t.requires_grad:
                store(f"{name}.d{k}", t.grad)


def with_indices(r):
    return r.values, {"indices": r.indices.float()}


# Distinct values 0.1 apart (no ties: every gradient is defined), values with ties, and rows
# with NaN and infinities.
distinct = (torch.randperm(60).float() / 10 - 3).reshape(3, 4, 5)
ties = torch.randint(0, 3, (3, 4, 5)).float()
special = torch.tensor([[3.0, nan, 1.0, -inf, 2.0, nan, 1.0],
                        [0.5, inf, -1.0, 0.5, nan, -inf, 2.0],
                        [1.0, 2.0, -0.0, 0.0, -3.0, 4.0, inf]])

# MARK: sorting
case("sort_last", lambda x: with_indices(x.sort(-1)), x=distinct)
case("sort_1_desc", lambda x: with_indices(x.sort(1, descending=True)), x=distinct)
case("sort_0_ties", lambda x: with_indices(x.sort(dim=0, stable=True)), x=ties)
case("sort_2_ties_desc", lambda x: with_indices(x.sort(dim=2, descending=True, stable=True)), x=ties)
case("sort_special", lambda x: with_indices(x.sort(dim=1, stable=True)), x=special)
case("sort_special_desc", lambda x: with_indices(x.sort(dim=1, descending=True, stable=True)), x=special)
case("argsort_1", lambda x: x.argsort(1).float(), differentiable=False, x=distinct)
case("argsort_ties_desc", lambda x: x.argsort(dim=-1, descending=True, stable=True).float(), differentiable=False, x=ties)
case("topk_2_last", lambda x: with_indices(x.topk(2, dim=-1)), x=distinct)
case("topk_3_1_smallest", lambda x: with_indices(x.topk(3, dim=1, largest=False)), x=distinct)
# Ties and NaN: PyTorch leaves the positions among equal values unspecified; the test checks
# the values and that each position holds its value.
case("topk_ties", lambda x: with_indices(x.topk(3, dim=-1)), differentiable=False, x=ties)
case("topk_special", lambda x: with_indices(x.topk(4, dim=1)), differentiable=False, x=special)
case("topk_special_smallest", lambda x: with_indices(x.topk(4, dim=1, largest=False)), differentiable=False, x=special)
case("kthvalue_2_1", lambda x: with_indices(x.kthvalue(2, dim=1)), x=distinct)
case("kthvalue_3_last_keep", lambda x: with_indices(x.kthvalue(3, dim=-1, keepdim=True)), x=distinct)
case("kthvalue_special", lambda x: with_indices(x.kthvalue(6, dim=1)), differentiable=False, x=special)
case("median_1", lambda x: with_indices(x.median(dim=1)), x=distinct)
case("median_0_keep", lambda x: with_indices(x.median(dim=0, keepdim=True)), x=distinct)
case("median_ties_2", lambda x: with_indices(x.median(dim=2)), x=ties)
case("median_special", lambda x: with_indices(x.median(dim=1)), x=special)
case("median_all", lambda x: x.median(), x=distinct)
case("median_all_ties", lambda x: x.median(), x=ties)
case("median_all_nan", lambda x: x.median(), x=special)

# MARK: scatter
base = torch.randn(3, 5)
index_rows = torch.tensor([[4, 0], [1, 3], [2, 1]])            # distinct within each row
case("scatter_1", lambda x, src: x.scatter(1, index_rows, src), x=base, src=torch.randn(3, 2))
index_columns = torch.tensor([[2, 0, 1, 1, 0], [0, 2, 2, 0, 1]])  # distinct within each column
case("scatter_0", lambda x, src: x.scatter(0, index_columns, src), x=base, src=torch.randn(2, 5))
index_repeats = torch.tensor([[1, 1, 3], [0, 4, 0], [2, 2, 2]])  # repeats: the last one is written
case("scatter_repeats", lambda x, src: x.scatter(1, index_repeats, src), differentiable=False,
     x=base, src=torch.randn(3, 3))
case("scatter_value", lambda x: x.scatter(1, index_repeats, 2.5), x=base)
case("scatter_add_1", lambda x, src: x.scatter_add(1, index_repeats, src), x=base, src=torch.randn(3, 3))
case("scatter_add_0", lambda x, src: x.scatter_add(0, index_columns, src), x=base, src=torch.randn(2, 5))
case("index_add_0", lambda x, src: x.index_add(0, torch.tensor([0, 4, 2, 0]), src, alpha=2.0),
     x=torch.randn(5, 3), src=torch.randn(4, 3))
case("index_add_1", lambda x, src: x.index_add(1, torch.tensor([3, 1, 3]), src),
     x=torch.randn(2, 4, 3), src=torch.randn(2, 3, 3))
mask34 = torch.tensor([[1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 1, 0]]).float()
mask4 = torch.tensor([0, 1, 1, 0]).float()
case("masked_fill_broadcast_self", lambda x, mask: torch.masked_fill(x, mask.bool(), 5.0),
     x=torch.randn(3, 1), mask=mask34)
case("masked_fill_tensor", lambda x, v, mask: torch.masked_fill(x, mask.bool(), v),
     x=torch.randn(3, 4), v=torch.tensor(1.5), mask=mask4)
case("masked_select", lambda x, mask: torch.masked_select(x, mask.bool()), x=torch.randn(3, 4), mask=mask34)
case("masked_select_broadcast", lambda x, mask: torch.masked_select(x, mask.bool()), x=torch.randn(4), mask=mask34)

# MARK: cumulative
case("cumsum_1", lambda x: x.cumsum(1), x=distinct)
case("cumsum_last", lambda x: x.cumsum(-1), x=distinct)
case("cumsum_0", lambda x: x.cumsum(0), x=distinct)
varied = torch.rand(3, 4, 5) * 1.5 + 0.25
varied = varied * torch.where(torch.rand(3, 4, 5) < 0.3, -1.0, 1.0)
case("cumprod_1", lambda x: x.cumprod(1), x=varied)
case("cumprod_last", lambda x: x.cumprod(-1), x=varied)
zeros = varied.clone()
zeros[0, 1, 2] = 0          # one zero in a line along the last axis
zeros[1, 2, 0] = 0          # at the start of a line
zeros[1, 3, 4] = 0          # at the end of a line
zeros[2, 0, 1] = 0          # two zeros in one line
zeros[2, 0, 3] = 0
zeros[0, 2, 2] = 0          # with [0, 1, 2]: two zeros along axis 1
case("cumprod_zeros_last", lambda x: x.cumprod(-1), x=zeros)
case("cumprod_zeros_1", lambda x: x.cumprod(1), x=zeros)

# MARK: logical
truth_a = torch.tensor([[0.0, 1.0, -2.0, 0.0], [nan, 0.0, 3.0, 0.5], [0.0, 0.0, 0.0, 0.0]])
truth_b = torch.tensor([1.0, 0.0, 2.0, 0.0])
for name, f in [("and", torch.logical_and), ("or", torch.logical_or), ("xor", torch.logical_xor)]:
    case(f"logical_{name}", lambda a, b, f=f: f(a, b).float(), differentiable=False, a=truth_a, b=truth_b)
case("logical_not", lambda x: torch.logical_not(x).float(), differentiable=False, x=truth_a)
case("any_1", lambda x: x.any(1).float(), differentiable=False, x=truth_a)
case("all_1", lambda x: x.all(1).float(), differentiable=False, x=truth_a)
case("any_0_keep", lambda x: x.any(0, keepdim=True).float(), differentiable=False, x=truth_a)
case("all_0_keep", lambda x: x.all(0, keepdim=True).float(), differentiable=False, x=truth_a)
case("any_all", lambda x: x.any().float(), differentiable=False, x=truth_a)
case("all_all", lambda x: x.all().float(), differentiable=False, x=truth_a)
case("all_all_true", lambda x: x.all().float(), differentiable=False, x=truth_b + 1)
case("isnan", lambda x: x.isnan().float(), differentiable=False, x=special)
case("isfinite", lambda x: x.isfinite().float(), differentiable=False, x=special)
case("isinf", lambda x: x.isinf().float(), differentiable=False, x=special)
case("nan_to_num", lambda x: torch.nan_to_num(x), x=special)
case("nan_to_num_custom", lambda x: torch.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-3.0), x=special)
case("lerp_scalar", lambda a, b: torch.lerp(a, b, 0.3), a=torch.randn(3, 4), b=torch.randn(4))
case("lerp_scalar_high", lambda a, b: torch.lerp(a, b, 0.8), a=torch.randn(3, 4), b=torch.randn(3, 4))
case("lerp_tensor", lambda a, b, weight: torch.lerp(a, b, weight),
     a=torch.randn(3, 4), b=torch.randn(3, 1), weight=torch.tensor([0.1, 0.5, 0.9, 1.3]))

save("sorting", out)
