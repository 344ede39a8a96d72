"""Weights of whole training runs under schedules, for PyTorchTrajectoryTests.swift.

1. The least-squares problem of make_optim.py (same seed, same A, y, W0), several steps of
   SGD (momentum, Nesterov, plain), Adam, AdamW and RMSprop under OneCycleLR (momentum or beta1
   cycled, PyTorch's default) and under ReduceLROnPlateau stepped with the loss; and runs whose
   group hyper-parameters (betas, eps, weight decay, momentum, dampening, nesterov) are changed by
   hand between steps, as `param_groups` allow. Weights after every step, and each step's lr and
   momentum/beta1.
2. The issue's acceptance run: 5 steps of AdamW + OneCycleLR (default cycle_momentum) on a small
   CNN with BatchNorm, from PyTorch's initial weights (saved here), on fixed batches: the initial
   and final state dicts, running statistics included. The convolution has no bias: BatchNorm
   cancels it, so its gradient is rounding noise that Adam would scale up to steps of about lr.
"""
import torch
from fixture_util import save

S = torch.optim.lr_scheduler

torch.manual_seed(0)
A, y = torch.randn(6, 4), torch.randn(6, 3)
W0 = torch.randn(4, 3)
out = {"A": A, "y": y, "W0": W0}


def lstsq_loss(W):
    return ((A @ W - y) ** 2).sum()


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups][0]


def run(name, make_opt, make_sched, steps, plateau=False, edit=None):
    W = W0.clone().requires_grad_(True)
    opt = make_opt([W])
    sched = make_sched(opt)
    for step in range(steps):
        if edit is not None:
            edit(step, opt.param_groups[0])
        out[f"{name}.lr.{step}"] = torch.tensor([opt.param_groups[0]["lr"], momenta(opt)], dtype=torch.float64)
        opt.zero_grad()
        loss = lstsq_loss(W)
        loss.backward()
        opt.step()
        if sched is not None:
            if plateau:
                sched.step(loss.item())
            else:
                sched.step()
        out[f"{name}.{step}"] = W.detach().clone()


onecycle = lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=10)
run("sgd_nesterov_onecycle", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), onecycle, 10)
run("sgd_momentum_onecycle", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=10, anneal_strategy="linear", three_phase=True), 10)
run("sgd_plain_onecycle", lambda p: torch.optim.SGD(p, lr=0.05), onecycle, 10)
run("adam_onecycle", lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.5), onecycle, 10)
run("adamw_onecycle", lambda p: torch.optim.AdamW(p, lr=0.05), onecycle, 10)
run("adamw_amsgrad_onecycle", lambda p: torch.optim.AdamW(p, lr=0.05, amsgrad=True),
    lambda o: S.OneCycleLR(o, max_lr=0.08, total_steps=10, pct_start=0.4, base_momentum=0.7, max_momentum=0.9), 10)
run("rmsprop_onecycle", lambda p: torch.optim.RMSprop(p, lr=0.01), lambda o: S.OneCycleLR(o, max_lr=0.01, total_steps=10), 10)

plateau = lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=0.2)
run("sgd_momentum_plateau", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), plateau, 12, plateau=True)
run("sgd_nesterov_plateau", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True), plateau, 12, plateau=True)
eager_plateau = lambda threshold: lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=0, threshold=threshold, cooldown=1)
run("adam_plateau", lambda p: torch.optim.Adam(p, lr=0.1), eager_plateau(0.125), 12, plateau=True)
run("adamw_plateau", lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.1), eager_plateau(0.15), 12, plateau=True)


def edit_adam(step, g):
    if step == 3:
        g["betas"] = (0.7, 0.95)
        g["eps"] = 1e-3
        g["weight_decay"] = 0.2
    if step == 6:
        g["lr"] = 0.02


def edit_sgd(step, g):
    if step == 2:
        g["momentum"] = 0.5
        g["dampening"] = 0.3
    if step == 5:
        g["dampening"] = 0.0
        g["nesterov"] = True
        g["weight_decay"] = 0.05


run("adam_edited", lambda p: torch.optim.Adam(p, lr=0.05), lambda o: None, 9, edit=edit_adam)
run("sgd_edited", lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9), lambda o: None, 9, edit=edit_sgd)
save("trajectory", out)

# The acceptance run: a small CNN with BatchNorm, AdamW + OneCycleLR, 5 steps.
torch.manual_seed(1)
model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 4, 3, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Flatten(), torch.nn.Linear(36, 3))
cnn = {f"initial.{k}": v.clone() for k, v in model.state_dict().items()}
inputs, labels = torch.randn(5, 8, 1, 8, 8), torch.randint(0, 3, (5, 8))
cnn["inputs"], cnn["labels"] = inputs, labels
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
scheduler = S.OneCycleLR(optimizer, max_lr=0.01, total_steps=5)
model.train()
for step in range(5):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(inputs[step]), labels[step])
    loss.backward()
    optimizer.step()
    scheduler.step()
    cnn[f"loss.{step}"] = loss.detach()
cnn.update({f"final.{k}": v.clone() for k, v in model.state_dict().items()})
save("trajectory_cnn", cnn)
