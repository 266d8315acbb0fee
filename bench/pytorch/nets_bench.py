"""PyTorch CPU baseline for bench/nets.ts: the same networks and the same
energy-model train step, timed single-threaded.

Train step (identical to bench/nets.ts):
    F = net(c_noise, x, beta);  U = sum_b <F_b, x_b>
    g = dU/dx  (torch.autograd.grad, create_graph=True)
    loss = mean_b( |g_b|^2 + |F_b|^2 );  loss.backward();  Adam(lr 1e-3).step()

Networks follow src/nets (spec §3.2, §3.3): the EGNN is the reference's
edge-list E_GCL (gather + index_add over the n(n-1) ordered pairs), the DiT is
DIT3D without dropout, with torchtune-convention RoPE written out.

Usage: /usr/bin/python3 bench/pytorch/nets_bench.py WORKLOAD [--steps N] [--device cpu|cuda] [--threads N]
WORKLOAD: mlp | egnn64 | egnn256 | dit256 (CPU rows); egnn512 | mlp512 | ditfull2048 | anneal5000
(GPU rows, src/bench/steps.ts; anneal5000 times U, dU/dx, dU/dsigma of the energy model).
On cuda the time is taken after torch.cuda.synchronize(). Prints one JSON line; steps_per_s is
from the fastest timed step (robust to other load on a shared machine),
steps_per_s_median from the median step.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as Fn


class Mlp(nn.Module):
    def __init__(self, dim, hidden, layers, cond):
        super().__init__()
        inp = dim + 1 + (1 if cond else 0)
        mods = []
        for i in range(layers):
            mods += [nn.Linear(inp if i == 0 else hidden, hidden), nn.SiLU()]
        mods.append(nn.Linear(hidden, dim))
        self.net = nn.Sequential(*mods)

    def forward(self, c, x, beta):
        parts = [x, c] + ([beta] if beta is not None else [])
        return self.net(torch.cat(parts, dim=1))


class EGCL(nn.Module):
    def __init__(self, h, last, coords_range):
        super().__init__()
        self.edge = nn.Sequential(nn.Linear(2 * h + 2, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU())
        self.att = nn.Sequential(nn.Linear(h, 1), nn.Sigmoid())
        w = nn.Linear(h, 1, bias=False)
        nn.init.xavier_uniform_(w.weight, gain=0.001)
        self.coord = nn.Sequential(nn.Linear(h, h), nn.SiLU(), w, nn.Tanh())
        self.node = None if last else nn.Sequential(nn.Linear(2 * h, h), nn.SiLU(), nn.Linear(h, h))
        self.coords_range = coords_range

    def forward(self, h, x, row, col, a):
        diff = x[row] - x[col]
        r = (diff ** 2).sum(1, keepdim=True)
        diff = diff / (torch.sqrt(r + 1e-8) + 1)
        m = self.edge(torch.cat([h[row], h[col], r, a], dim=1))
        m = m * self.att(m)
        trans = diff * self.coord(m) * self.coords_range
        x = x + torch.zeros_like(x).index_add_(0, row, trans)
        if self.node is not None:
            agg = torch.zeros_like(h).index_add_(0, row, m)
            h = h + self.node(torch.cat([h, agg], dim=1))
        return h, x


class Egnn(nn.Module):
    def __init__(self, n, d, hidden, layers, cond):
        super().__init__()
        self.n, self.d = n, d
        self.embed = nn.Linear(2 if cond else 1, hidden)
        self.layers = nn.ModuleList([EGCL(hidden, l == layers - 1, 15.0 / layers) for l in range(layers)])
        pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
        self.register_buffer("row0", torch.tensor([p[0] for p in pairs]))
        self.register_buffer("col0", torch.tensor([p[1] for p in pairs]))

    def forward(self, c, xs, beta):
        b = xs.shape[0]
        off = (torch.arange(b, device=xs.device) * self.n).repeat_interleave(len(self.row0))
        row, col = self.row0.repeat(b) + off, self.col0.repeat(b) + off
        x0 = xs.reshape(b * self.n, self.d)
        f = c if beta is None else torch.cat([c, beta], dim=1)
        h = self.embed(f).repeat_interleave(self.n, dim=0)
        a = ((x0[row] - x0[col]) ** 2).sum(1, keepdim=True)
        x = x0
        for layer in self.layers:
            h, x = layer(h, x, row, col, a)
        v = (x - x0).reshape(b, self.n, self.d)
        v = v - v.mean(1, keepdim=True)
        return v.reshape(b, self.n * self.d)


def sinusoidal(t, dim=256, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Embedder(nn.Module):
    def __init__(self, cond):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(256, cond), nn.SiLU(), nn.Linear(cond, cond))

    def forward(self, t):
        return self.mlp(sinusoidal(t))


class Norm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return Fn.layer_norm(x, [x.shape[-1]]) * self.weight


def rope(x, base=10000):
    """torchtune convention: pairs (2k, 2k+1) rotated by p * base^(-2k/dh); x [b, s, heads, dh]."""
    s, dh = x.shape[1], x.shape[-1]
    theta = base ** (-torch.arange(0, dh, 2, dtype=torch.float32, device=x.device) / dh)
    ang = torch.arange(s, dtype=torch.float32, device=x.device)[:, None] * theta[None]
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
    xs = x.reshape(*x.shape[:-1], dh // 2, 2)
    x0, x1 = xs[..., 0], xs[..., 1]
    return torch.stack([x0 * cos - x1 * sin, x1 * cos + x0 * sin], -1).reshape(x.shape)


class Block(nn.Module):
    def __init__(self, h, heads, cond, ratio):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = Norm(h), Norm(h)
        self.qkv = nn.Linear(h, 3 * h, bias=False)
        self.out = nn.Linear(h, h, bias=False)
        self.mlp = nn.Sequential(nn.Linear(h, ratio * h), nn.GELU(approximate="tanh"), nn.Linear(ratio * h, h))
        self.adaln = nn.Linear(cond, 6 * h)
        nn.init.zeros_(self.adaln.weight)
        nn.init.zeros_(self.adaln.bias)

    def forward(self, x, c):
        b, s, h = x.shape
        sa, ca, ga, sm, cm, gm = self.adaln(c)[:, None].chunk(6, dim=2)
        y = self.norm1(x) * (1 + ca) + sa
        qkv = self.qkv(y).reshape(b, s, 3, self.heads, h // self.heads)
        q, k, v = rope(qkv[:, :, 0]), rope(qkv[:, :, 1]), qkv[:, :, 2]
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(h // self.heads), dim=-1)
        o = (w @ v).transpose(1, 2).reshape(b, s, h)
        x = x + ga * self.out(o)
        return x + gm * self.mlp(self.norm2(x) * (1 + cm) + sm)


class Dit(nn.Module):
    def __init__(self, n, d, hidden, blocks, heads, cond, cond_on_t):
        super().__init__()
        self.n, self.d = n, d
        self.embed = nn.Linear(d, hidden)
        self.time = Embedder(cond)
        self.beta = Embedder(cond) if cond_on_t else None
        self.blocks = nn.ModuleList([Block(hidden, heads, cond, 4) for _ in range(blocks)])
        self.norm = Norm(hidden)
        self.adaln = nn.Linear(cond, 2 * hidden)
        self.linear = nn.Linear(hidden, d)
        for p in (self.adaln.weight, self.adaln.bias, self.linear.weight, self.linear.bias):
            nn.init.zeros_(p)

    def forward(self, c, xs, beta):
        b = xs.shape[0]
        e = self.time(c)
        if self.beta is not None:
            e = e + self.beta(beta)
        cc = Fn.silu(e)
        x = self.embed(xs.reshape(b, self.n, self.d))
        for blk in self.blocks:
            x = blk(x, cc)
        shift, scale = self.adaln(cc)[:, None].chunk(2, dim=2)
        return self.linear(self.norm(x) * (1 + scale) + shift).reshape(b, -1)


WORKLOADS = {
    "mlp": (lambda: Mlp(39, 128, 2, True), 512, 39, True),
    "egnn64": (lambda: Egnn(13, 3, 32, 3, True), 64, 39, True),
    "egnn256": (lambda: Egnn(13, 3, 32, 3, True), 256, 39, True),
    "dit256": (lambda: Dit(22, 3, 64, 2, 2, 64, False), 256, 66, False),
    # The GPU rows (src/bench/steps.ts): same step, larger batches, the paper's DiT.
    "egnn512": (lambda: Egnn(13, 3, 32, 3, True), 512, 39, True),
    "mlp512": (lambda: Mlp(39, 128, 2, True), 512, 39, True),
    "ditfull2048": (lambda: Dit(22, 3, 192, 6, 6, 64, True), 2048, 66, True),
    # Annealing evaluation: U, dU/dx and dU/dsigma of the energy model (src/diffusion/models.ts energy()).
    "anneal5000": (lambda: Egnn(13, 3, 32, 3, True), 5000, 39, True),
}


def energy_model(net, x, sigma, beta):
    """U_theta(x, sigma, beta) per row, as src/diffusion/models.ts energy()."""
    c_in = 1 / torch.sqrt(sigma ** 2 + 1)
    x_in = x * c_in
    f = net(torch.log(sigma) * 0.25, x_in, beta)
    quadratic = (x ** 2).sum(1, keepdim=True) / ((sigma ** 2 + 1) * 2)
    return quadratic - (f * x_in).sum(1, keepdim=True) / sigma


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=sorted(WORKLOADS))
    ap.add_argument("--steps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=None, help="override the workload's batch size")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    make, batch, dim, cond = WORKLOADS[args.workload]
    batch = args.batch or batch
    net = make().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(batch, dim, device=dev)
    c = torch.randn(batch, 1, device=dev)
    beta = torch.rand(batch, 1, device=dev) * 0.5 + 0.5 if cond else None
    sigma = torch.exp(-3 + 3 * torch.rand(batch, 1, device=dev))

    def anneal_step():
        xv = x.clone().requires_grad_(True)
        sv = sigma.clone().requires_grad_(True)
        u = energy_model(net, xv, sv, beta)
        gx, gs = torch.autograd.grad(u.sum(), (xv, sv))
        return u.sum().item() + gx[0, 0].item() + gs[0, 0].item()

    def step():
        xv = x.clone().requires_grad_(True)
        f = net(c, xv, beta)
        u = (f * xv).sum()
        (g,) = torch.autograd.grad(u, xv, create_graph=True)
        loss = ((g ** 2).sum(1) + (f ** 2).sum(1)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    run = anneal_step if args.workload.startswith("anneal") else step
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        run()
    sync()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        run()  # .item() reads the result back, as pita's step does
        sync()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "workload": args.workload,
        "batch": batch,
        "step_s_median": med,
        "step_s_min": min(times),
        "steps_per_s": 1 / min(times),
        "steps_per_s_median": 1 / med,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "params": sum(p.numel() for p in net.parameters()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": args.device,
        "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2 ** 20 if args.device == "cuda" else None,
    }))


if __name__ == "__main__":
    sys.exit(main())
