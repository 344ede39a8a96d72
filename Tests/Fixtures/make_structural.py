"""PyTorch reference values for multi-axis indexing and the structural ops (flip, roll, tril/triu,
diagonal, meshgrid, repeat_interleave, tile).

Each case `c` stores its inputs (`c.x`, or `c.x0`, `c.x1`, ... for several), an upstream gradient
`c.w`, the output `c.y` and the input gradients of sum(y * w) (`c.dx` or `c.dx0`, ...). The Swift
tests (Tests/DeepCoreTests/SubscriptTests.swift, StructuralTests.swift) apply the same op, spelled
in Swift, to the same inputs.

    /tmp/venv/bin/python Tests/Fixtures/make_structural.py
"""
import torch

from fixture_util import gradient_case, save

torch.manual_seed(0)
out = {}


def case(name, fn, *inputs, extra=None):
    gradient_case(out, name, fn, *inputs, extra=extra)


x = torch.randn(3, 4, 5)
x4 = torch.randn(2, 3, 4, 5)
m = torch.randn(4, 5)

# Indexing: the Swift spelling of each case is in SubscriptTests.swift.
case("index_all_0", lambda t: t[:, 0], x)
case("index_range_all_1", lambda t: t[0:2, :, 1], x)
case("index_ellipsis_last", lambda t: t[..., -1], x)
case("index_from_1", lambda t: t[1:], x)
case("index_steps", lambda t: t[::2, 1:4:2], x)
case("index_stride_through", lambda t: t[:, 0:4:3, 1:], x)
case("index_negative", lambda t: t[-1, -3:-1], x)
case("index_ellipsis_middle", lambda t: t[1, ..., -2:], x4)
case("index_new_axis", lambda t: t[:, None, 2:4], x)
case("index_new_axis_ellipsis", lambda t: t[None, ..., None, 0], x)
case("index_closed", lambda t: t[1:3, -2:], x)
case("index_up_to_through", lambda t: t[:2, :3], x)
case("index_clamped", lambda t: t[:, 2:100, -100:2], x)
case("index_scalar", lambda t: t[1, 2, 3], x)
case("index_row", lambda t: t[-1], x)
case("index_rows", lambda t: t[1:3], x)
case("index_empty", lambda t: t[:, 3:1], x)

case("flip_02", lambda t: torch.flip(t, [0, 2]), x)
case("flip_last", lambda t: torch.flip(t, [-1]), x)
case("flip_none", lambda t: torch.flip(t, []), x)

case("roll_1_2", lambda t: torch.roll(t, 1, 2), x)
case("roll_multi", lambda t: torch.roll(t, (2, -1), (0, 1)), x)
case("roll_flat", lambda t: torch.roll(t, 5), x)
case("roll_big", lambda t: torch.roll(t, -7, 1), x)
case("roll_repeat", lambda t: torch.roll(t, (1, 1), (2, 2)), x)

case("tril_0", lambda t: torch.tril(t), x)
case("tril_1", lambda t: torch.tril(t, 1), x)
case("tril_m1", lambda t: torch.tril(t, -1), x)
case("triu_0", lambda t: torch.triu(t), x)
case("triu_2", lambda t: torch.triu(t, 2), x)
case("triu_m1", lambda t: torch.triu(t, -1), x)
case("tril_tall_m2", lambda t: torch.tril(t, -2), m.T.contiguous())
case("triu_tall_1", lambda t: torch.triu(t, 1), m.T.contiguous())

case("diagonal", lambda t: torch.diagonal(t), m)
case("diagonal_1", lambda t: torch.diagonal(t, 1), m)
case("diagonal_m2", lambda t: torch.diagonal(t, -2), m)
case("diagonal_1_2_0", lambda t: torch.diagonal(t, 1, 2, 0), x)
case("diagonal_m1_last", lambda t: torch.diagonal(t, -1, -1, -2), x)

a, b, c = torch.randn(3), torch.randn(4), torch.randn(2)
case("meshgrid_ij", lambda *ts: torch.stack(torch.meshgrid(*ts, indexing="ij")), a, b)
case("meshgrid_xy", lambda *ts: torch.stack(torch.meshgrid(*ts, indexing="xy")), a, b)
case("meshgrid_xy3", lambda *ts: torch.stack(torch.meshgrid(*ts, indexing="xy")), a, b, c)

case("repeat_interleave_flat", lambda t: torch.repeat_interleave(t, 2), m)
case("repeat_interleave_1", lambda t: torch.repeat_interleave(t, 3, dim=1), m)
case("repeat_interleave_counts_1", lambda t: torch.repeat_interleave(t, torch.tensor([1, 0, 2, 1, 3]), dim=1), m)
case("repeat_interleave_counts_0", lambda t: torch.repeat_interleave(t, torch.tensor([2, 1, 0, 1]), dim=-2), m)
case("repeat_interleave_one_count", lambda t: torch.repeat_interleave(t, torch.tensor([2]), dim=0), m)
case("repeat_interleave_counts_flat", lambda t: torch.repeat_interleave(t, torch.tensor([0, 1, 2, 3, 1, 1])),
     torch.randn(2, 3))

case("tile_2", lambda t: torch.tile(t, (2,)), m)
case("tile_2_1_2", lambda t: torch.tile(t, (2, 1, 2)), m)
case("tile_3_2", lambda t: torch.tile(t, (3, 2)), m)
case("tile_3d", lambda t: torch.tile(t, (2, 1)), x)

save("structural", out)
