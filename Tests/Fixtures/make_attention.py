"""Reference values for DeepNN's attention: scaled-dot-product attention, MultiheadAttention,
Transformer layers, and a small torchvision VisionTransformer.

Writes attention.json (SDPA, MHA), attention_transformer.json (encoder/decoder layers),
vit_state.safetensors (a torchvision ViT state dict) and vit_io.safetensors (its input, logits
and gradients). Run with the venv that has torch and torchvision:
    /tmp/venv/bin/python Tests/Fixtures/make_attention.py
"""
import os
import torch
import torch.nn as nn
import torch.nn.functional as F
import numpy as np
from fixture_util import save as save_json, HERE

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)   # references in double, compared with Float32


def compact(t):
    """Float32-rounded values that JSON writes in few digits; -inf becomes -1e30 (JSON has no
    infinity: the tests map it back)."""
    a = t.detach().double().cpu().numpy().astype(np.float32)
    a = np.where(np.isneginf(a), np.float32(-1e30), a)
    return np.array([float(str(x)) for x in a.ravel()], dtype=np.float64).reshape(a.shape)


def save(name, tensors):
    save_json(name, {k: compact(v) for k, v in tensors.items()})


def record(out, name, fn, inputs, params=()):
    """Runs fn on copies of `inputs` that require grad, backpropagates sum(y * w), stores
    inputs, outputs, w and the gradients of inputs and of the named `params`."""
    ins = [t.clone().requires_grad_(True) for t in inputs]
    for _, p in params:
        p.grad = None
    ys = fn(*ins)
    ys = ys if isinstance(ys, tuple) else (ys,)
    loss = 0
    for i, y in enumerate(ys):
        w = torch.randn_like(y)
        out[f"{name}.w{i}"] = w
        out[f"{name}.y{i}"] = y
        loss = loss + (y * w).sum()
    loss.backward()
    for i, t in enumerate(ins):
        out[f"{name}.in{i}"] = t
        out[f"{name}.grad{i}"] = t.grad if t.grad is not None else torch.zeros_like(t)
    for pname, p in params:
        out[f"{name}.param.{pname}"] = p
        out[f"{name}.pgrad.{pname}"] = p.grad


def sdpa_cases(out):
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 6)
    record(out, "sdpa_plain", lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [q, k, v])
    record(out, "sdpa_scale", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3), [q, k, v])
    qc, kc, vc = torch.randn(2, 2, 9, 5), torch.randn(2, 2, 9, 5), torch.randn(2, 2, 9, 5)
    record(out, "sdpa_causal", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [qc, kc, vc])
    # Causal with Lq != Lk: PyTorch aligns the mask top-left.
    record(out, "sdpa_causal_rect", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v])
    # Boolean mask broadcast over batch and heads, one row fully masked.
    keep = torch.rand(5, 7) > 0.4
    keep[2] = False
    keep[0, 0] = True
    out["sdpa_bool.mask"] = keep.double()
    record(out, "sdpa_bool", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep), [q, k, v])
    # Additive mask (1, 3, Lq, Lk) with some -inf, differentiated too.
    add = torch.randn(1, 3, 5, 7)
    add[0, 1, :, 3] = float("-inf")
    record(out, "sdpa_additive", lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), [q, k, v, add])
    # 3-D inputs (no heads axis).
    q3, k3, v3 = torch.randn(4, 6, 4), torch.randn(4, 3, 4), torch.randn(4, 3, 2)
    record(out, "sdpa_rank3", lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [q3, k3, v3])


def mha_cases(out):
    # Self-attention, sequence-first, averaged weights returned.
    mha = nn.MultiheadAttention(8, 2)
    mha.in_proj_bias.data.normal_()
    mha.out_proj.bias.data.normal_()
    x = torch.randn(5, 3, 8)
    record(out, "mha_self", lambda x: mha(x, x, x, need_weights=True), [x], list(mha.named_parameters()))
    # Cross-attention, batch-first, key padding mask, no weights.
    mha = nn.MultiheadAttention(8, 4, batch_first=True)
    mha.in_proj_bias.data.normal_()
    # out_proj.bias from its own generator: the cases after this one keep their draws.
    mha.out_proj.bias.data.copy_(torch.randn(8, generator=torch.Generator().manual_seed(3)))
    q, kv = torch.randn(2, 4, 8), torch.randn(2, 6, 8)
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[0, 4:] = True
    pad[1, 0] = True
    out["mha_cross.pad"] = pad.double()
    record(out, "mha_cross", lambda q, kv: mha(q, kv, kv, key_padding_mask=pad, need_weights=False)[0], [q, kv],
           list(mha.named_parameters()))
    # kdim / vdim differ from embed_dim; boolean attn_mask (True = not allowed); per-head weights.
    mha = nn.MultiheadAttention(6, 2, kdim=5, vdim=7)
    mha.in_proj_bias.data.normal_()
    q, k, v = torch.randn(4, 2, 6), torch.randn(3, 2, 5), torch.randn(3, 2, 7)
    block = torch.tensor([[False, True, False], [False, False, True], [True, False, False], [False, False, False]])
    out["mha_kvdim.attn_mask"] = block.double()
    record(out, "mha_kvdim", lambda q, k, v: mha(q, k, v, attn_mask=block, average_attn_weights=False), [q, k, v],
           list(mha.named_parameters()))
    # Self-attention, batch-first, fast path (no weights), is_causal through a causal attn_mask.
    mha = nn.MultiheadAttention(8, 2, batch_first=True, bias=False)
    x = torch.randn(2, 5, 8)
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    record(out, "mha_causal", lambda x: mha(x, x, x, attn_mask=causal, is_causal=True, need_weights=False)[0], [x],
           list(mha.named_parameters()))


def transformer_cases(out):
    for norm_first in (False, True):
        for act in ("relu", "gelu"):
            layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=act,
                                               batch_first=True, norm_first=norm_first)
            for p in layer.parameters():
                p.data.add_(torch.randn_like(p) * 0.1)
            layer.eval()
            x = torch.randn(2, 5, 8)
            name = f"enc_{'pre' if norm_first else 'post'}_{act}"
            record(out, name, lambda x: layer(x), [x], list(layer.named_parameters()))
    # Stacked encoder with a final norm and a key padding mask, sequence-first.
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False)
    for p in enc.parameters():
        p.data.add_(torch.randn_like(p) * 0.1)
    enc.eval()
    x = torch.randn(4, 2, 8)
    pad = torch.zeros(2, 4, dtype=torch.bool)
    pad[1, 3] = True
    out["encoder.pad"] = pad.double()
    record(out, "encoder", lambda x: enc(x, src_key_padding_mask=pad), [x], list(enc.named_parameters()))
    # Decoder layer, causal self-attention, batch-first.
    dec = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    for p in dec.parameters():
        p.data.add_(torch.randn_like(p) * 0.1)
    dec.eval()
    tgt, mem = torch.randn(2, 4, 8), torch.randn(2, 6, 8)
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(4)
    record(out, "decoder", lambda t, m: dec(t, m, tgt_mask=tgt_mask, tgt_is_causal=True), [tgt, mem],
           list(dec.named_parameters()))


def vit_case():
    import torchvision
    from safetensors.torch import save_file
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(1)
    model = torchvision.models.VisionTransformer(image_size=16, patch_size=4, num_layers=2, num_heads=2,
                                                 hidden_dim=16, mlp_dim=32, num_classes=10)
    with torch.no_grad():   # non-trivial values where torchvision starts at zero
        model.class_token.normal_()
        model.heads.head.weight.normal_(std=0.2)
        model.heads.head.bias.normal_()
        # Every other bias and every LayerNorm too (drawn from their own generator, so the input
        # and weights above stay as they were): a mis-loaded bias or swapped ln_1/ln_2 changes
        # the logits.
        g = torch.Generator().manual_seed(2)
        for name, p in model.named_parameters():
            if name.endswith("ln.weight") or name.endswith(("ln_1.weight", "ln_2.weight")):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias") and not name.startswith("heads."):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    model = model.double()
    model.eval()
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    logits = model(x)
    w = torch.randn_like(logits)
    (F.log_softmax(logits, dim=1) * w).sum().backward()
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(HERE, "vit_state.safetensors"))
    io = {"input": x.detach(), "logits": logits.detach(), "w": w, "input_grad": x.grad}
    for k, p in model.named_parameters():
        io["grad." + k] = p.grad
    save_file({k: v.float().contiguous() for k, v in io.items()}, os.path.join(HERE, "vit_io.safetensors"))
    print("wrote vit_state.safetensors, vit_io.safetensors")


if __name__ == "__main__":
    out = {}
    sdpa_cases(out)
    mha_cases(out)
    save("attention", out)
    out = {}
    transformer_cases(out)
    save("attention_transformer", out)
    vit_case()
