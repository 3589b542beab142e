"""Counts the floating-point work of each standard workload with PyTorch's FlopCounterMode (matmul,
linear, bmm, convolution and attention, forward and backward; 2 FLOPs per multiply-add), on the
same models as bench/torch_ref.py, and prints the shortest time any CPU needs for those products at
a given FMA peak: the floor under every implementation (Ember's and PyTorch's), and so what a
benchmark target like "at most 0.8x PyTorch's time" asks of the GEMM.

Usage: python3 bench/flops.py [--peak GFLOP/s] [--only NAME]
(--peak defaults to 116, one core of this machine's AMD EPYC Zen 4: `ember-bench` prints
`cpu-peak-fma` for all cores.)
"""
import json
import sys
import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import torch_ref  # noqa: E402  (the workloads, shape for shape)

WORKLOADS = {
    "mlp-step": torch_ref.mlp_step,
    "cnn-step": torch_ref.cnn_step,
    "bert-infer": torch_ref.bert_infer,
    "bert-train": torch_ref.bert_train,
    "lstm-step": torch_ref.lstm_step,
    "transformer-step": torch_ref.transformer_step,
}


def main():
    warnings.filterwarnings("ignore", message=".*TF32")  # printed by mkldnn.flags, irrelevant here
    args = sys.argv[1:]
    peak = float(args[args.index("--peak") + 1]) if "--peak" in args else 116.0
    only = args[args.index("--only") + 1] if "--only" in args else None
    torch.manual_seed(0)
    for name, make in WORKLOADS.items():
        if only is not None and not name.startswith(only):
            continue
        step = make()
        step()  # warm up: optimizer state and lazy modules exist before counting
        counter = FlopCounterMode(display=False)
        # oneDNN's fused LSTM hides its products from the counter; without it PyTorch runs the same
        # products as aten.mm / aten.addmm, which the counter sees (the work is the same)
        with torch.backends.mkldnn.flags(enabled=False), counter:
            step()
        flops = counter.get_total_flops()
        by_op = {str(k): v for k, v in counter.get_flop_counts().get("Global", {}).items()}
        print(json.dumps({"name": name, "gflop": flops / 1e9, "peak_gflops": peak,
                          "floor_ms": flops / (peak * 1e9) * 1e3, "by_op_gflop": {k: v / 1e9 for k, v in by_op.items()}}),
              flush=True)


if __name__ == "__main__":
    main()
