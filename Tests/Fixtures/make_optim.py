"""Parameter trajectories of torch.optim optimisers on a small least-squares problem.

Five steps each, twelve for Adam: its early steps move each weight by about lr·sign(g) whatever
the weight decay, so its decay (0.5) shows only later: replayed without it, the trajectory leaves
the test's tolerance (1e-5 + 1e-4·|w|) from the second step on, by over 100 times from the seventh.
"""
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
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.5),
    "adam_amsgrad": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.9), amsgrad=True),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.05),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01),
    "rmsprop_centered": lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
}
STEPS = {"adam": 12}
for name, make in configs.items():
    W = W0.clone().requires_grad_(True)
    opt = make([W])
    for step in range(STEPS.get(name, 5)):
        opt.zero_grad()
        loss = ((A @ W - y) ** 2).sum()
        loss.backward()
        opt.step()
        out[f"{name}.{step}"] = W.detach().clone()
save("optim", out)


def lrs(make_sched, steps=12):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make_sched(opt)
    seq = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append(opt.param_groups[0]["lr"])
    return torch.tensor(seq, dtype=torch.float64)


sched = {
    "step_lr": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    "multistep_lr": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.3),
    "cosine_lr": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "linear_lr": lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4),
    "onecycle_lr": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=13),
    "warmup_cosine_lr": lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
        torch.optim.lr_scheduler.LinearLR(o, start_factor=0.01, total_iters=3),
        torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=9)], milestones=[3]),
}
save("schedulers", {k: lrs(v) for k, v in sched.items()})
