"""The digits example (crates/ember/examples/digits.rs) in PyTorch, for `cargo xtask bench --vs-torch`:
the same data (crates/ember/data/digits.csv.gz), the same stratified 80/20 split sizes (largest
remainder per class, seeded shuffles), the same CNN, Adam lr 1e-3, batch 32 shuffled, 30 epochs, the
loss and test accuracy after every epoch. Timed end to end by the caller (process wall time).

Usage: python3 bench/torch_digits.py [--epochs N] [--data PATH]
"""
import argparse
import gzip
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        rows = [[float(v) for v in line.split(",")] for line in f if line.strip()]
    t = torch.tensor(rows, dtype=torch.float32)
    return (t[:, :-1] / 16.0).reshape(-1, 1, 8, 8), t[:, -1].long()


def stratified_split(labels, test_size, g):
    n = len(labels)
    n_test = math.ceil(test_size * n)
    classes = sorted(set(labels.tolist()))
    members = [(labels == c).nonzero().flatten() for c in classes]
    exact = [n_test * len(m) / n for m in members]
    take = [math.floor(e) for e in exact]
    order = sorted(range(len(classes)), key=lambda c: (-(exact[c] - math.floor(exact[c])), c))
    for c in order[: n_test - sum(take)]:
        take[c] += 1
    train, test = [], []
    for m, k in zip(members, take):
        m = m[torch.randperm(len(m), generator=g)]
        test.append(m[:k])
        train.append(m[k:])
    train, test = torch.cat(train), torch.cat(test)
    return train[torch.randperm(len(train), generator=g)], test[torch.randperm(len(test), generator=g)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--data", default="crates/ember/data/digits.csv.gz")
    a = p.parse_args()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    images, labels = load(a.data)
    tr, te = stratified_split(labels, 0.2, g)
    xtr, ytr, xte, yte = images[tr], labels[tr], images[te], labels[te]
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    print(f"digits: {len(tr)} train / {len(te)} test images; {a.epochs} epochs of {math.ceil(len(tr) / 32)} batches")
    start = time.perf_counter()
    acc = 0.0
    for epoch in range(1, a.epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for idx in torch.randperm(len(tr), generator=g).split(32):
            x, y = xtr[idx], ytr[idx]
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        model.eval()
        with torch.no_grad():
            logits = model(xte)
            test_loss = F.cross_entropy(logits, yte).item()
            acc = (logits.argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch:>3}/{a.epochs}  train loss {total / seen:.4f}  test loss {test_loss:.4f}  "
              f"test accuracy {acc * 100:.2f}%")
    print(f"final test accuracy {acc * 100:.2f}% after {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
