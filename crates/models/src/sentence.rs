//! Sentence embeddings as sentence-transformers computes them for BERT-style checkpoints such as
//! all-MiniLM-L6-v2: tokenise (padded to the batch's longest), run BERT, mean-pool the last
//! hidden state over the attention mask, L2-normalise.

use std::path::Path;

use ember_autograd::no_grad;
use ember_tensor::{DType, Error, Result, Tensor};
use serde::Deserialize;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::bert::BertModel;
use crate::hub::{self, tok_err};

/// `sentence_bert_config.json`.
#[derive(Deserialize)]
struct SbertConfig {
    max_seq_length: Option<usize>,
}

/// `1_Pooling/config.json` (the modes Ember reads).
#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
}

/// A sentence encoder: BERT plus its tokenizer, giving one L2-normalised vector per text.
///
/// ```no_run
/// use ember_models::SentenceEmbedder;
/// let model = SentenceEmbedder::load("all-MiniLM-L6-v2")?;
/// let e = model.encode(&["A man is eating food.", "A man eats bread."])?;
/// assert_eq!(e.shape(), &[2, 384]);
/// let cos = e.matmul(&e.t()); // unit vectors: dot products are cosine similarities
/// # Ok::<(), ember_tensor::Error>(())
/// ```
pub struct SentenceEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
}

impl SentenceEmbedder {
    /// Loads the model ([`BertModel::load`]) and `tokenizer.json` from a directory. The
    /// tokenizer pads to the longest text of each batch (a `tokenizer.json` often pads every
    /// input to a fixed length) and truncates at `max_seq_length` of
    /// `sentence_bert_config.json` when present, else at the model's positions. A
    /// `1_Pooling/config.json` asking for another pooling than the mean is an error.
    pub fn load(dir: impl AsRef<Path>) -> Result<SentenceEmbedder> {
        let dir = dir.as_ref();
        // `tokenizer.json` (a large JSON vocabulary) is parsed on a thread of its own while the
        // weights are read: the load takes the longer of the two, not their sum
        let (model, tokenizer) = std::thread::scope(|s| {
            let tok = s.spawn(|| hub::load_tokenizer(dir));
            let model = BertModel::load(dir);
            let tok = tok.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (model, tok)
        });
        let (model, mut tokenizer) = (model?, tokenizer?);
        let mut max_len = model.config().max_position_embeddings;
        if dir.join("sentence_bert_config.json").is_file() {
            let s: SbertConfig = hub::read_json(dir, "sentence_bert_config.json")?;
            max_len = max_len.min(s.max_seq_length.unwrap_or(max_len));
        }
        if dir.join("1_Pooling/config.json").is_file() {
            let p: PoolingConfig = hub::read_json(dir, "1_Pooling/config.json")?;
            if !p.pooling_mode_mean_tokens || p.pooling_mode_cls_token || p.pooling_mode_max_tokens {
                return Err(Error::InvalidArgument {
                    op: "SentenceEmbedder::load",
                    msg: format!("{}: only mean pooling is supported", dir.join("1_Pooling/config.json").display()),
                });
            }
        }
        let pad = tokenizer.get_padding().cloned().unwrap_or_else(|| PaddingParams {
            pad_id: model.config().pad_token_id,
            pad_token: "[PAD]".into(),
            ..PaddingParams::default()
        });
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..pad }));
        let trunc = tokenizer.get_truncation().cloned().unwrap_or_default();
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_len, ..trunc }))
            .map_err(|e| tok_err("setting truncation", e))?;
        Ok(SentenceEmbedder { model, tokenizer })
    }

    /// The BERT model underneath.
    pub fn model(&self) -> &BertModel {
        &self.model
    }

    /// The tokenizer (padding to the batch's longest).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Tokenises `texts` into `input_ids`, `attention_mask` and `token_type_ids` (`I64`,
    /// `[n, longest]`).
    pub fn tokenize(&self, texts: &[&str]) -> Result<(Tensor, Tensor, Tensor)> {
        let encs = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| tok_err("encoding a batch", e))?;
        let len = encs.first().map_or(0, |e| e.len());
        let grab = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| {
            let v: Vec<i64> = encs.iter().flat_map(|e| f(e).iter().map(|&x| x as i64)).collect();
            Tensor::from_vec(v, &[encs.len(), len])
        };
        Ok((grab(&|e| e.get_ids()), grab(&|e| e.get_attention_mask()), grab(&|e| e.get_type_ids())))
    }

    /// Embeds `texts`: `[n, hidden]` `F32`, each row of unit length (mean of the last hidden
    /// state over the real tokens, then L2-normalised), as sentence-transformers' `encode`.
    /// An empty slice gives `[0, hidden]`.
    pub fn encode(&self, texts: &[&str]) -> Result<Tensor> {
        let hidden = self.model.config().hidden_size;
        if texts.is_empty() {
            return Ok(Tensor::zeros(&[0, hidden]));
        }
        let (ids, mask, types) = self.tokenize(texts)?;
        let h = no_grad(|| self.model.forward(&ids, Some(&mask), Some(&types)))?.last_hidden_state.data();
        let m = mask.to_dtype(DType::F32).unsqueeze(-1);
        let summed = (&h * &m).sum_dim(1, false);
        let counts = m.sum_dim(1, false).clamp_min(1e-9);
        let mean = &summed / &counts;
        let norm = mean.square().sum_dim(1, true).sqrt().clamp_min(1e-12);
        Ok(&mean / &norm)
    }
}
