"""Fixture for EinopsTests: real einops 0.8 on numpy arrays (values) and on torch tensors
(gradients of sum(y * w) for a stored random w).

Each case stores <name>.x (input; for a list input, the stacked list), <name>.y (output),
<name>.w (weights) and <name>.grad (d sum(y*w) / dx). The Swift test holds the same table of
(name, operation, pattern, sizes).

Also writes einops_extras.json: pack and unpack (PACK_CASES), einops.einsum (EINSUM_CASES, the
cases of einops' tests/test_einsum.py) and the EinMix layer (EINMIX_CASES: its state dict, input,
output and gradients), each in the layout described at its table.

    /tmp/venv/bin/python Tests/Fixtures/make_einops.py
"""
import numpy as np
import torch
import einops
from einops import pack, rearrange, reduce, repeat, unpack
from einops.layers.torch import EinMix

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
    ("list_reduce_mean", "list:mean", (4, 3, 2), "n h w -> w h", {}),
    ("list_reduce_max", "list:max", (3, 2, 6), "n h (w w2) -> (n h) w", dict(w2=2)),
    ("list_repeat", "list:repeat", (2, 3, 2), "n h w -> h (n w) c", dict(c=3)),
]


def apply(op, x, pattern, sizes):
    if op == "list":
        return rearrange(list(x), pattern, **sizes)
    if op.startswith("list:"):
        return apply(op[len("list:"):], list(x), pattern, sizes)
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
        inputs = list(xt.unbind(0)) if op.startswith("list") else xt
        yt = apply(op, inputs, pattern, sizes)
        assert np.allclose(yt.detach().numpy(), y, atol=1e-5), name
        (yt * torch.tensor(w, dtype=torch.float64)).sum().backward()
        out[name + ".x"] = x
        out[name + ".y"] = y
        out[name + ".w"] = w
        out[name + ".grad"] = xt.grad
    save("einops", out)
    save("einops_extras", extras())


# pack/<name>.x<i> (inputs), .packed, .w, .dx<i> (d sum(packed * w) / dx_i); the packed shapes
# are checked in the Swift table.
PACK_CASES = [
    # name, pattern, input shapes
    ("channels_last", "h w *", [(3, 4), (3, 4), (3, 4), (3, 4, 5)]),
    ("tokens", "b * c", [(2, 3), (2, 2, 3, 3), (2, 4, 3)]),
    ("leading", "* h w", [(3, 2), (2, 3, 2)]),
]

# einsum/<name>.x<i>, .y, .w, .dx<i>: einops.einsum(*xs, pattern) on torch tensors.
EINSUM_CASES = [
    ("basic", "b c h w, b w -> b h", [(2, 3, 4, 5), (2, 5)]),
    ("three_tensors", "b c h w, b w, b c -> b h", [(2, 3, 4, 5), (2, 5), (2, 3)]),
    ("ellipsis_full_names", "... one two three, three four five -> ... two five", [(3, 2, 2, 3, 4), (4, 3, 2)]),
    ("ellipsis_at_end", "one two three ..., three four five -> two five ...", [(2, 3, 4, 3, 2), (4, 3, 2)]),
    ("ellipsis_on_both", "... one two three, ... three four five -> ... two five", [(3, 2, 2, 3, 4), (3, 2, 4, 3, 2)]),
    ("underscores", "first_tensor second_tensor -> first_tensor", [(5, 4)]),
    ("trace", "i i -> ", [(5, 5)]),
    ("spaces", " one  two  ,  three four->two  four  ", [(2, 3), (4, 5)]),
    ("trace_middle", "i middle i -> middle", [(5, 4, 5)]),
    ("ellipsis_middle", "i ... i -> ...", [(3, 3, 2, 1, 2, 3)]),
    ("first_last_product", "i ... i -> i ...", [(3, 3, 2, 1, 2, 3)]),
    ("triple_diagonal", "one one one -> one", [(5, 5, 5)]),
    ("axis_swap", "i j k -> j i k", [(1, 2, 3)]),
    ("identity", "... -> ...", [(5, 4, 3, 2, 1)]),
    ("elementwise_three", "..., ..., ... -> ...", [(3, 2), (3, 2), (3, 2)]),
    ("summation", "index ->", [(10,)]),
    ("attention", "b h q d, b h k d -> b h q k", [(2, 3, 4, 5), (2, 3, 6, 5)]),
]

# einmix/<name>.state.<param>, .x, .y, .w, .dx, .grad.<param>: einops' EinMix (torch), seeded.
EINMIX_CASES = [
    # name, pattern, weight shape, bias shape, sizes, input shape
    ("transpose_mix", "b c_in h w -> w c_out h b", "c_in c_out", None, dict(c_out=13, c_in=12), (2, 12, 3, 4)),
    ("transpose_mix_bias", "b c_in h w -> w c_out h b", "c_in c_out", "c_out", dict(c_out=13, c_in=12), (2, 12, 3, 4)),
    ("scalar_weight", "b c_in h w -> w c_in h b", "", None, dict(c_in=12), (2, 12, 3, 4)),
    ("flatten_mix", "b c_in h w -> b c_out", "c_in h w c_out", None, dict(c_in=6, h=3, w=4, c_out=5), (2, 6, 3, 4)),
    ("per_head", "b t head c_in -> b t head c_out", "head c_in c_out", None, dict(head=4, c_in=5, c_out=6), (2, 3, 4, 5)),
    ("grouped", "b ... (a c) -> b ... (a d)", "c d", "a d", dict(a=2, c=3, d=4), (2, 5, 6)),
    ("ellipsis_regroup", "a ... (b c) -> a (... d b)", "c d b", "d b", dict(b=2, c=3, d=4), (3, 2, 5, 6)),
    ("compose_batch", "b c1 -> (b c2)", "c1 c2", "c2", dict(c1=6, c2=5), (3, 6)),
    ("split_batch", "(b c2) -> b c3", "c2 c3", "c3", dict(c2=5, c3=4), (15,)),
]


def gradients_of(fn, xs):
    """(y, w, [dx]) for y = fn(xs) in float64, w a seeded random weight of y's shape."""
    xs = [x.double().requires_grad_() for x in xs]
    y = fn(xs)
    w = torch.randn(y.shape).double()
    (y * w).sum().backward()
    return y, w, [x.grad for x in xs]


def extras():
    torch.manual_seed(0)
    out = {}
    for name, pattern, shapes in PACK_CASES:
        xs = [torch.randn(s) for s in shapes]
        y, w, dxs = gradients_of(lambda t: pack(t, pattern)[0], xs)
        _, ps = pack(xs, pattern)
        assert [list(p) for p in ps] == [list(s[pattern.split().index("*"):len(s) - (len(pattern.split()) - pattern.split().index("*") - 1)]) for s in shapes]
        parts = unpack(y, ps, pattern)
        assert all(torch.equal(a, b.double()) for a, b in zip(parts, xs))
        for i, (x, dx) in enumerate(zip(xs, dxs)):
            out[f"pack/{name}.x{i}"] = x
            out[f"pack/{name}.dx{i}"] = dx
        out[f"pack/{name}.packed"] = y
        out[f"pack/{name}.w"] = w
    for name, pattern, shapes in EINSUM_CASES:
        xs = [torch.rand(s) for s in shapes]
        y, w, dxs = gradients_of(lambda t: einops.einsum(*t, pattern), xs)
        for i, (x, dx) in enumerate(zip(xs, dxs)):
            out[f"einsum/{name}.x{i}"] = x
            out[f"einsum/{name}.dx{i}"] = dx
        out[f"einsum/{name}.y"] = y
        out[f"einsum/{name}.w"] = w
    for name, pattern, weight_shape, bias_shape, sizes, shape in EINMIX_CASES:
        torch.manual_seed(1)
        layer = EinMix(pattern, weight_shape=weight_shape, bias_shape=bias_shape, **sizes).double()
        for key, value in layer.state_dict().items():
            out[f"einmix/{name}.state.{key}"] = value
        x = torch.randn(shape).double().requires_grad_()
        y = layer(x)
        w = torch.randn(y.shape).double()
        (y * w).sum().backward()
        out[f"einmix/{name}.x"] = x
        out[f"einmix/{name}.y"] = y
        out[f"einmix/{name}.w"] = w
        out[f"einmix/{name}.dx"] = x.grad
        for key, p in layer.named_parameters():
            out[f"einmix/{name}.grad.{key}"] = p.grad
    return out


if __name__ == "__main__":
    main()
