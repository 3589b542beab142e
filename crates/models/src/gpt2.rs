//! GPT-2 (`transformers`' `GPT2LMHeadModel`): a decoder with causal self-attention, a KV cache,
//! and greedy / temperature / top-k generation. Loaded from a GPT-2 checkpoint directory with its
//! own names (`wte`, `wpe`, `h.N.attn.c_attn`, `h.N.mlp.c_fc`, `ln_f`; `transformer.` prefixed in
//! an LM-head checkpoint); the LM head is tied to `wte`, as in GPT-2.

use std::path::Path;

use ember_autograd::{no_grad, Variable};
use ember_nn::{Embedding, LayerNorm, Module};
use ember_tensor::{DType, Error, Result, Tensor};
use serde::Deserialize;

use crate::hub::{self, attention, check_ids, merge_heads, split_heads, Activation, Weights};

fn default_act() -> String {
    "gelu_new".into()
}
fn default_eps() -> f64 {
    1e-5
}

/// `config.json` of a GPT-2 checkpoint (the fields Ember reads).
#[derive(Clone, Debug, Deserialize)]
pub struct Gpt2Config {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Longest sequence (prompt plus generated tokens).
    pub n_positions: usize,
    /// Width of every hidden state.
    pub n_embd: usize,
    /// Number of blocks.
    pub n_layer: usize,
    /// Attention heads per block.
    pub n_head: usize,
    /// Width of the feed-forward block (`4 * n_embd` when absent).
    #[serde(default)]
    pub n_inner: Option<usize>,
    /// The feed-forward activation (`"gelu_new"`, the tanh approximation, by default).
    #[serde(default = "default_act")]
    pub activation_function: String,
    /// Layer-norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    /// The end-of-text token, if the config names one.
    #[serde(default)]
    pub eos_token_id: Option<u32>,
}

impl Gpt2Config {
    /// Reads and checks `dir/config.json` (errors name the file and the key).
    pub fn load(dir: impl AsRef<Path>) -> Result<Gpt2Config> {
        let dir = dir.as_ref();
        let c: Gpt2Config = hub::read_json(dir, "config.json")?;
        let file = dir.join("config.json").display().to_string();
        Activation::parse(&c.activation_function, &file, "activation_function")?;
        if c.n_embd > usize::MAX / 4 {
            return Err(Error::InvalidArgument {
                op: "Gpt2Config",
                msg: format!("{file}: n_embd {} is too large (4 * n_embd overflows)", c.n_embd),
            });
        }
        if c.n_head == 0 || !c.n_embd.is_multiple_of(c.n_head) {
            return Err(Error::InvalidArgument {
                op: "Gpt2Config",
                msg: format!("{file}: n_embd {} is not a multiple of n_head {}", c.n_embd, c.n_head),
            });
        }
        Ok(c)
    }
}

/// GPT-2's `Conv1D`: a linear map whose weight is stored `[in, out]` (`y = x W + b`).
#[derive(Module)]
#[module(forward = Self::apply)]
pub struct Conv1D {
    weight: Variable,
    bias: Variable,
}

impl Conv1D {
    fn load(w: &mut Weights, prefix: &str, inp: usize, out: usize) -> Result<Conv1D> {
        Ok(Conv1D {
            weight: w.param(&format!("{prefix}.weight"), &[inp, out])?,
            bias: w.param(&format!("{prefix}.bias"), &[out])?,
        })
    }

    fn apply(&self, x: &Variable) -> Variable {
        &x.matmul(&self.weight) + &self.bias
    }
}

/// Causal self-attention (`attn`): `c_attn` projects to q, k, v at once, `c_proj` back.
#[derive(Module)]
pub struct Gpt2Attention {
    c_attn: Conv1D,
    c_proj: Conv1D,
    #[module(skip)]
    heads: usize,
}

/// The feed-forward block (`mlp`).
#[derive(Module)]
pub struct Gpt2Mlp {
    c_fc: Conv1D,
    c_proj: Conv1D,
    #[module(skip)]
    act: Activation,
}

/// One pre-norm block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Module)]
pub struct Gpt2Block {
    ln_1: LayerNorm,
    attn: Gpt2Attention,
    ln_2: LayerNorm,
    mlp: Gpt2Mlp,
}

/// Keys and values of the tokens seen so far, per block (`[batch, heads, len, head_dim]`), so
/// each generation step runs only the new token.
#[derive(Default)]
pub struct KvCache {
    layers: Vec<(Variable, Variable)>,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> KvCache {
        KvCache::default()
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, |(k, _)| k.shape()[2])
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Gpt2Block {
    fn forward(&self, x: &Variable, mask: &Variable, cache: Option<(&mut KvCache, usize)>) -> Variable {
        let a = &self.attn;
        let qkv = a.c_attn.apply(&self.ln_1.forward(x));
        let c = x.shape()[2];
        let (q, k, v) = (qkv.narrow(-1, 0, c), qkv.narrow(-1, c, c), qkv.narrow(-1, 2 * c, c));
        let (q, mut k, mut v) = (split_heads(&q, a.heads), split_heads(&k, a.heads), split_heads(&v, a.heads));
        if let Some((cache, i)) = cache {
            if let Some((pk, pv)) = cache.layers.get(i) {
                k = Variable::cat(&[pk.clone(), k], 2);
                v = Variable::cat(&[pv.clone(), v], 2);
            }
            match cache.layers.get_mut(i) {
                Some(slot) => *slot = (k.clone(), v.clone()),
                None => cache.layers.push((k.clone(), v.clone())),
            }
        }
        let h = x + &a.c_proj.apply(&merge_heads(&attention(&q, &k, &v, Some(mask))));
        let m = self.mlp.c_proj.apply(&self.mlp.act.apply(&self.mlp.c_fc.apply(&self.ln_2.forward(&h))));
        &h + &m
    }
}

/// How [`Gpt2Model::generate`] picks each token.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// How many tokens to add after the prompt.
    pub max_new_tokens: usize,
    /// 0 picks the most likely token (greedy); above 0, sampling from `softmax(logits / t)`.
    pub temperature: f64,
    /// Sample among the `k` most likely tokens only (with a temperature above 0).
    pub top_k: Option<usize>,
    /// Seed of the sampler's generator (runs repeat exactly).
    pub seed: u64,
    /// Reuse keys and values of earlier positions (the default); without, every step reruns
    /// the whole sequence (the same tokens, slower).
    pub use_cache: bool,
    /// Stop after generating this token.
    pub eos_token_id: Option<u32>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new_tokens: 20,
            temperature: 0.0,
            top_k: None,
            seed: 0,
            use_cache: true,
            eos_token_id: None,
        }
    }
}

/// GPT-2 with its (tied) language-model head.
///
/// ```no_run
/// use ember_models::gpt2::{GenerateOptions, Gpt2Model};
/// let gpt2 = Gpt2Model::load("gpt2")?;
/// let ids = gpt2.generate(&[464, 2068, 7586], &GenerateOptions { max_new_tokens: 10, ..Default::default() })?;
/// # Ok::<(), ember_tensor::Error>(())
/// ```
#[derive(Module)]
pub struct Gpt2Model {
    wte: Embedding,
    wpe: Embedding,
    h: Vec<Gpt2Block>,
    ln_f: LayerNorm,
    #[module(skip)]
    config: Gpt2Config,
}

impl Gpt2Model {
    /// Loads `config.json` and `model.safetensors` strictly by name (`transformer.`-prefixed
    /// names too); `lm_head.weight` (tied to `wte`) and the attention-mask buffers of older
    /// checkpoints (`h.N.attn.bias`, `h.N.attn.masked_bias`) are not weights and are skipped.
    pub fn load(dir: impl AsRef<Path>) -> Result<Gpt2Model> {
        let dir = dir.as_ref();
        let c = Gpt2Config::load(dir)?;
        let mut w = Weights::load(dir, "wte.weight", "transformer.")?;
        let (d, eps) = (c.n_embd, c.layer_norm_epsilon);
        let inner = c.n_inner.unwrap_or(4 * d);
        let act = Activation::parse(&c.activation_function, "config.json", "activation_function")?;
        // no `with_capacity`: the count comes from the file; each block must be backed by weights
        let mut h = Vec::new();
        for i in 0..c.n_layer {
            let p = format!("h.{i}");
            h.push(Gpt2Block {
                ln_1: w.layer_norm(&format!("{p}.ln_1"), d, eps)?,
                attn: Gpt2Attention {
                    c_attn: Conv1D::load(&mut w, &format!("{p}.attn.c_attn"), d, 3 * d)?,
                    c_proj: Conv1D::load(&mut w, &format!("{p}.attn.c_proj"), d, d)?,
                    heads: c.n_head,
                },
                ln_2: w.layer_norm(&format!("{p}.ln_2"), d, eps)?,
                mlp: Gpt2Mlp {
                    c_fc: Conv1D::load(&mut w, &format!("{p}.mlp.c_fc"), d, inner)?,
                    c_proj: Conv1D::load(&mut w, &format!("{p}.mlp.c_proj"), inner, d)?,
                    act,
                },
            });
        }
        let model = Gpt2Model {
            wte: w.embedding("wte", c.vocab_size, d)?,
            wpe: w.embedding("wpe", c.n_positions, d)?,
            h,
            ln_f: w.layer_norm("ln_f", d, eps)?,
            config: c,
        };
        w.finish(|k| k == "lm_head.weight" || k.ends_with(".attn.bias") || k.ends_with(".attn.masked_bias"))?;
        model.eval();
        Ok(model)
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &Gpt2Config {
        &self.config
    }

    /// Logits `[batch, len, vocab]` of `input_ids` (`I64` `[batch, len]`), every position
    /// attending to itself and earlier ones only.
    pub fn forward(&self, input_ids: &Tensor) -> Result<Variable> {
        self.run(input_ids, None)
    }

    /// As [`forward`](Gpt2Model::forward), for tokens that follow those in `cache`, which
    /// gains their keys and values.
    pub fn forward_with_cache(&self, input_ids: &Tensor, cache: &mut KvCache) -> Result<Variable> {
        self.run(input_ids, Some(cache))
    }

    fn run(&self, ids: &Tensor, mut cache: Option<&mut KvCache>) -> Result<Variable> {
        const OP: &str = "Gpt2Model::forward";
        let past = cache.as_ref().map_or(0, |c| c.len());
        let (b, l) =
            check_ids(OP, ids, self.config.n_positions - past.min(self.config.n_positions), self.config.vocab_size)?;
        if let Some(c) = &cache {
            if !c.is_empty() && c.layers[0].0.shape()[0] != b {
                return Err(Error::InvalidArgument {
                    op: OP,
                    msg: format!("the cache holds a batch of {}, input_ids {b}", c.layers[0].0.shape()[0]),
                });
            }
        }
        // query i (absolute position past + i) sees keys 0..=past + i
        let total = past + l;
        let mask: Vec<f32> =
            (0..l).flat_map(|i| (0..total).map(move |j| if j <= past + i { 0.0 } else { f32::MIN })).collect();
        let dev = ids.device();
        let mask = Variable::from(Tensor::from_vec(mask, &[1, 1, l, total]).to(&dev));
        let pos = Tensor::from_vec((past as i64..total as i64).collect::<Vec<_>>(), &[1, l]).to(&dev);
        let mut x = &self.wte.forward(&Variable::from(ids.clone())) + &self.wpe.forward(&Variable::from(pos));
        for (i, block) in self.h.iter().enumerate() {
            x = block.forward(&x, &mask, cache.as_deref_mut().map(|c| (c, i)));
        }
        let x = self.ln_f.forward(&x);
        Ok(x.matmul(&self.wte.weight.t()))
    }

    /// Continues `prompt` (token ids) by up to `opts.max_new_tokens` tokens and returns the
    /// prompt followed by them. Greedy at temperature 0, as `transformers`' `generate` with
    /// `do_sample=False`; otherwise sampled (with `top_k`) from a generator seeded by `opts.seed`.
    pub fn generate(&self, prompt: &[u32], opts: &GenerateOptions) -> Result<Vec<u32>> {
        const OP: &str = "Gpt2Model::generate";
        if prompt.is_empty() || prompt.len().saturating_add(opts.max_new_tokens) > self.config.n_positions {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!(
                    "the prompt ({} tokens) must be non-empty and, with max_new_tokens {}, fit in n_positions {}",
                    prompt.len(),
                    opts.max_new_tokens,
                    self.config.n_positions
                ),
            });
        }
        if opts.temperature < 0.0 || !opts.temperature.is_finite() || opts.top_k == Some(0) {
            return Err(Error::InvalidArgument {
                op: OP,
                msg: format!(
                    "temperature must be finite and >= 0 and top_k >= 1, got {} and {:?}",
                    opts.temperature, opts.top_k
                ),
            });
        }
        let mut seq = prompt.to_vec();
        let mut rng = SplitMix64(opts.seed);
        let mut cache = KvCache::new();
        no_grad(|| {
            for _ in 0..opts.max_new_tokens {
                let logits = if opts.use_cache {
                    let fresh = &seq[cache.len()..];
                    self.forward_with_cache(&ids_tensor(fresh), &mut cache)?
                } else {
                    self.forward(&ids_tensor(&seq))?
                };
                let l = logits.shape()[1];
                let last = logits.select(1, l as i64 - 1).reshape(&[self.config.vocab_size]).data().to_vec::<f32>();
                let next = pick(&last, opts, &mut rng);
                seq.push(next);
                if opts.eos_token_id == Some(next) {
                    break;
                }
            }
            Ok(seq)
        })
    }
}

fn ids_tensor(ids: &[u32]) -> Tensor {
    Tensor::from_vec(ids.iter().map(|&i| i as i64).collect::<Vec<_>>(), &[1, ids.len()]).to_dtype(DType::I64)
}

/// The next token from the last position's logits.
fn pick(logits: &[f32], opts: &GenerateOptions, rng: &mut SplitMix64) -> u32 {
    let argmax =
        |v: &[(usize, f32)]| v.iter().fold((0, f32::NEG_INFINITY), |a, &(i, x)| if x > a.1 { (i, x) } else { a }).0;
    let mut cand: Vec<(usize, f32)> = logits.iter().copied().enumerate().collect();
    if opts.temperature == 0.0 {
        return argmax(&cand) as u32;
    }
    if let Some(k) = opts.top_k.filter(|&k| k < cand.len()) {
        cand.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        cand.truncate(k);
    }
    let max = cand.iter().map(|c| c.1).fold(f32::NEG_INFINITY, f32::max) as f64;
    let weights: Vec<f64> = cand.iter().map(|c| ((c.1 as f64 - max) / opts.temperature).exp()).collect();
    let mut r = rng.next_f64() * weights.iter().sum::<f64>();
    for (c, w) in cand.iter().zip(&weights) {
        if r < *w {
            return c.0 as u32;
        }
        r -= w;
    }
    cand.last().map_or(0, |c| c.0 as u32)
}

/// SplitMix64: a small seeded generator for sampling (its own stream, so generation repeats
/// for a seed whatever else draws from Ember's global generator).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}
