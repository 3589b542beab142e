//! `ember-models`: pretrained models loaded from Hugging Face model directories, offline.
//!
//! A model directory holds `config.json`, `model.safetensors` and, for text models,
//! `tokenizer.json` (as `transformers`' `save_pretrained` writes them, or as downloaded from the
//! Hub). Weights load strictly by their PyTorch names; tokenization is Hugging Face's own
//! `tokenizers` crate, reading `tokenizer.json`. Nothing here opens a network connection.
//!
//! - [`bert`]: `BertModel` (BERT, MiniLM, ...), and [`SentenceEmbedder`] on top of it
//!   (sentence-transformers' mean pooling and normalisation, e.g. all-MiniLM-L6-v2);
//! - [`gpt2`]: a GPT-2 decoder with a KV cache and greedy / temperature / top-k generation.
#![warn(missing_docs)]

pub mod bert;
pub mod gpt2;
mod hub;
mod sentence;

pub use hub::{load_tokenizer, Activation};
pub use sentence::SentenceEmbedder;
/// Hugging Face's `tokenizers` crate, as the models use it.
pub use tokenizers;
