"""Fixtures for the stitching blocks (Tests/DeepNNTests/{Attention2d,MultiBranch,MoE}Tests.swift).

Reference implementations: torchvision's SqueezeExcitation, Inception and FeaturePyramidNetwork;
CBAM, CFPNet's EVC block, iFormer's mixer and block, and the MoE layer written out in plain
PyTorch after their papers' code (see ../shared/specs/blocks.md). Each fixture stores the
module's state dict under "<prefix>.<key>", the input(s) "x…", an output gradient "gy…", the
outputs "y…" and the gradients "grad.<name>" of (y·gy).sum() (plus the auxiliary losses for MoE).

Run: /tmp/venv/bin/python Tests/Fixtures/make_blocks.py
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.googlenet import Inception
from torchvision.ops import FeaturePyramidNetwork, SqueezeExcitation
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

import fixture_util


def save(name, tensors):
    """fixture_util.save with values rounded to 8 significant digits (float32 carries about 7), to
    keep the files small."""
    def compact(t):
        a = t.detach().to(torch.float64).reshape(-1).tolist()
        return torch.tensor([float("%.8g" % v) for v in a], dtype=torch.float64).reshape(t.shape)
    fixture_util.save(name, {k: compact(v) for k, v in tensors.items()})


def randomize(module, gen):
    """Random parameters and running statistics, so that no test passes by a default value."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for name, b in module.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)


def state(prefix, module):
    return {f"{prefix}.{k}": v.detach().float().clone() for k, v in module.state_dict().items()}


def run(prefix, module, inputs, out, gen, grads=()):
    """Forward on `inputs` (name -> leaf tensor), backward of (y·gy).sum(); records everything."""
    saved = state(prefix, module)  # before the forward (train-mode BN updates running stats)
    for t in inputs.values():
        t.requires_grad_(True)
    y = module(*inputs.values())
    ys = y if isinstance(y, (list, tuple)) else [y]
    loss = 0
    for i, yi in enumerate(ys):
        gy = torch.randn(yi.shape, generator=gen)
        out[f"{prefix}.gy{i}"] = gy
        out[f"{prefix}.y{i}"] = yi
        loss = loss + (yi * gy).sum()
    loss.backward()
    for name, t in inputs.items():
        out[f"{prefix}.{name}"] = t
        out[f"{prefix}.grad.{name}"] = t.grad
    params = dict(module.named_parameters())
    for name in grads:
        out[f"{prefix}.grad.{name}"] = params[name].grad
    out.update(saved)
    return ys


# ---------------------------------------------------------------------------------------------
# Squeeze-and-excitation and CBAM

class ChannelAttention(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // r, 1, bias=False)
        self.fc2 = nn.Conv2d(c // r, c, 1, bias=False)

    def forward(self, x):
        mlp = lambda v: self.fc2(F.relu(self.fc1(v)))
        return torch.sigmoid(mlp(F.adaptive_avg_pool2d(x, 1)) + mlp(F.adaptive_max_pool2d(x, 1)))


class SpatialAttention(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, k, padding=k // 2, bias=False)

    def forward(self, x):
        return torch.sigmoid(self.conv(torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)))


class CBAM(nn.Module):
    def __init__(self, c, r, k):
        super().__init__()
        self.channel_attention = ChannelAttention(c, r)
        self.spatial_attention = SpatialAttention(k)

    def forward(self, x):
        x = x * self.channel_attention(x)
        return x * self.spatial_attention(x)


def attention2d():
    gen = torch.Generator().manual_seed(0)
    out = {}
    se = SqueezeExcitation(16, 4)
    randomize(se, gen)
    run("se", se, {"x": torch.randn(2, 16, 5, 5, generator=gen)}, out, gen, grads=["fc1.weight", "fc2.bias"])
    cbam = CBAM(16, 4, 7)
    randomize(cbam, gen)
    run("cbam", cbam, {"x": torch.randn(2, 16, 6, 6, generator=gen)}, out, gen,
        grads=["channel_attention.fc1.weight", "spatial_attention.conv.weight"])
    cbam3 = CBAM(8, 2, 3)
    randomize(cbam3, gen)
    run("cbam3", cbam3, {"x": torch.randn(1, 8, 4, 5, generator=gen)}, out, gen)
    save("blocks_attention2d", out)


# ---------------------------------------------------------------------------------------------
# Inception and FPN (torchvision)

def multibranch():
    gen = torch.Generator().manual_seed(1)
    out = {}
    inception = Inception(8, 4, 4, 6, 2, 3, 3)
    randomize(inception, gen)
    run("inception", inception, {"x": torch.randn(2, 8, 6, 6, generator=gen)}, out, gen,
        grads=["branch3.1.conv.weight"])
    out["inception.after.branch2.0.bn.running_mean"] = inception.branch2[0].bn.running_mean
    inception_eval = Inception(8, 4, 4, 6, 2, 3, 3).eval()
    randomize(inception_eval, gen)
    run("inception_eval", inception_eval, {"x": torch.randn(2, 8, 5, 5, generator=gen)}, out, gen)

    class Pyramid(nn.Module):
        def __init__(self, fpn):
            super().__init__()
            self.fpn = fpn

        def forward(self, c3, c4, c5):
            return list(self.fpn({"c3": c3, "c4": c4, "c5": c5}).values())

    fpn = FeaturePyramidNetwork([4, 8, 16], 6, extra_blocks=LastLevelMaxPool())
    randomize(fpn, gen)
    feats = {"x0": torch.randn(2, 4, 8, 8, generator=gen), "x1": torch.randn(2, 8, 4, 4, generator=gen),
             "x2": torch.randn(2, 16, 3, 3, generator=gen)}
    run("fpn", Pyramid(fpn), feats, out, gen, grads=["fpn.inner_blocks.1.0.weight"])
    # The wrapper adds "fpn." to the keys already; drop the doubled prefix.
    for k in [k for k in out if k.startswith("fpn.fpn.")]:
        out["fpn." + k[len("fpn.fpn."):]] = out.pop(k)
    save("blocks_multibranch", out)


# ---------------------------------------------------------------------------------------------
# CFPNet EVC block (after CFPNet's code, with YOLOX's DWConv as the spec describes)

class ConvBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        m = c // 4
        bn = lambda n: nn.BatchNorm2d(n, eps=1e-6)
        self.conv1, self.bn1 = nn.Conv2d(c, m, 1, bias=False), bn(m)
        self.conv2, self.bn2 = nn.Conv2d(m, m, 3, padding=1, bias=False), bn(m)
        self.conv3, self.bn3 = nn.Conv2d(m, c, 1, bias=False), bn(c)
        self.residual_conv, self.residual_bn = nn.Conv2d(c, c, 1, bias=False), bn(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + self.residual_bn(self.residual_conv(x)))


class Encoding(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        std = 1.0 / math.sqrt(k * c)
        self.codewords = nn.Parameter(torch.empty(k, c).uniform_(-std, std))
        self.scale = nn.Parameter(torch.empty(k).uniform_(-1, 0))

    def forward(self, x):
        b, c = x.shape[:2]
        x = x.view(b, c, -1).transpose(1, 2)                                   # (B, N, C)
        resid = x.unsqueeze(2) - self.codewords.view(1, 1, *self.codewords.shape)  # (B, N, K, C)
        w = F.softmax(self.scale.view(1, 1, -1) * resid.pow(2).sum(3), dim=2)     # (B, N, K)
        return (w.unsqueeze(3) * resid).sum(1)                                  # (B, K, C)


class Mean(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return x.mean(self.dim)


class LVCBlock(nn.Module):
    def __init__(self, c, k=64):
        super().__init__()
        self.conv_1 = ConvBlock(c)
        self.LVC = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                 Encoding(c, k), nn.BatchNorm1d(k), nn.ReLU(), Mean(1))
        self.fc = nn.Sequential(nn.Linear(c, c), nn.Sigmoid())

    def forward(self, x):
        x = self.conv_1(x)
        gam = self.fc(self.LVC(x))
        return F.relu(x + x * gam.view(*gam.shape, 1, 1))


class BaseConv(nn.Module):
    def __init__(self, cin, cout, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.silu(self.bn(self.conv(x)))


class DWConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dconv = BaseConv(c, c, groups=c)
        self.pconv = BaseConv(c, c)

    def forward(self, x):
        return self.pconv(self.dconv(x))


class ConvMlp(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, h, 1), nn.Conv2d(h, c, 1)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class LightMLPBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dw = DWConv(c)
        self.norm1, self.norm2 = nn.GroupNorm(1, c), nn.GroupNorm(1, c)
        self.mlp = ConvMlp(c, 4 * c)
        self.layer_scale_1 = nn.Parameter(1e-5 * torch.ones(c))
        self.layer_scale_2 = nn.Parameter(1e-5 * torch.ones(c))

    def forward(self, x):
        x = x + self.layer_scale_1.view(-1, 1, 1) * self.dw(self.norm1(x))
        return x + self.layer_scale_2.view(-1, 1, 1) * self.mlp(self.norm2(x))


class EVCBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 7, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.lvc = LVCBlock(c)
        self.l_MLP = LightMLPBlock(c)
        self.cnv1 = nn.Conv2d(2 * c, c, 1)

    def forward(self, x):
        x1 = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 1, 1)
        return self.cnv1(torch.cat([self.lvc(x1), self.l_MLP(x1)], 1))


def evc():
    gen = torch.Generator().manual_seed(2)
    out = {}
    block = EVCBlock(8)
    randomize(block, gen)
    with torch.no_grad():  # codebook-scale residual sizes, so the soft assignment is not one-hot
        block.lvc.LVC[3].codewords.mul_(0.2)
        block.lvc.LVC[3].scale.copy_(-torch.rand(64, generator=gen) * 0.3)
    run("evc", block, {"x": torch.randn(2, 8, 6, 6, generator=gen)}, out, gen,
        grads=["lvc.LVC.3.codewords", "lvc.LVC.3.scale", "l_MLP.layer_scale_1", "conv1.weight"])
    enc = Encoding(5, 7)
    with torch.no_grad():
        enc.scale.copy_(-torch.rand(7, generator=gen))
    run("encoding", enc, {"x": torch.randn(2, 5, 3, 4, generator=gen)}, out, gen, grads=["codewords", "scale"])
    save("blocks_evc", out)


# ---------------------------------------------------------------------------------------------
# iFormer mixer and block (sail-sg/iFormer, channels-last like the original)

class HighMixer(nn.Module):
    def __init__(self, dim):
        super().__init__()
        c = dim // 2
        self.cnn_in = c
        self.conv1 = nn.Conv2d(c, 2 * c, 1, bias=False)
        self.proj1 = nn.Conv2d(2 * c, 2 * c, 3, padding=1, bias=False, groups=2 * c)
        self.proj2 = nn.Conv2d(c, 2 * c, 1)

    def forward(self, x):
        cx = F.gelu(self.proj1(self.conv1(x[:, :self.cnn_in])))
        px = F.gelu(self.proj2(F.max_pool2d(x[:, self.cnn_in:], 3, 1, 1)))
        return torch.cat((cx, px), 1)


class LowMixer(nn.Module):
    def __init__(self, dim, heads, pool):
        super().__init__()
        self.dim, self.heads, self.pool_size = dim, heads, pool
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)

    def forward(self, x):
        B = x.shape[0]
        p = self.pool_size
        xa = F.avg_pool2d(x, p, p, count_include_pad=False) if p > 1 else x
        h, w = xa.shape[2:]
        xa = xa.permute(0, 2, 3, 1).reshape(B, -1, self.dim)
        _, N, C = xa.shape
        q, k, v = self.qkv(xa).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5).softmax(-1)
        xa = (attn @ v).transpose(2, 3).reshape(B, C, N).view(B, C, h, w)
        return F.interpolate(xa, scale_factor=p, mode="nearest") if p > 1 else xa


class Mixer(nn.Module):
    def __init__(self, dim, heads, attention_heads, pool):
        super().__init__()
        hd = dim // heads
        self.low_dim = attention_heads * hd
        self.high_dim = dim - self.low_dim
        self.high_mixer = HighMixer(self.high_dim)
        self.low_mixer = LowMixer(self.low_dim, attention_heads, pool)
        f = self.low_dim + 2 * self.high_dim
        self.conv_fuse = nn.Conv2d(f, f, 3, padding=1, bias=False, groups=f)
        self.proj = nn.Conv2d(f, dim, 1)

    def forward(self, x):  # (B, H, W, C)
        x = x.permute(0, 3, 1, 2)
        y = torch.cat((self.high_mixer(x[:, :self.high_dim]), self.low_mixer(x[:, self.high_dim:])), 1)
        return self.proj(y + self.conv_fuse(y)).permute(0, 2, 3, 1)


class Block(nn.Module):
    def __init__(self, dim, heads, attention_heads, pool, layer_scale):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Mixer(dim, heads, attention_heads, pool)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.layer_scale = layer_scale
        if layer_scale:
            self.layer_scale_1 = nn.Parameter(torch.ones(dim))
            self.layer_scale_2 = nn.Parameter(torch.ones(dim))

    def forward(self, x):  # (B, H, W, C)
        a = self.attn(self.norm1(x))
        x = x + (self.layer_scale_1 * a if self.layer_scale else a)
        m = self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))
        return x + (self.layer_scale_2 * m if self.layer_scale else m)


class ChannelsFirst(nn.Module):
    """Runs a channels-last module on (B, C, H, W) input, so fixtures match the Swift layout."""
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def iformer():
    gen = torch.Generator().manual_seed(3)
    out = {}
    for prefix, module, shape in [
        ("mixer", Mixer(16, 2, 1, 2), (2, 16, 4, 6)),
        ("mixer_pool1", Mixer(24, 3, 2, 1), (1, 24, 3, 3)),
        ("block", Block(16, 4, 2, 2, layer_scale=True), (2, 16, 4, 4)),
    ]:
        randomize(module, gen)
        wrapped = ChannelsFirst(module)
        run(prefix, wrapped, {"x": torch.randn(*shape, generator=gen)}, out, gen)
        for k in [k for k in out if k.startswith(prefix + ".inner.")]:
            out[prefix + "." + k[len(prefix + ".inner."):]] = out.pop(k)
    save("blocks_iformer", out)


# ---------------------------------------------------------------------------------------------
# Mixture of experts (top-k, renormalised gates, capacity by choice rank then token order)

class Expert(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.l0, self.l2 = nn.Linear(d, h), nn.Linear(h, d)

    def forward(self, x):
        return self.l2(F.gelu(self.l0(x)))


def moe_forward(x, gate_w, experts, k, capacity):
    d = x.shape[-1]
    tokens = x.reshape(-1, d)
    t, e = tokens.shape[0], len(experts)
    logits = tokens @ gate_w.T
    p = logits.softmax(-1)
    top_p, top_i = torch.topk(p, k, dim=1)
    gates = top_p / top_p.sum(1, keepdim=True) if k > 1 else top_p
    kept = torch.ones(t, k, dtype=torch.bool)
    if capacity is not None:
        load = [0] * e
        for j in range(k):
            for i in range(t):
                ex = int(top_i[i, j])
                if load[ex] < capacity:
                    load[ex] += 1
                else:
                    kept[i, j] = False
    rows = []
    for i in range(t):
        acc = torch.zeros(d)
        for j in range(k):
            if kept[i, j]:
                acc = acc + gates[i, j] * experts[int(top_i[i, j])](tokens[i:i + 1])[0]
        rows.append(acc)
    y = torch.stack(rows).reshape(x.shape)
    f = F.one_hot(top_i, e).sum(1).float().mean(0)
    aux = e * (f * p.mean(0)).sum()
    z = torch.logsumexp(logits, 1).pow(2).mean()
    return y, aux, z, top_i, kept


def moe():
    gen = torch.Generator().manual_seed(4)
    out = {}
    d, h, e = 6, 8, 4
    for prefix, k, capacity_factor, shape in [("top2", 2, 1.0, (2, 5, d)), ("top1", 1, 1.25, (7, d)),
                                              ("top3", 3, None, (2, 3, d))]:
        experts = nn.ModuleList([Expert(d, h) for _ in range(e)])
        randomize(experts, gen)
        gate_w = (torch.randn(e, d, generator=gen) * 0.8).requires_grad_(True)
        x = torch.randn(*shape, generator=gen).requires_grad_(True)
        t = x.numel() // d
        capacity = None if capacity_factor is None else math.ceil(capacity_factor * t * k / e)
        y, aux, z, top_i, kept = moe_forward(x, gate_w, experts, k, capacity)
        gy = torch.randn(y.shape, generator=gen)
        ((y * gy).sum() + 0.7 * aux + 0.3 * z).backward()
        out.update({f"{prefix}.x": x, f"{prefix}.gate.weight": gate_w, f"{prefix}.y": y, f"{prefix}.gy": gy,
                    f"{prefix}.aux": aux, f"{prefix}.z": z, f"{prefix}.experts": top_i, f"{prefix}.kept": kept.float(),
                    f"{prefix}.grad.x": x.grad, f"{prefix}.grad.gate.weight": gate_w.grad,
                    f"{prefix}.grad.experts.1.0.weight": experts[1].l0.weight.grad})
        for i, ex in enumerate(experts):
            out[f"{prefix}.experts.{i}.0.weight"] = ex.l0.weight
            out[f"{prefix}.experts.{i}.0.bias"] = ex.l0.bias
            out[f"{prefix}.experts.{i}.2.weight"] = ex.l2.weight
            out[f"{prefix}.experts.{i}.2.bias"] = ex.l2.bias
        out[f"{prefix}.capacity"] = torch.tensor(float(capacity if capacity is not None else -1))
    save("blocks_moe", out)


if __name__ == "__main__":
    torch.manual_seed(0)
    attention2d()
    multibranch()
    evc()
    iformer()
    moe()
