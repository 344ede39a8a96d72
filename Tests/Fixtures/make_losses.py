"""Reference values for DeepNN's losses: value and gradient with respect to the scores."""
import torch
import torch.nn.functional as F
from fixture_util import save

torch.manual_seed(0)
out = {}


def record(name, fn, x, **extra):
    x = x.clone().requires_grad_(True)
    y = fn(x)
    w = torch.randn_like(y) if y.dim() else torch.tensor(1.0)
    (y * w).sum().backward()
    out[name + ".x"], out[name + ".y"], out[name + ".w"], out[name + ".grad"] = x, y, w, x.grad
    for k, v in extra.items():
        out[name + "." + k] = v


logits = torch.randn(6, 5) * 2
labels = torch.tensor([0, 4, 2, 2, 1, 3])
cw = torch.tensor([1.0, 2.0, 0.5, 1.5, 0.7])
out["labels"] = labels.float()
out["class_weight"] = cw
record("ce", lambda x: F.cross_entropy(x, labels), logits)
record("ce_smooth_weight_ignore", lambda x: F.cross_entropy(x, torch.tensor([0, 4, -100, 2, 1, 3]), weight=cw,
       label_smoothing=0.1), logits)
record("ce_sum", lambda x: F.cross_entropy(x, labels, reduction="sum"), logits)
record("ce_none", lambda x: F.cross_entropy(x, labels, reduction="none", label_smoothing=0.2), logits)
probs = torch.softmax(torch.randn(6, 5), 1)
out["probs"] = probs
record("ce_probs", lambda x: F.cross_entropy(x, probs, label_smoothing=0.1, weight=cw), logits)
seg = torch.randn(2, 3, 2, 2)
seg_labels = torch.tensor([[[0, 1], [2, 1]], [[2, 2], [0, 1]]])
out["seg_labels"] = seg_labels.float()
record("ce_seg", lambda x: F.cross_entropy(x, seg_labels), seg)
record("nll", lambda x: F.nll_loss(torch.log_softmax(x, 1), labels, weight=cw), logits)
target = torch.randn(3, 4)
out["target"] = target
pred = torch.randn(3, 4)
record("mse", lambda x: F.mse_loss(x, target), pred)
record("l1", lambda x: F.l1_loss(x, target, reduction="sum"), pred)
record("smooth_l1", lambda x: F.smooth_l1_loss(x, target, beta=0.5), pred * 0.5)
bt = torch.rand(3, 4).round()
out["bce_target"] = bt
pw = torch.tensor([1.0, 2.0, 3.0, 0.5])
out["pos_weight"] = pw
record("bce", lambda x: F.binary_cross_entropy_with_logits(x, bt, pos_weight=pw), pred * 3)
kt = torch.softmax(torch.randn(3, 4), 1)
out["kl_target"] = kt
record("kl", lambda x: F.kl_div(torch.log_softmax(x, 1), kt, reduction="batchmean"), pred)
# CLIP's loss (open_clip ClipLoss): logits = exp(s) I Tᵀ, mean of the two cross-entropies.
img = F.normalize(torch.randn(4, 6), dim=1)
txt = F.normalize(torch.randn(4, 6), dim=1)
scale = torch.tensor(2.3)
clip_targets = torch.tensor([[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
out["clip_text"], out["clip_image"], out["clip_scale"], out["clip_targets"] = txt, img, scale, clip_targets


def clip(i, t, targets=None):
    logits = scale.exp() * i @ t.T
    target = torch.arange(4) if targets is None else targets
    second = target if targets is None else targets.T
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, second)) / 2


record("clip", lambda x: clip(x, txt), img)
record("clip_wrt_text", lambda x: clip(img, x), txt)
record("clip_soft", lambda x: clip(x, txt, clip_targets), img)
save("losses", out)
