"""PyTorch reference values for reductions, softmax, indexing and joining.

Each case `c` stores its inputs (`c.x`, or `c.x0`, `c.x1`, ... for several), an upstream gradient
`c.w`, the output `c.y` and the input gradients of sum(y * w) (`c.dx` or `c.dx0`, ...). Index
tensors (`c.index`) are stored as floats. The Swift test
(Tests/DeepCoreTests/ReductionTests.swift and siblings) calls the same op with the same axes.

    /tmp/venv/bin/python Tests/Fixtures/make_reductions.py
"""
import torch

from fixture_util import gradient_case, save

torch.manual_seed(0)
out = {}


def case(name, fn, *inputs, extra=None):
    gradient_case(out, name, fn, *inputs, extra=extra)


x = torch.randn(2, 3, 4)
ties = torch.randint(0, 3, (2, 3, 4)).float()  # many equal values: ties split the gradient

case("mean_1", lambda t: t.mean(1), x)
case("mean_02_keep", lambda t: t.mean((0, 2), keepdim=True), x)
case("mean_all", lambda t: t.mean(), x)

case("max_1", lambda t: t.amax(1), ties)
case("max_02_keep", lambda t: t.amax((0, 2), keepdim=True), ties)
case("max_all", lambda t: t.amax(), ties)
case("min_2", lambda t: t.amin(2), ties)
case("min_01_keep", lambda t: t.amin((0, 1), keepdim=True), ties)
case("max_random_2", lambda t: t.amax(-1), x)

case("var_1", lambda t: t.var(1), x)
case("var_02_keep_c0", lambda t: t.var((0, 2), keepdim=True, correction=0), x)
case("var_all", lambda t: t.var(), x)
case("std_2", lambda t: t.std(2), x)
case("std_01_keep_c0", lambda t: t.std((0, 1), keepdim=True, correction=0), x)

case("lse_2", lambda t: t.logsumexp(2), x)
case("lse_01_keep", lambda t: t.logsumexp((0, 1), keepdim=True), x)
case("lse_big", lambda t: t.logsumexp(-1), x * 1000)

case("norm_1", lambda t: torch.linalg.vector_norm(t, dim=1), x)
case("norm_all", lambda t: torch.linalg.vector_norm(t), x)

for axis in (0, 1, 2):
    case(f"softmax_{axis}", lambda t: torch.softmax(t, axis), x)
    case(f"log_softmax_{axis}", lambda t: torch.log_softmax(t, axis), x)
x4 = torch.randn(2, 3, 2, 2)
case("softmax4d_1", lambda t: torch.softmax(t, 1), x4)
case("log_softmax4d_1", lambda t: torch.log_softmax(t, 1), x4)
# Rows near +1000 and -1000 (exp over- and underflows unless the row's maximum is subtracted),
# with O(1) differences inside a row so that the softmax is not one-hot and its gradient not zero.
row_sign = torch.tensor([1.0, -1.0, 1.0]).reshape(1, 3, 1)
case("softmax_big", lambda t: torch.softmax(t, -1), x * 2 + 1000 * row_sign)
case("log_softmax_big", lambda t: torch.log_softmax(t, 1), x * 1000)

index1 = torch.randint(0, 3, (2, 5, 3))
case("gather_1", lambda t: t.gather(1, index1), x, extra={"index": index1.float()})
index2 = torch.randint(0, 4, (2, 2, 6))
case("gather_2", lambda t: t.gather(2, index2), x, extra={"index": index2.float()})

case("index_select_1", lambda t: t.index_select(1, torch.tensor([2, 0, 2, 1, 2])), x)
case("index_select_0", lambda t: t.index_select(0, torch.tensor([1, 1, 0])), x)
case("index_select_2", lambda t: t.index_select(2, torch.tensor([3, 3, 0])), x)

case("cat_1", lambda a, b, c: torch.cat([a, b, c], 1), x, torch.randn(2, 1, 4), torch.randn(2, 2, 4))
case("cat_last", lambda a, b: torch.cat([a, b], -1), x, torch.randn(2, 3, 2))
case("stack_1", lambda a, b, c: torch.stack([a, b, c], 1), *torch.randn(3, 2, 3))
case("stack_2", lambda a, b: torch.stack([a, b], 2), *torch.randn(2, 2, 3))

out["argmax_1.x"] = ties
out["argmax_1.y"] = ties.argmax(1).float()
out["argmin_2.y"] = ties.argmin(2).float()

save("reductions", out)
