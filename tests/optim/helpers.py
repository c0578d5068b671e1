"""Shared test utilities: random problems and a driver that steps an optimizer and a reference."""

from __future__ import annotations

import math

import torch

SHAPES = [(7, 5), (11,), (1,), (3, 4, 2)]


def random_params(seed: int = 0, dtype=torch.float64, shapes=SHAPES) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=torch.float64).to(dtype).requires_grad_() for s in shapes]


def random_grads(params, step: int, seed: int = 1, scale: float = 1.0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed * 1000 + step)
    return [scale * torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype) for p in params]


def lr_at(step: int, peak: float, total: int) -> float:
    """Warmup then cosine to 10%, so that s(t) = lr/peak changes every step."""
    warm = max(1, total // 5)
    if step < warm:
        return peak * (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def run(opt, params, steps: int, peak: float, seed: int = 1, scale: float = 1.0, schedule: bool = True):
    """Step ``opt`` with random gradients and a changing lr; returns the [(lr, grads)] it used."""
    history = []
    for t in range(steps):
        lr = lr_at(t, peak, steps) if schedule else peak
        for group in opt.param_groups:
            group["lr"] = lr
        grads = random_grads(params, t, seed, scale)
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
        history.append((lr, grads))
    return history


# --- small problems with gradients in closed form (fast constant-lr convergence checks) -------------------
H = torch.logspace(0, 2, 10, dtype=torch.float64)  # curvatures 1 … 100: condition number 100
X_STAR = torch.linspace(-1.0, 1.0, 10, dtype=torch.float64)


def quadratic_grad(x):  # f = ½ Σ h·(x − x*)²
    return H * (x - X_STAR)


def rosenbrock_grad(x):  # f = (1 − a)² + 100·(b − a²)², minimum at (1, 1)
    a, b = x
    return torch.stack([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])


def minimise(cls, grad, x0, steps, **kw):
    """Run optimizer class ``cls`` on one parameter with a constant lr; returns the final point."""
    x = x0.clone().requires_grad_()
    opt = cls([x], **kw)
    for _ in range(steps):
        x.grad = grad(x.detach())
        opt.step()
    return x.detach()


class TinyDecoder(torch.nn.Module):
    """Just enough of a decoder for role routing: layers.0.attn.q_proj and layers.0.mlp.up_proj."""

    def __init__(self):
        super().__init__()
        block = torch.nn.Module()
        block.attn, block.mlp = torch.nn.Module(), torch.nn.Module()
        block.attn.q_proj = torch.nn.Linear(4, 4, bias=False)
        block.mlp.up_proj = torch.nn.Linear(4, 8, bias=False)
        self.layers = torch.nn.ModuleList([block])


def cosine_quadratic_distance(name, steps=400, lr=3e-2, **kw):
    """Build registry optimizer ``name`` on a 10-dim quadratic (condition number 10), run ``steps`` steps
    of cosine decay to zero, and return the final distance to the optimum."""
    import math

    from optarena import optim

    torch.manual_seed(0)
    target = torch.randn(10, dtype=torch.float64)
    h = torch.logspace(0, 1, 10, dtype=torch.float64)
    x = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    opt = optim.create(name, [x], lr=lr, **kw)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / steps)))
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * (h * (x - target) ** 2).sum()).backward()
        opt.step()
        sched.step()
    return (x.detach() - target).norm().item()
