"""Fixture for EinopsTests: real einops 0.8 on numpy arrays (values) and on torch tensors
(gradients of sum(y * w) for a stored random w).

Each case stores <name>.x (input; for a list input, the stacked list), <name>.y (output),
<name>.w (weights) and <name>.grad (d sum(y*w) / dx). The Swift test holds the same table of
(name, operation, pattern, sizes).

    /tmp/venv/bin/python Tests/Fixtures/make_einops.py
"""
import numpy as np
import torch
from einops import rearrange, reduce, repeat

from fixture_util import save

CASES = [
    # name, op ('rearrange' | 'repeat' | reduction name | 'list'), input shape, pattern, sizes
    ("space_to_depth", "rearrange", (2, 3, 4, 6), "b c (h h1) (w w1) -> b (h1 w1 c) h w", dict(h1=2, w1=2)),
    ("split_group", "rearrange", (2, 4, 3, 2), "b (c g) h w -> g b c h w", dict(g=2)),
    ("ellipsis_merge", "rearrange", (2, 3, 2, 2, 3), "a b ... e -> b (a ...) e", {}),
    ("reverse_groups", "rearrange", (1, 2, 3, 2, 2, 3), "a b c d e f -> (f e) d (c b a)", {}),
    ("max_pool", "max", (2, 3, 4, 6), "b c (h1 2) (w1 2) -> b c h1 w1", {}),
    ("adaptive_mean", "mean", (2, 3, 4, 6), "b c (h1 h2) (w1 w2) -> b c h1 w1", dict(h1=2, w1=3)),
    ("min_transpose", "min", (2, 3, 4, 2, 3), "a b c d e -> (e c) a", {}),
    ("sum_ellipsis", "sum", (2, 3, 2, 4), "a ... (e1 e2) -> e1 a", dict(e2=2)),
    ("prod_unit", "prod", (2, 3, 4), "a b c -> c 1 a", {}),
    ("repeat_compose", "repeat", (2, 3, 5), "a b c -> (c copy a b)", dict(copy=2, a=2, b=3, c=5)),
    ("repeat_anonymous", "repeat", (1, 2, 4, 3), "1 b c d -> (d copy 1) 3 b c", dict(copy=3)),
    ("repeat_ellipsis", "repeat", (2, 3), " ... -> copy1 ... copy2 ", dict(copy1=2, copy2=3)),
    ("list_concat", "list", (4, 3, 2), "b h w -> h (b w)", {}),
]


def apply(op, x, pattern, sizes):
    if op == "list":
        return rearrange(list(x), pattern, **sizes)
    if op == "rearrange":
        return rearrange(x, pattern, **sizes)
    if op == "repeat":
        return repeat(x, pattern, **sizes)
    return reduce(x, pattern, op, **sizes)


def main():
    rng = np.random.default_rng(0)
    out = {}
    for name, op, shape, pattern, sizes in CASES:
        if op == "prod":
            x = rng.uniform(0.5, 1.5, size=shape)
        else:
            x = rng.standard_normal(shape)
        x = x.astype(np.float32)
        y = apply(op, x, pattern, sizes)
        w = rng.standard_normal(y.shape).astype(np.float32)
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        inputs = list(xt.unbind(0)) if op == "list" else xt
        yt = apply(op, inputs, pattern, sizes)
        assert np.allclose(yt.detach().numpy(), y, atol=1e-5), name
        (yt * torch.tensor(w, dtype=torch.float64)).sum().backward()
        out[name + ".x"] = x
        out[name + ".y"] = y
        out[name + ".w"] = w
        out[name + ".grad"] = xt.grad
    save("einops", out)


if __name__ == "__main__":
    main()
