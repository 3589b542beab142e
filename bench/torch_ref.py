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
    else:
        # f32 means f32: no TF32 on tensor cores (issue 18 compares Ember's f32 kernels with these)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
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


def mlp_step_amp():
    """mlp-step under mixed precision: forward and loss under torch.autocast(bfloat16), the
    backward and step through GradScaler (bench/src/workloads_half.rs)."""
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)).to(DEV)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    scaler = torch.amp.GradScaler(DEV)
    x, y = torch.randn(128, 784, device=DEV), torch.randint(0, 10, (128,), device=DEV)

    def step():
        with torch.autocast(DEV, dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
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


# the sequence-model workloads of issue 13: the same shapes as bench/src/workloads_nlp.rs
VOCAB, HIDDEN, LAYERS, HEADS, FFN, MAX_POS, BATCH, LEN = 30522, 384, 6, 12, 1536, 512, 32, 40


def bert_model():
    """A MiniLM-shaped BERT (all-MiniLM-L6-v2's dims) with random weights, `transformers`' own
    BertModel (its default attention implementation), no pooler, no dropout (Ember's has none)."""
    from transformers import BertConfig, BertModel
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                     intermediate_size=FFN, max_position_embeddings=MAX_POS, hidden_act="gelu",
                     layer_norm_eps=1e-12, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertModel(cfg, add_pooling_layer=False).to(DEV)


def bert_batch(n):
    """ids [n, LEN] and a padding mask: sequence i has LEN - 5 (i % 4) tokens."""
    ids = torch.randint(1, VOCAB, (n, LEN), device=DEV)
    mask = torch.tensor([[1.0 if j < LEN - 5 * (i % 4) else 0.0 for j in range(LEN)] for i in range(n)], device=DEV)
    return ids * mask.long(), mask


def bert_infer():
    model = bert_model().eval()
    ids, mask = bert_batch(BATCH)

    def run():
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        out[0, 0, 0].item()
    return run


def bert_train():
    model = bert_model().train()
    opt = torch.optim.AdamW(model.parameters(), 2e-5)
    ids, mask = bert_batch(BATCH)
    labels = torch.rand(BATCH // 2, device=DEV)
    m, count = mask.unsqueeze(-1), mask.sum(1, keepdim=True)

    def step():
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = (h * m).sum(1) / count
        u, v = pooled[:BATCH // 2], pooled[BATCH // 2:]
        loss = F.mse_loss(F.cosine_similarity(u, v, 1, 1e-8), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
    return step


def lstm_step():
    emb, lstm, head = nn.Embedding(65, 64).to(DEV), nn.LSTM(64, 256, 2, batch_first=True).to(DEV), nn.Linear(256, 65).to(DEV)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, 2e-3)
    x, y = torch.randint(0, 65, (32, 64), device=DEV), torch.randint(0, 65, (32 * 64,), device=DEV)

    def step():
        h, _ = lstm(emb(x))
        loss = F.cross_entropy(head(h).reshape(32 * 64, 65), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, 2.0)
        opt.step()
        loss.item()
    return step


def transformer_step():
    layers = nn.ModuleList([nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0, batch_first=True)
                            for _ in range(2)]).to(DEV).train()
    head = nn.Linear(128, 10).to(DEV)
    opt = torch.optim.Adam(list(layers.parameters()) + list(head.parameters()), 1e-3)
    x, y = torch.randn(32, 64, 128, device=DEV), torch.randint(0, 10, (32,), device=DEV)

    def step():
        h = x
        for layer in layers:
            h = layer(h)
        loss = F.cross_entropy(head(h.mean(1)), y)
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

    for n in (256, 1024, 2048, 4096) if DEV == "cuda" else (256, 1024, 2048):
        if not want(f"matmul-{n}"):
            continue
        a, b = torch.randn(n, n, device=DEV), torch.randn(n, n, device=DEV)
        reps = 3 if n >= 4096 else 5 if n >= 2048 else 10 if n >= 1024 else 50
        t = runs(2, reps, lambda: (a @ b)[0, 0].item())
        report(f"matmul-{n}", "GFLOP/s", t, lambda s: 2 * n ** 3 / s / 1e9)
    # 16-bit matmuls and mlp-step under autocast (issue 17; the sizes ember-bench runs on the device)
    halves = ((1024, torch.bfloat16, "bf16"), (2048, torch.bfloat16, "bf16"), (1024, torch.float16, "f16"))
    if DEV == "cuda":
        halves = ((1024, torch.float16, "f16"), (2048, torch.float16, "f16"),
                  (1024, torch.bfloat16, "bf16"), (2048, torch.bfloat16, "bf16"))
    for n, dt, suffix in halves:
        if not want(f"matmul-{n}-{suffix}"):
            continue
        a, b = torch.randn(n, n, device=DEV).to(dt), torch.randn(n, n, device=DEV).to(dt)
        t = runs(2, 5 if n >= 2048 else 10, lambda: (a @ b)[0, 0].item())
        report(f"matmul-{n}-{suffix}", "GFLOP/s", t, lambda s: 2 * n ** 3 / s / 1e9)
    if DEV == "cpu" and want("mlp-step-amp"):
        report("mlp-step-amp", "ms", runs(5, 30, mlp_step_amp()), lambda s: s * 1e3)
    if want("mlp-step"):
        report("mlp-step", "ms", runs(5, 30, mlp_step()), lambda s: s * 1e3)
    if want("cnn-step"):
        report("cnn-step", "ms", runs(5, 30, cnn_step()), lambda s: s * 1e3)
    for name, reps, make in (("bert-infer", 10, bert_infer), ("bert-train", 5, bert_train),
                             ("lstm-step", 10, lstm_step), ("transformer-step", 10, transformer_step)):
        if want(name):
            report(name, "ms", runs(2, reps, make()), lambda s: s * 1e3)
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
