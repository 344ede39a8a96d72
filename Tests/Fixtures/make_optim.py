"""Parameter trajectories of torch.optim optimisers on a small least-squares problem."""
import torch
from fixture_util import save

torch.manual_seed(0)
A, y = torch.randn(6, 4), torch.randn(6, 3)
W0 = torch.randn(4, 3)
out = {"A": A, "y": y, "W0": W0}

configs = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.01),
    "adam_amsgrad": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.9), amsgrad=True),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.05),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01),
    "rmsprop_centered": lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
}
for name, make in configs.items():
    W = W0.clone().requires_grad_(True)
    opt = make([W])
    for step in range(5):
        opt.zero_grad()
        loss = ((A @ W - y) ** 2).sum()
        loss.backward()
        opt.step()
        out[f"{name}.{step}"] = W.detach().clone()
save("optim", out)
