#!/usr/bin/env python3
"""Loads a state dict saved by Ember (`model.save_safetensors(path)`) into PyTorch.

    python3 scripts/check_ember_state_dict.py model.safetensors            # list names, shapes, dtypes
    python3 scripts/check_ember_state_dict.py model.safetensors --model cnn

With `--model`, the PyTorch twin of the Ember model is built (`cnn`: API.md's canonical program;
`bn_cnn`: the test model of scripts/fixtures/fam_nn_layers.py; or `module.path:function` returning
an `nn.Module`), the file is loaded with `load_state_dict(strict=True)` (every name, shape and
dtype must match), and a forward on a random input checks that the weights are usable.
Exits non-zero on any mismatch.
"""
import argparse
import importlib
import os
import sys

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fixtures"))


def twin(spec):
    if ":" in spec:
        mod, fn = spec.split(":", 1)
        return getattr(importlib.import_module(mod), fn)()
    import fam_nn_layers as fam
    models = {"cnn": (fam.cnn, (2, 1, 8, 8)), "bn_cnn": (fam.bn_cnn, (2, 3, 8, 8))}
    if spec not in models:
        sys.exit(f"unknown model {spec!r}: use one of {sorted(models)} or module.path:function")
    make, shape = models[spec]
    return make(), shape


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", help="a safetensors file written by Ember's save_safetensors")
    ap.add_argument("--model", help="cnn, bn_cnn or module.path:function building the PyTorch twin")
    args = ap.parse_args()

    state = load_file(args.path)
    for name, t in state.items():
        print(f"{name:40s} {str(list(t.shape)):20s} {t.dtype}")
    if not args.model:
        return
    made = twin(args.model)
    model, shape = made if isinstance(made, tuple) else (made, None)
    want = model.state_dict()
    bad = [f"{k}: Ember {state[k].dtype}, PyTorch {v.dtype}" for k, v in want.items() if k in state and state[k].dtype != v.dtype]
    if bad:
        sys.exit("dtype mismatch:\n  " + "\n  ".join(bad))
    model.load_state_dict(state, strict=True)  # raises on missing, unexpected or mis-shaped entries
    model.eval()
    if shape is not None:
        with torch.no_grad():
            y = model(torch.randn(*shape))
        if not torch.isfinite(y).all():
            sys.exit("forward gave non-finite values")
    print(f"OK: {len(state)} tensors load into PyTorch's {args.model} with strict=True")


if __name__ == "__main__":
    main()
