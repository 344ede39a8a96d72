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


# Schedules: 24 steps of each, recording every group's rate and momentum (SGD's momentum, or
# Adam's beta1) after construction and after each step, as PyTorch sets them.
S = torch.optim.lr_scheduler
SCHEDULE_STEPS = 24


def sgd(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def adam(params):
    return torch.optim.Adam(params, lr=0.1)


def two_groups(make_opt):
    return lambda _: make_opt([{"params": [torch.zeros(1, requires_grad=True)]},
                               {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.05}])


def one_group(make_opt):
    return lambda _: make_opt([torch.zeros(1, requires_grad=True)])


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


# A metric for ReduceLROnPlateau: falls, stalls, rises, falls again.
PLATEAU_METRIC = [1.0, 0.8, 0.79, 0.795, 0.78, 0.7, 0.69, 0.695, 0.7, 0.71, 0.5, 0.5, 0.49, 0.6, 0.6,
                  0.6, 0.3, 0.31, 0.32, 0.33, 0.34, 0.2, 0.2, 0.2]


def trajectory(make_opt, make_sched, plateau=False):
    opt = make_opt(None)
    sched = make_sched(opt)
    rates, moms, states = [[g["lr"] for g in opt.param_groups]], [momenta(opt)], []
    for step in range(SCHEDULE_STEPS):
        opt.step()
        if plateau:
            sched.step(PLATEAU_METRIC[step])
            states.append([sched.best, sched.num_bad_epochs, sched.cooldown_counter])
        else:
            sched.step()
        rates.append([g["lr"] for g in opt.param_groups])
        moms.append(momenta(opt))
    out = {"lr": torch.tensor(rates, dtype=torch.float64), "momentum": torch.tensor(moms, dtype=torch.float64)}
    if plateau:
        out["state"] = torch.tensor(states, dtype=torch.float64)
    return out


def lambda_factor(e):
    return 0.9 ** e if e < 10 else 0.5 / (e - 8)


sched = {
    "step_lr": (sgd, lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
    "multistep_lr": (sgd, lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3)),
    "constant_lr": (sgd, lambda o: S.ConstantLR(o, factor=0.25, total_iters=4)),
    "cosine_lr": (sgd, lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    "linear_lr": (sgd, lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4)),
    "exponential_lr": (sgd, lambda o: S.ExponentialLR(o, gamma=0.85)),
    "polynomial_lr": (sgd, lambda o: S.PolynomialLR(o, total_iters=15, power=2.0)),
    "warm_restarts": (sgd, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01)),
    "warm_restarts_fixed": (sgd, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5)),
    "lambda_lr": (sgd, lambda o: S.LambdaLR(o, lambda_factor)),
    "onecycle_lr": (sgd, lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=24)),
    "onecycle_adam": (adam, lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=24)),
    "onecycle_linear_three_phase": (adam, lambda o: S.OneCycleLR(
        o, max_lr=0.3, total_steps=24, pct_start=0.25, anneal_strategy="linear", base_momentum=0.8,
        max_momentum=0.9, div_factor=10.0, final_div_factor=100.0, three_phase=True)),
    "onecycle_no_momentum": (sgd, lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=24, cycle_momentum=False)),
    "onecycle_groups": (two_groups(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)), lambda o: S.OneCycleLR(
        o, max_lr=[0.5, 0.1], total_steps=24, base_momentum=[0.85, 0.8], max_momentum=[0.95, 0.9])),
    "warmup_cosine_lr": (sgd, lambda o: S.SequentialLR(o, [
        S.LinearLR(o, start_factor=0.01, total_iters=3),
        S.CosineAnnealingLR(o, T_max=9)], milestones=[3])),
    "sequential_three": (sgd, lambda o: S.SequentialLR(o, [
        S.ConstantLR(o, factor=0.5, total_iters=2),
        S.ExponentialLR(o, gamma=0.9),
        S.CosineAnnealingWarmRestarts(o, T_0=4, eta_min=0.02)], milestones=[4, 11])),
    "chained": (sgd, lambda o: S.ChainedScheduler([
        S.ConstantLR(o, factor=0.1, total_iters=4), S.ExponentialLR(o, gamma=0.9)])),
    "chained_cosine": (sgd, lambda o: S.ChainedScheduler([
        S.LinearLR(o, start_factor=0.2, total_iters=5), S.CosineAnnealingLR(o, T_max=20, eta_min=0.001)])),
}
plateaus = {
    "plateau_min_rel": (two_groups(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)), lambda o: S.ReduceLROnPlateau(
        o, factor=0.5, patience=1, threshold=0.05, cooldown=1, min_lr=[0.01, 0.02])),
    "plateau_max_abs": (adam, lambda o: S.ReduceLROnPlateau(
        o, mode="max", factor=0.3, patience=0, threshold=0.01, threshold_mode="abs", min_lr=0.001, eps=1e-3)),
    "plateau_default": (sgd, lambda o: S.ReduceLROnPlateau(o, patience=2)),
}
fixtures = {}
for name, (make_opt, make_sched) in list(sched.items()) + list(plateaus.items()):
    opt_maker = one_group(make_opt) if make_opt in (sgd, adam) else make_opt
    for key, value in trajectory(opt_maker, make_sched, plateau=name in plateaus).items():
        fixtures[name if key == "lr" else f"{name}.{key}"] = value
fixtures["plateau_metric"] = torch.tensor(PLATEAU_METRIC, dtype=torch.float64)
save("schedulers", fixtures)
