"""Fixture for EinsumTests: torch.einsum values and gradients (float64 reference, stored as float).

Each case stores <name>.x0, <name>.x1, ... (inputs), <name>.y (output), <name>.w (weights) and
<name>.dx0, ... (d sum(y * w) / dx_i), the layout of `OpFixture.named(_:in:inputs:)`. The Swift
test holds the same table of (name, equation, shapes).

    /tmp/venv/bin/python Tests/Fixtures/make_einsum.py
"""
import torch

from fixture_util import save

CASES = [
    # name, equation, operand shapes
    ("matmul", "ij,jk->ik", [(3, 4), (4, 5)]),
    ("attention_scores", "bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("attention_values", "bhqk,bhkd->bhqd", [(2, 3, 4, 6), (2, 3, 6, 5)]),
    ("outer", "i,j->ij", [(3,), (4,)]),
    ("trace", "ii", [(4, 4)]),
    ("diagonal", "ii->i", [(4, 4)]),
    ("transpose", "ij->ji", [(3, 4)]),
    ("sum_all", "ij->", [(3, 4)]),
    ("ellipsis_broadcast", "...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("three_operands", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("bilinear", "bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("implicit_matmul", "ij,jk", [(3, 4), (4, 2)]),
    ("implicit_order", "bA,Ab", [(3, 4), (4, 3)]),
    ("implicit_ascii", "zaB", [(2, 3, 4)]),
    ("hadamard", "ij,ij->ij", [(3, 4), (3, 4)]),
    ("batched_dot", "bi,bi->b", [(5, 4), (5, 4)]),
    ("batch_diagonal", "bii->bi", [(2, 3, 3)]),
    ("trace_middle", "iji->j", [(3, 4, 3)]),
    ("triple_diagonal", "iii->i", [(3, 3, 3)]),
    ("diagonal_product", "ii,ij->j", [(3, 3), (3, 4)]),
    ("label_broadcast", "ij,j->ij", [(3, 1), (4,)]),
    ("scalar_operand", "i,->i", [(3,), ()]),
    ("sum_before_product", "ijk,kl->l", [(2, 3, 4), (4, 5)]),
    ("ellipsis_middle", "i...i->...", [(3, 2, 4, 3)]),
    ("ellipsis_summed", "...ij->j", [(2, 3, 4, 5)]),
    ("ellipsis_output_first", "b...d,de->...be", [(2, 3, 4, 5), (5, 6)]),
    ("spaces", " i j , j k -> k i ", [(2, 3), (3, 4)]),
    ("mixed_batch", "bij,bjk,bk->bi", [(2, 3, 4), (2, 4, 5), (2, 5)]),
    ("transposed_result", "ij,kj->jik", [(2, 3), (4, 3)]),
]


def main():
    torch.manual_seed(0)
    out = {}
    for name, equation, shapes in CASES:
        # float32 draws, so the stored inputs are exact; the reference runs in float64.
        xs = [torch.randn(s).double().requires_grad_() for s in shapes]
        y = torch.einsum(equation, *xs)
        w = torch.randn(y.shape).double()
        (y * w).sum().backward()
        for i, x in enumerate(xs):
            out[f"{name}.x{i}"] = x
            out[f"{name}.dx{i}"] = x.grad
        out[f"{name}.y"] = y
        out[f"{name}.w"] = w
    save("einsum", out)


if __name__ == "__main__":
    main()
