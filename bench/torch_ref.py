"""The standard workloads of shared/API.md in PyTorch, with the same shapes and settings as
bench/src/workloads.rs. Prints one JSON object per line, like ember-bench.

Usage: python3 bench/torch_ref.py [--only NAME] [--rss-mlp] [--device cpu|cuda]
(`--device cuda`: the same workloads on a CUDA GPU, for comparing a GPU run of ember-bench.)
"""
import json
import resource
import sys
import time

import os

import torch

# the same thread count as Ember's rayon pool: RAYON_NUM_THREADS=1 runs both sides on one thread
if os.environ.get("RAYON_NUM_THREADS"):
    torch.set_num_threads(int(os.environ["RAYON_NUM_THREADS"]))

DEV = sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "cpu"
if DEV in ("gpu", "cuda"):
    DEV = "cuda" if torch.cuda.is_available() else "cpu"
    if DEV == "cpu":
        print("torch_ref: no CUDA device; running on the CPU", file=sys.stderr)
import torch.nn as nn
import torch.nn.functional as F


def runs(warmup, reps, f):
    for _ in range(warmup):
        f()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return out


def report(name, unit, secs, convert):
    vals = sorted(convert(s) for s in secs)
    print(json.dumps({"name": name, "device": DEV, "unit": unit, "median": vals[len(vals) // 2],
                      "min": min(vals), "max": max(vals), "reps": len(vals)}), flush=True)


def mlp_step():
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)).to(DEV)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = torch.randn(128, 784, device=DEV), torch.randint(0, 10, (128,), device=DEV)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
    return step


def cnn_step():
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10)).to(DEV)
    opt = torch.optim.SGD(model.parameters(), 0.01, momentum=0.9)
    x, y = torch.randn(64, 1, 28, 28, device=DEV), torch.randint(0, 10, (64,), device=DEV)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
    return step


def main():
    args = sys.argv[1:]
    only = args[args.index("--only") + 1] if "--only" in args else None
    torch.manual_seed(0)
    if "--rss-mlp" in args:
        step = mlp_step()
        for _ in range(50):
            step()
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"name": "mlp-step-peak-rss", "device": "cpu", "unit": "MiB", "median": kib / 1024,
                          "min": 0, "max": 0, "reps": 1}), flush=True)
        return

    def want(n):
        return only is None or n.startswith(only)

    for n in (256, 1024, 2048):
        if not want(f"matmul-{n}"):
            continue
        a, b = torch.randn(n, n, device=DEV), torch.randn(n, n, device=DEV)
        reps = 5 if n >= 2048 else 10 if n >= 1024 else 50
        t = runs(2, reps, lambda: (a @ b)[0, 0].item())
        report(f"matmul-{n}", "GFLOP/s", t, lambda s: 2 * n ** 3 / s / 1e9)
    if want("mlp-step"):
        report("mlp-step", "ms", runs(5, 30, mlp_step()), lambda s: s * 1e3)
    if want("cnn-step"):
        report("cnn-step", "ms", runs(5, 30, cnn_step()), lambda s: s * 1e3)
    if want("small-op"):
        a, b, inner = torch.randn(16, device=DEV), torch.randn(16, device=DEV), 10000

        def small():
            for _ in range(inner):
                c = a + b
            c[0].item()
        report("small-op", "us", runs(3, 15, small), lambda s: s / inner * 1e6)
    if want("small-autograd"):
        w, x, inner = torch.randn(16, requires_grad=True, device=DEV), torch.randn(16, device=DEV), 2000

        def small_ag():
            for _ in range(inner):
                (w * x).sum().backward()
            w.grad[0].item()
            w.grad = None
        report("small-autograd", "us", runs(3, 15, small_ag), lambda s: s / inner * 1e6)


if __name__ == "__main__":
    main()
