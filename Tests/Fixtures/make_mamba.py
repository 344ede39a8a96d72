"""Reference values for DeepNN's selective scan, causal depthwise conv and Mamba block.

`selective_scan_ref` and `MambaRef` are written from ../shared/specs/mamba.md (mamba-ssm's
`selective_scan_interface.selective_scan_ref` and `mamba_simple.Mamba` without the fused fast
path), in plain PyTorch, with mamba-ssm's parameter names. The references run in float64 on inputs
rounded to float32 (6 significant digits, so the JSON stays small); outputs are stored with 8.

Writes mamba_scan.json (small cases), mamba_scan_long.json / mamba_scan_long_grads.json (L = 512)
and mamba_block.json. Run: /tmp/venv/bin/python Tests/Fixtures/make_mamba.py
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange, repeat

from fixture_util import save


def short(t, digits):
    """float64 values that are float32-exact (inputs) or rounded (outputs), with short reprs."""
    a = t.detach().to(torch.float64).cpu().numpy()
    return np.array([float("%.*g" % (digits, v)) for v in a.reshape(-1)]).reshape(a.shape)


def as_input(t):
    """t rounded to 6 digits, then to float32, as a float64 leaf tensor."""
    a = short(t, 6).astype(np.float32).astype(np.float64)
    return torch.tensor(a, dtype=torch.float64)


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       return_last_state=False):
    if delta_bias is not None:
        delta = delta + delta_bias[..., None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
    is_variable_B, is_variable_C = B.dim() >= 3, C.dim() >= 3
    x = A.new_zeros((batch, dim, dstate))
    ys = []
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    if not is_variable_B:
        deltaB_u = torch.einsum("bdl,dn,bdl->bdln", delta, B, u)
    elif B.dim() == 3:
        deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    else:
        B = repeat(B, "B G N L -> B (G H) N L", H=dim // B.shape[1])
        deltaB_u = torch.einsum("bdl,bdnl,bdl->bdln", delta, B, u)
    if is_variable_C and C.dim() == 4:
        C = repeat(C, "B G N L -> B (G H) N L", H=dim // C.shape[1])
    last_state = None
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        if not is_variable_C:
            y = torch.einsum("bdn,dn->bd", x, C)
        elif C.dim() == 3:
            y = torch.einsum("bdn,bn->bd", x, C[:, :, i])
        else:
            y = torch.einsum("bdn,bdn->bd", x, C[:, :, :, i])
        if i == u.shape[2] - 1:
            last_state = x
        ys.append(y)
    y = torch.stack(ys, dim=2)
    out = y if D is None else y + u * rearrange(D, "d -> d 1")
    if z is not None:
        out = out * F.silu(z)
    return out if not return_last_state else (out, last_state)


NAMES = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]


def scan_case(prefix, store, inputs, softplus, w=None, store_w=True, grads_store=None):
    """Runs the reference on `inputs` (name -> tensor or None), stores inputs, out, last state,
    and the gradients of sum(out·w) with respect to every given input."""
    leaves = {k: (as_input(v).requires_grad_(True) if v is not None else None) for k, v in inputs.items()}
    out, last = selective_scan_ref(*[leaves[k] for k in NAMES[:5]], D=leaves["D"], z=leaves["z"],
                                   delta_bias=leaves["delta_bias"], delta_softplus=softplus, return_last_state=True)
    if w is None:
        w = torch.randn(out.shape)
    w = as_input(w)
    (out * w).sum().backward()
    grads_store = store if grads_store is None else grads_store
    for k, t in leaves.items():
        if t is not None:
            store[f"{prefix}.{k}"] = short(t, 6)
            grads_store[f"{prefix}.grad_{k}"] = short(t.grad, 8)
    store[f"{prefix}.out"] = short(out, 8)
    store[f"{prefix}.last_state"] = short(last, 8)
    (grads_store if not store_w else store)[f"{prefix}.w"] = short(w, 6)


def gated_inputs(bt, d, n, l):
    """Input-dependent B and C with every option: D, gate z and a delta bias."""
    return dict(
        u=torch.randn(bt, d, l), delta=torch.randn(bt, d, l) * 0.5, A=-0.5 - torch.rand(d, n),
        B=torch.randn(bt, n, l), C=torch.randn(bt, n, l), D=torch.randn(d), z=torch.randn(bt, d, l),
        delta_bias=torch.randn(d) * 0.3)


def scan_fixtures():
    torch.manual_seed(0)
    small = {}
    # Input-dependent B, C; N = 5 (not a multiple of 8); L = 37.
    scan_case("variable", small, gated_inputs(2, 3, 5, 37), softplus=True)
    # Constant B, C; no D, z, bias or softplus.
    bt, d, n, l = 2, 3, 4, 20
    scan_case("constant", small, dict(
        u=torch.randn(bt, d, l), delta=torch.rand(bt, d, l) * 0.3 + 0.01, A=-torch.rand(d, n),
        B=torch.randn(d, n), C=torch.randn(d, n), D=None, z=None, delta_bias=None), softplus=False)
    # Grouped B, C: (Bt, G, N, L) with G = 2 over D = 4.
    bt, d, g, n, l = 2, 4, 2, 3, 19
    scan_case("grouped", small, dict(
        u=torch.randn(bt, d, l), delta=torch.randn(bt, d, l), A=-torch.rand(d, n) * 2,
        B=torch.randn(bt, g, n, l), C=torch.randn(bt, g, n, l), D=None, z=torch.randn(bt, d, l),
        delta_bias=None), softplus=True)
    # Constant B, input-dependent C, N = 16, L = 40; bias, no softplus; large delta values in
    # another case test softplus's threshold.
    bt, d, n, l = 1, 2, 16, 40
    scan_case("mixed", small, dict(
        u=torch.randn(bt, d, l), delta=torch.rand(bt, d, l) * 0.2, A=-torch.rand(d, n),
        B=torch.randn(d, n), C=torch.randn(bt, n, l), D=torch.randn(d), z=None,
        delta_bias=torch.rand(d) * 0.1 + 0.01), softplus=False)
    bt, d, n, l = 1, 2, 3, 12
    scan_case("threshold", small, dict(
        u=torch.randn(bt, d, l), delta=torch.randn(bt, d, l) * 15, A=-torch.rand(d, n) * 0.05,
        B=torch.randn(bt, n, l), C=torch.randn(bt, n, l), D=torch.randn(d), z=None,
        delta_bias=torch.randn(d)), softplus=True)
    save("mamba_scan", small)

    # Long sequence (several checkpoint segments): Bt = 1, D = 4, N = 4, L = 512; gradients in a
    # second file.
    long_inputs, long_grads = {}, {}
    bt, d, n, l = 1, 4, 4, 512
    scan_case("long", long_inputs, dict(
        u=torch.randn(bt, d, l), delta=torch.randn(bt, d, l) * 0.5 - 1, A=-0.5 * torch.rand(d, n) - 0.1,
        B=torch.randn(bt, n, l), C=torch.randn(bt, n, l), D=torch.randn(d), z=torch.randn(bt, d, l),
        delta_bias=torch.randn(d) * 0.2), softplus=True, store_w=False, grads_store=long_grads)
    save("mamba_scan_long", long_inputs)
    save("mamba_scan_long_grads", long_grads)

    # Enough channels for DeepStitch's channel-block kernels (16 channels per block with
    # AVX-512, 8 with AVX2): 20 channels, a whole block and a partial one; and 36 channels in two
    # groups of 18. N = 16 (two passes of 8 states); L = 34 and 20.
    torch.manual_seed(1)
    blocks = {}
    scan_case("blocks", blocks, gated_inputs(1, 20, 16, 34), softplus=True)
    bt, d, g, n, l = 1, 36, 2, 16, 20
    scan_case("grouped_blocks", blocks, dict(
        u=torch.randn(bt, d, l), delta=torch.rand(bt, d, l) * 0.3 + 0.01, A=-torch.rand(d, n) * 2,
        B=torch.randn(bt, g, n, l), C=torch.randn(bt, g, n, l), D=None, z=None, delta_bias=None), softplus=False)
    save("mamba_scan_blocks", blocks)


class MambaRef(nn.Module):
    """mamba_simple.Mamba's reference (non-fused) path, with its parameter names."""

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2, dt_rank="auto", conv_bias=True, bias=False):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else dt_rank
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, kernel_size=d_conv, groups=self.d_inner,
                                padding=d_conv - 1, bias=conv_bias)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        A = repeat(torch.arange(1, d_state + 1, dtype=torch.float32), "n -> d n", d=self.d_inner).contiguous()
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def forward(self, hs, return_state=False):
        _, seqlen, _ = hs.shape
        xz = rearrange(self.in_proj.weight @ rearrange(hs, "b l d -> d (b l)"), "d (b l) -> b d l", l=seqlen)
        if self.in_proj.bias is not None:
            xz = xz + rearrange(self.in_proj.bias, "d -> d 1")
        A = -torch.exp(self.A_log)
        x, z = xz.chunk(2, dim=1)
        x = F.silu(self.conv1d(x)[..., :seqlen])
        x_dbl = self.x_proj(rearrange(x, "b d l -> (b l) d"))
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = rearrange(self.dt_proj.weight @ dt.t(), "d (b l) -> b d l", l=seqlen)
        B = rearrange(B, "(b l) n -> b n l", l=seqlen)
        C = rearrange(C, "(b l) n -> b n l", l=seqlen)
        y, last = selective_scan_ref(x, dt, A, B, C, self.D, z=z, delta_bias=self.dt_proj.bias,
                                     delta_softplus=True, return_last_state=True)
        out = self.out_proj(rearrange(y, "b d l -> b l d"))
        return (out, last) if return_state else out


def block_fixtures():
    torch.manual_seed(1)
    store = {}
    # Default hyperparameters except the width: d_model 8 (d_inner 16, dt_rank 1, N 16, d_conv 4).
    m = MambaRef(8).double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name in ("A_log", "D"):
                p.add_(torch.randn(p.shape, dtype=torch.float64) * 0.1)   # away from the exact init
            p.copy_(as_input(p))
    x = as_input(torch.randn(2, 12, 8)).requires_grad_(True)
    y, last = m(x, return_state=True)
    w = as_input(torch.randn(y.shape))
    (y * w).sum().backward()
    for name, p in m.named_parameters():
        store[f"block.{name}"] = short(p, 6)
        store[f"block.grad.{name}"] = short(p.grad, 8)
    store["block.x"], store["block.grad_x"] = short(x, 6), short(x.grad, 8)
    store["block.y"], store["block.w"], store["block.last_state"] = short(y, 8), short(w, 6), short(last, 8)

    # The causal depthwise conv with SiLU on its own: x (2, 3, 9), weight (3, 1, 4), bias (3).
    cx, cw, cb = [as_input(t).requires_grad_(True) for t in (torch.randn(2, 3, 9), torch.randn(3, 1, 4), torch.randn(3))]
    cy = F.silu(F.conv1d(cx, cw, cb, padding=3, groups=3)[..., :9])
    cwt = as_input(torch.randn(cy.shape))
    (cy * cwt).sum().backward()
    for k, t in dict(x=cx, weight=cw, bias=cb).items():
        store[f"conv.{k}"], store[f"conv.grad_{k}"] = short(t, 6), short(t.grad, 8)
    store["conv.y"], store["conv.w"] = short(cy, 8), short(cwt, 6)
    save("mamba_block", store)


if __name__ == "__main__":
    scan_fixtures()
    block_fixtures()
