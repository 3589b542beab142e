//! BERT (`transformers`' `BertModel`): embeddings with token types, the encoder, the pooler;
//! loaded from a Hugging Face directory with the checkpoint's own names (`embeddings.LayerNorm.weight`,
//! `encoder.layer.0.attention.self.query.weight`, ...). Covers BERT-base, MiniLM and the other
//! checkpoints of `model_type: "bert"` with absolute positions.

use std::path::Path;

use ember_autograd::Variable;
use ember_nn::{Embedding, LayerNorm, Linear, Module};
use ember_tensor::{DType, Error, Result, Tensor};
use serde::Deserialize;

use crate::hub::{self, attention, check_ids, check_range, check_same, merge_heads, split_heads, Activation, Weights};

fn default_act() -> String {
    "gelu".into()
}
fn default_types() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_pos() -> String {
    "absolute".into()
}

/// `config.json` of a BERT checkpoint (the fields Ember reads; others are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct BertConfig {
    /// Size of the WordPiece vocabulary.
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (`hidden_size` must be a multiple).
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Longest input, in tokens.
    pub max_position_embeddings: usize,
    /// The feed-forward activation (`"gelu"` by default).
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Number of token types (segments).
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    /// Layer-norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// The padding token's id.
    #[serde(default)]
    pub pad_token_id: u32,
    /// Only `"absolute"` positions are supported.
    #[serde(default = "default_pos")]
    pub position_embedding_type: String,
}

impl BertConfig {
    /// Reads `dir/config.json` and checks it (unknown activation, heads not dividing the width,
    /// relative positions: errors naming the file and the key).
    pub fn load(dir: impl AsRef<Path>) -> Result<BertConfig> {
        let dir = dir.as_ref();
        let c: BertConfig = hub::read_json(dir, "config.json")?;
        let file = dir.join("config.json").display().to_string();
        Activation::parse(&c.hidden_act, &file, "hidden_act")?;
        let bad = |msg: String| Err(Error::InvalidArgument { op: "BertConfig", msg: format!("{file}: {msg}") });
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                c.hidden_size, c.num_attention_heads
            ));
        }
        if c.position_embedding_type != "absolute" {
            return bad(format!(
                "position_embedding_type {:?} is not supported (only \"absolute\")",
                c.position_embedding_type
            ));
        }
        Ok(c)
    }
}

/// Word, position and token-type embeddings, summed and layer-normed.
#[derive(Module)]
pub struct BertEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    #[module(name = "LayerNorm")]
    layer_norm: LayerNorm,
}

impl BertEmbeddings {
    /// `ids` and `types`: `I64` `[batch, len]`.
    pub fn forward(&self, ids: &Tensor, types: &Tensor) -> Variable {
        let len = ids.shape()[1];
        let pos = Tensor::from_vec((0..len as i64).collect::<Vec<_>>(), &[1, len]).to(&ids.device());
        let e = &self.word_embeddings.forward(&Variable::from(ids.clone()))
            + &self.position_embeddings.forward(&Variable::from(pos));
        let e = &e + &self.token_type_embeddings.forward(&Variable::from(types.clone()));
        self.layer_norm.forward(&e)
    }
}

/// Query, key and value projections (`attention.self`).
#[derive(Module)]
pub struct BertSelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    #[module(skip)]
    heads: usize,
}

/// The projection after attention, with the residual and layer norm (`attention.output`, and
/// `output` after the feed-forward block).
#[derive(Module)]
pub struct BertResidual {
    dense: Linear,
    #[module(name = "LayerNorm")]
    layer_norm: LayerNorm,
}

impl BertResidual {
    fn forward(&self, x: &Variable, residual: &Variable) -> Variable {
        self.layer_norm.forward(&(&self.dense.forward(x) + residual))
    }
}

/// Self-attention and its output block.
#[derive(Module)]
pub struct BertAttention {
    #[module(name = "self")]
    self_attn: BertSelfAttention,
    output: BertResidual,
}

/// The feed-forward block's first projection and activation.
#[derive(Module)]
pub struct BertIntermediate {
    dense: Linear,
    #[module(skip)]
    act: Activation,
}

/// One encoder layer.
#[derive(Module)]
pub struct BertLayer {
    attention: BertAttention,
    intermediate: BertIntermediate,
    output: BertResidual,
}

impl BertLayer {
    /// `x` `[batch, len, hidden]`; `mask` additive, broadcasting to `[batch, heads, len, len]`.
    pub fn forward(&self, x: &Variable, mask: Option<&Variable>) -> Variable {
        let sa = &self.attention.self_attn;
        let (q, k, v) = (sa.query.forward(x), sa.key.forward(x), sa.value.forward(x));
        let ctx = attention(&split_heads(&q, sa.heads), &split_heads(&k, sa.heads), &split_heads(&v, sa.heads), mask);
        let h = self.attention.output.forward(&merge_heads(&ctx), x);
        let inter = self.intermediate.act.apply(&self.intermediate.dense.forward(&h));
        self.output.forward(&inter, &h)
    }
}

/// The stack of layers (`encoder.layer.N`).
#[derive(Module)]
pub struct BertEncoder {
    layer: Vec<BertLayer>,
}

/// `tanh(dense(h[:, 0]))`: the pooled output of the first (`[CLS]`) token.
#[derive(Module)]
pub struct BertPooler {
    dense: Linear,
}

/// What [`BertModel::forward`] returns, as `transformers`' `BaseModelOutputWithPooling`.
pub struct BertOutput {
    /// `[batch, len, hidden]`.
    pub last_hidden_state: Variable,
    /// `[batch, hidden]`, `None` for a checkpoint without a pooler.
    pub pooler_output: Option<Variable>,
}

/// BERT, `transformers`' `BertModel`.
///
/// ```no_run
/// use ember_models::bert::BertModel;
/// use ember_tensor::Tensor;
/// let bert = BertModel::load("all-MiniLM-L6-v2")?;
/// let ids = Tensor::from_vec(vec![101i64, 7592, 2088, 102], &[1, 4]);
/// let out = bert.forward(&ids, None, None)?;
/// assert_eq!(out.last_hidden_state.shape(), vec![1, 4, bert.config().hidden_size]);
/// # Ok::<(), ember_tensor::Error>(())
/// ```
#[derive(Module)]
pub struct BertModel {
    embeddings: BertEmbeddings,
    encoder: BertEncoder,
    pooler: Option<BertPooler>,
    #[module(skip)]
    config: BertConfig,
}

impl BertModel {
    /// Loads `config.json` and `model.safetensors` from a Hugging Face directory, strictly by
    /// name: every tensor the model needs must be there with its shape, and every tensor there
    /// must be the model's, except `embeddings.position_ids` (a buffer `transformers` does not
    /// load either) and, in a task checkpoint whose names start with `bert.`, the task head's.
    /// The pooler is optional (checkpoints saved without it load without it).
    pub fn load(dir: impl AsRef<Path>) -> Result<BertModel> {
        let dir = dir.as_ref();
        let c = BertConfig::load(dir)?;
        let mut w = Weights::load(dir, "embeddings.word_embeddings.weight", "bert.")?;
        let (d, eps) = (c.hidden_size, c.layer_norm_eps);
        let act = Activation::parse(&c.hidden_act, "config.json", "hidden_act")?;
        let embeddings = BertEmbeddings {
            word_embeddings: w.embedding("embeddings.word_embeddings", c.vocab_size, d)?,
            position_embeddings: w.embedding("embeddings.position_embeddings", c.max_position_embeddings, d)?,
            token_type_embeddings: w.embedding("embeddings.token_type_embeddings", c.type_vocab_size, d)?,
            layer_norm: w.layer_norm("embeddings.LayerNorm", d, eps)?,
        };
        // no `with_capacity`: the count comes from the file; each layer must be backed by weights
        let mut layer = Vec::new();
        for i in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let self_attn = BertSelfAttention {
                query: w.linear(&format!("{p}.attention.self.query"), d, d)?,
                key: w.linear(&format!("{p}.attention.self.key"), d, d)?,
                value: w.linear(&format!("{p}.attention.self.value"), d, d)?,
                heads: c.num_attention_heads,
            };
            let output = BertResidual {
                dense: w.linear(&format!("{p}.attention.output.dense"), d, d)?,
                layer_norm: w.layer_norm(&format!("{p}.attention.output.LayerNorm"), d, eps)?,
            };
            layer.push(BertLayer {
                attention: BertAttention { self_attn, output },
                intermediate: BertIntermediate {
                    dense: w.linear(&format!("{p}.intermediate.dense"), d, c.intermediate_size)?,
                    act,
                },
                output: BertResidual {
                    dense: w.linear(&format!("{p}.output.dense"), c.intermediate_size, d)?,
                    layer_norm: w.layer_norm(&format!("{p}.output.LayerNorm"), d, eps)?,
                },
            });
        }
        let pooler = match w.has("pooler.dense.weight") {
            true => Some(BertPooler { dense: w.linear("pooler.dense", d, d)? }),
            false => None,
        };
        w.finish(|k| k == "embeddings.position_ids")?;
        let model = BertModel { embeddings, encoder: BertEncoder { layer }, pooler, config: c };
        model.eval();
        Ok(model)
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Runs BERT on `input_ids` (`I64` `[batch, len]`). `attention_mask` (`[batch, len]`, 1 for
    /// tokens and 0 for padding, any dtype) keeps padding out of attention; `token_type_ids`
    /// (`I64`, 0 by default) marks the segments of a pair.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        token_type_ids: Option<&Tensor>,
    ) -> Result<BertOutput> {
        const OP: &str = "BertModel::forward";
        let (b, l) = check_ids(OP, input_ids, self.config.max_position_embeddings, self.config.vocab_size)?;
        check_same(OP, "attention_mask", attention_mask, [b, l])?;
        check_same(OP, "token_type_ids", token_type_ids, [b, l])?;
        let zeros;
        let types = match token_type_ids {
            Some(t) if t.dtype() != DType::I64 => {
                return Err(Error::InvalidArgument {
                    op: OP,
                    msg: format!("token_type_ids must be I64, got {:?}", t.dtype()),
                })
            }
            Some(t) => {
                check_range(OP, "token_type_ids", t, self.config.type_vocab_size, "type_vocab_size")?;
                t
            }
            None => {
                zeros = Tensor::zeros(&[b, l]).to_dtype(DType::I64).to(&input_ids.device());
                &zeros
            }
        };
        // `transformers`: (1 - mask) * finfo(f32).min, added to the scores of every head and query
        let mask = attention_mask.map(|m| {
            let m = m.to_dtype(DType::F32).reshape(&[b, 1, 1, l]);
            Variable::from(&(1.0 - &m) * f32::MIN as f64)
        });
        let mut h = self.embeddings.forward(input_ids, types);
        for layer in &self.encoder.layer {
            h = layer.forward(&h, mask.as_ref());
        }
        let pooler_output = self.pooler.as_ref().map(|p| p.dense.forward(&h.select(1, 0)).tanh());
        Ok(BertOutput { last_hidden_state: h, pooler_output })
    }
}
