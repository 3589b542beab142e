#!/usr/bin/env python3
"""Writes the seed corpus of the `model_dir` fuzz target beside this script (`model_dir/*.bin`).

Each seed is a Hugging Face model directory flattened into one file, which the target unpacks
into a scratch directory before loading it (`fuzz/src/model_dir.rs`): three sections, each a
4-byte little-endian length followed by that many bytes, for `config.json`, `model.safetensors`
and `tokenizer.json` in that order (a length of 0: the file is absent; a length past the end is
cut to what is there). The models are built with `transformers` as `scripts/fixtures/models.py`
builds the test fixtures (with its tokenizer builders, trained on its corpus), only smaller, so
that each seed stays well under the harness's 64 KiB: hidden 8, one layer, 16 positions.

Run once; the files are committed. Needs torch, transformers, tokenizers, safetensors:
`python3 fuzz/corpus/make_model_corpus.py`.
"""
import json
import os
import struct
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "fixtures"))
# the fixtures' tokenizers (trained on their corpus), here with smaller vocabularies
from models import bpe_tokenizer, wordpiece_tokenizer  # noqa: E402

OUT = os.path.join(HERE, "model_dir")


def pack(config, weights, tokenizer):
    return b"".join(struct.pack("<I", len(p)) + p for p in (config, weights, tokenizer))


def put(name, config, weights, tokenizer):
    os.makedirs(OUT, exist_ok=True)
    data = pack(config, weights, tokenizer)
    assert len(data) < 60 * 1024, (name, len(data))
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(data)


def saved(model, tok, drop=(), prefix=""):
    """config.json, model.safetensors (as `save_pretrained` writes them) and tokenizer.json."""
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d)
        from safetensors.torch import load_file, save_file

        state = load_file(os.path.join(d, "model.safetensors"))
        state = {prefix + k: v for k, v in state.items() if not any(k.startswith(p) for p in drop)}
        save_file(state, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        cfg = json.dumps(json.load(open(os.path.join(d, "config.json"))), separators=(",", ":")).encode()
        weights = open(os.path.join(d, "model.safetensors"), "rb").read()
    return cfg, weights, tok.to_str().encode()


def main():
    from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    wp = wordpiece_tokenizer(vocab_size=70, length=8)
    bert_cfg = BertConfig(
        vocab_size=wp.get_vocab_size(), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16, type_vocab_size=2, hidden_act="gelu", pad_token_id=0,
    )
    bert = BertModel(bert_cfg).eval()
    cfg, w, t = saved(bert, wp)
    put("bert", cfg, w, t)
    put("bert_no_pooler", *saved(bert, wp, drop=("pooler.",)))
    put("bert_prefixed", *saved(bert, wp, prefix="bert."))
    # a tokenizer whose ids run past the model's vocabulary: encode must fail, not index out of range
    put("bert_small_vocab", json.dumps(dict(json.loads(cfg), vocab_size=8)).encode(),
        *saved(BertModel(BertConfig(**dict(bert_cfg.to_dict(), vocab_size=8))).eval(), wp)[1:])
    put("bert_no_tokenizer", cfg, w, b"")
    put("bert_truncated_weights", cfg, w[: len(w) // 2], t)

    tok = bpe_tokenizer(vocab_size=270)
    eos = tok.token_to_id("<|endoftext|>")
    gpt_cfg = GPT2Config(
        vocab_size=tok.get_vocab_size(), n_positions=16, n_embd=8, n_layer=1, n_head=2,
        activation_function="gelu_new", bos_token_id=eos, eos_token_id=eos,
    )
    gpt = GPT2LMHeadModel(gpt_cfg).eval()
    put("gpt2", *saved(gpt, tok))
    put("gpt2_bare", *saved(gpt.transformer, tok))
    put("gpt2_relu", json.dumps(dict(json.loads(saved(gpt, tok)[0]), activation_function="relu")).encode(),
        *saved(gpt, tok)[1:])


if __name__ == "__main__":
    main()
