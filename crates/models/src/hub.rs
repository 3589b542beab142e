//! Reading a Hugging Face model directory: JSON configs, the safetensors weights taken by name
//! with their shapes checked, the tokenizer, and the activations configs name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ember_autograd::Variable;
use ember_nn::{functional as F, Embedding, LayerNorm, Linear};
use ember_tensor::{DType, Error, Result, Tensor};
use serde::de::DeserializeOwned;
use tokenizers::Tokenizer;

/// Reads and parses `dir/file` as JSON; a missing file is `Error::Io` and bad JSON `Error::Parse`,
/// both naming the path.
pub fn read_json<T: DeserializeOwned>(dir: &Path, file: &str) -> Result<T> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::Parse(format!("{}: {e}", path.display())))
}

/// Loads `dir/tokenizer.json` with the `tokenizers` crate (Hugging Face's own), as saved by
/// `transformers` or `tokenizers`. A malformed file is `Error::Parse` naming it, also where the
/// crate itself panics on it (a file cut inside its `decoder` section makes `tokenizers` 0.22
/// panic with "Helper"; found by the `model_dir` fuzz target): that panic is caught here, so the
/// process goes on (the default panic hook still prints the crate's message).
pub fn load_tokenizer(dir: impl AsRef<Path>) -> Result<Tokenizer> {
    let path = dir.as_ref().join("tokenizer.json");
    if !path.is_file() {
        return Err(Error::Io(format!("{}: no such file", path.display())));
    }
    match std::panic::catch_unwind(|| Tokenizer::from_file(&path)) {
        Ok(r) => r.map_err(|e| Error::Parse(format!("{}: {e}", path.display()))),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(Error::Parse(format!(
                "{}: malformed tokenizer (the tokenizers crate panicked while parsing it: {msg:?})",
                path.display()
            )))
        }
    }
}

/// A tokenizer error as Ember's, naming what was being done.
pub(crate) fn tok_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument { op: "tokenizer", msg: format!("{what}: {e}") }
}

/// The tensors of `model.safetensors`, taken out by their PyTorch names; whatever is left at the
/// end is an unexpected key (strict loading).
pub(crate) struct Weights {
    path: PathBuf,
    map: HashMap<String, Tensor>,
    prefix: String,
}

impl Weights {
    /// Reads `dir/model.safetensors`. When every name the model needs is found under `prefix`
    /// (e.g. `bert.` in a `BertForMaskedLM` checkpoint), names are looked up under it.
    pub(crate) fn load(dir: &Path, probe: &str, prefix: &str) -> Result<Weights> {
        let path = dir.join("model.safetensors");
        let map: HashMap<String, Tensor> = ember_tensor::io::load(&path)?.into_iter().collect();
        let prefix = if !map.contains_key(probe) && map.contains_key(&format!("{prefix}{probe}")) {
            prefix.to_string()
        } else {
            String::new()
        };
        Ok(Weights { path, map, prefix })
    }

    fn file(&self) -> String {
        self.path.display().to_string()
    }

    /// The tensor named `name` (under the prefix), which must have `shape` (from config.json).
    pub(crate) fn take(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let key = format!("{}{name}", self.prefix);
        let t = self.map.remove(&key).ok_or_else(|| Error::InvalidArgument {
            op: "load",
            msg: format!("{}: missing key \"{key}\"", self.file()),
        })?;
        if t.shape() != shape {
            return Err(Error::InvalidArgument {
                op: "load",
                msg: format!("{}: \"{key}\" has shape {:?}, config.json gives {shape:?}", self.file(), t.shape()),
            });
        }
        Ok(t)
    }

    /// True when `name` (under the prefix) is in the file.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.map.contains_key(&format!("{}{name}", self.prefix))
    }

    /// A trainable parameter.
    pub(crate) fn param(&mut self, name: &str, shape: &[usize]) -> Result<Variable> {
        Ok(Variable::new(self.take(name, shape)?, true))
    }

    /// `nn.Linear(inp, out)` from `{prefix}.weight` `[out, inp]` and `{prefix}.bias`.
    pub(crate) fn linear(&mut self, prefix: &str, inp: usize, out: usize) -> Result<Linear> {
        let w = self.take(&format!("{prefix}.weight"), &[out, inp])?;
        let b = self.take(&format!("{prefix}.bias"), &[out])?;
        Ok(Linear::from_weights(w, Some(b)))
    }

    /// `nn.LayerNorm(d, eps)` from `{prefix}.weight` and `{prefix}.bias` (taken first, so a
    /// size in the config that the file does not back allocates nothing).
    pub(crate) fn layer_norm(&mut self, prefix: &str, d: usize, eps: f64) -> Result<LayerNorm> {
        let w = self.take(&format!("{prefix}.weight"), &[d])?;
        let b = self.take(&format!("{prefix}.bias"), &[d])?;
        let ln = LayerNorm::new(d).eps(eps);
        if let Some(p) = &ln.weight {
            p.set_data(w);
        }
        if let Some(p) = &ln.bias {
            p.set_data(b);
        }
        Ok(ln)
    }

    /// `nn.Embedding(n, d)` from `{prefix}.weight`.
    pub(crate) fn embedding(&mut self, prefix: &str, n: usize, d: usize) -> Result<Embedding> {
        Ok(Embedding::from_pretrained(self.take(&format!("{prefix}.weight"), &[n, d])?, false))
    }

    /// Strictness: fails naming every key left over, except those `ignore` accepts (buffers
    /// PyTorch does not load, such as `position_ids`, and tied or task-head weights).
    pub(crate) fn finish(self, ignore: impl Fn(&str) -> bool) -> Result<()> {
        let mut left: Vec<&String> = self
            .map
            .keys()
            // with a prefix, keys outside it are another head's (as `transformers` skips them)
            .filter(|k| k.strip_prefix(&self.prefix).is_some_and(|rest| !ignore(rest)))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        left.sort();
        let names: Vec<String> = left.iter().map(|k| format!("\"{k}\"")).collect();
        Err(Error::InvalidArgument {
            op: "load",
            msg: format!("{}: unexpected key(s) {}", self.file(), names.join(", ")),
        })
    }
}

/// An activation named in `config.json` (`hidden_act`, `activation_function`), as `transformers`'
/// `ACT2FN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `"gelu"`: the exact (erf) GELU.
    Gelu,
    /// `"gelu_new"`, `"gelu_pytorch_tanh"`: the tanh approximation.
    GeluTanh,
    /// `"relu"`.
    Relu,
    /// `"silu"`, `"swish"`.
    Silu,
    /// `"tanh"`.
    Tanh,
}

impl Activation {
    /// Parses `name`; an unknown one is an error naming `file`, `key` and the value.
    pub fn parse(name: &str, file: &str, key: &str) -> Result<Activation> {
        Ok(match name {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            "tanh" => Activation::Tanh,
            other => {
                return Err(Error::InvalidArgument {
                    op: "load",
                    msg: format!(
                        "{file}: unknown {key} {other:?} (known: gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish, tanh)"
                    ),
                })
            }
        })
    }

    /// Applies the activation.
    pub fn apply(self, x: &Variable) -> Variable {
        match self {
            Activation::Gelu => F::gelu(x),
            Activation::GeluTanh => F::gelu_tanh(x),
            Activation::Relu => x.relu(),
            Activation::Silu => F::silu(x),
            Activation::Tanh => x.tanh(),
        }
    }
}

/// `[b, l, h * d] -> [b, h, l, d]`.
pub(crate) fn split_heads(x: &Variable, heads: usize) -> Variable {
    let s = x.shape();
    x.reshape(&[s[0], s[1], heads, s[2] / heads]).permute(&[0, 2, 1, 3])
}

/// `[b, h, l, d] -> [b, l, h * d]`.
pub(crate) fn merge_heads(x: &Variable) -> Variable {
    let s = x.shape();
    x.permute(&[0, 2, 1, 3]).reshape(&[s[0], s[2], s[1] * s[3]])
}

/// Scaled dot-product attention, `softmax(q k^T / sqrt(d) + mask) v`, with an additive mask that
/// broadcasts to `[b, h, lq, lk]` (0 where allowed, a large negative number where not). On the
/// CPU in F32/F64 (and a mask that is a constant) it is `F::scaled_dot_product_attention`'s fused
/// kernel, measured faster than the composite on BERT's shape (docs/performance.md, issue 13 in
/// session 9); elsewhere (GPU, 16-bit) the composite of Variable ops.
pub(crate) fn attention(q: &Variable, k: &Variable, v: &Variable, mask: Option<&Variable>) -> Variable {
    let cpu_float = q.device().is_cpu() && matches!(q.dtype(), DType::F32 | DType::F64);
    if cpu_float && !mask.is_some_and(|m| m.requires_grad()) {
        let m = mask.map(|m| m.data());
        // any shape or dtype the fused op refuses (a mask of another dtype) takes the composite
        if let Ok(y) = F::try_scaled_dot_product_attention(q, k, v, m.as_ref(), 0.0, false, None) {
            return y;
        }
    }
    let d = *q.shape().last().unwrap_or(&1) as f64;
    let scores = &q.matmul(&k.transpose(-2, -1)) * (1.0 / d.sqrt());
    let scores = match mask {
        Some(m) => &scores + m,
        None => scores,
    };
    scores.softmax(-1).matmul(v)
}

/// Checks a batch of token ids: `I64`, `[batch, len]` with `len` in `1..=max_len`, every id in
/// `0..vocab` (an id past the embedding table is an error here, not a panic in the lookup).
pub(crate) fn check_ids(op: &'static str, ids: &Tensor, max_len: usize, vocab: usize) -> Result<(usize, usize)> {
    let s = ids.shape();
    if ids.dtype() != ember_tensor::DType::I64 || s.len() != 2 || s[1] == 0 || s[1] > max_len {
        return Err(Error::InvalidArgument {
            op,
            msg: format!(
                "input_ids must be I64 of shape [batch, len] with 1 <= len <= {max_len} (the model's positions), got {:?} of shape {s:?}",
                ids.dtype()
            ),
        });
    }
    check_range(op, "input_ids", ids, vocab, "vocab_size")?;
    Ok((s[0], s[1]))
}

/// Checks that every value of the `I64` tensor `t` lies in `0..n` (`n` is the config's `key`).
pub(crate) fn check_range(op: &'static str, what: &str, t: &Tensor, n: usize, key: &str) -> Result<()> {
    if let Some(&bad) = t.to_vec::<i64>().iter().find(|&&i| i < 0 || i as u64 >= n as u64) {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("{what} holds {bad}, outside 0..{n} (the config's {key})"),
        });
    }
    Ok(())
}

/// Checks that an optional per-token tensor (mask, token types) has the ids' shape.
pub(crate) fn check_same(op: &'static str, what: &str, t: Option<&Tensor>, shape: [usize; 2]) -> Result<()> {
    match t {
        Some(t) if t.shape() != shape => {
            Err(Error::InvalidArgument { op, msg: format!("{what} has shape {:?}, input_ids {shape:?}", t.shape()) })
        }
        _ => Ok(()),
    }
}
