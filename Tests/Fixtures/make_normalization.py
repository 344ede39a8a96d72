"""Reference values for DeepCore's normalisation ops (layer/rms/group/batch norm)."""
import torch
import torch.nn.functional as F
from fixture_util import save

torch.manual_seed(0)
out = {}


def record(name, fn, *inputs):
    ins = [t.clone().requires_grad_(True) for t in inputs]
    y = fn(*ins)
    w = torch.randn_like(y)
    (y * w).sum().backward()
    out[name + ".w"] = w
    out[name + ".y"] = y
    for i, t in enumerate(ins):
        out[f"{name}.in{i}"] = t
        out[f"{name}.grad{i}"] = t.grad


x = torch.randn(3, 4, 5) * 2 + 1
g, b = torch.randn(4, 5), torch.randn(4, 5)
record("layer_norm", lambda x, g, b: F.layer_norm(x, (4, 5), g, b, 1e-5), x, g, b)
record("layer_norm_noaffine", lambda x: F.layer_norm(x, (5,), None, None, 1e-5), x)
g5 = torch.randn(5)
record("rms_norm", lambda x, g: F.rms_norm(x, (5,), g), x, g5)

xg = torch.randn(2, 6, 3, 2) * 3 - 1
gc, bc = torch.randn(6), torch.randn(6)
record("group_norm", lambda x, g, b: F.group_norm(x, 3, g, b, 1e-5), xg, gc, bc)

rm, rv = torch.randn(6) * 0.1, torch.rand(6) + 0.5
rm_t, rv_t = rm.clone(), rv.clone()
record("batch_norm_train", lambda x, g, b: F.batch_norm(x, rm_t, rv_t, g, b, True, 0.1, 1e-5), xg, gc, bc)
out["batch_norm_train.running_mean_before"] = rm
out["batch_norm_train.running_var_before"] = rv
out["batch_norm_train.running_mean_after"] = rm_t
out["batch_norm_train.running_var_after"] = rv_t
record("batch_norm_eval", lambda x, g, b: F.batch_norm(x, rm, rv, g, b, False, 0.1, 1e-5), xg, gc, bc)
save("normalization", out)
