//! The `model_dir` target: a Hugging Face model directory (`config.json`, `model.safetensors`,
//! `tokenizer.json`) flattened into one input, unpacked into a scratch directory and loaded through
//! `ember::models` (`BertModel::load`, `SentenceEmbedder::load`, `Gpt2Model::load`); whatever
//! loads is run once (a forward pass, an encode, a short generation), since a directory whose
//! parts disagree (a tokenizer with more ids than the model's vocabulary, a config whose sizes
//! overflow) fails there rather than at load.
//!
//! The flat form ([`unpack`]): for each of the three files in that order, a 4-byte little-endian
//! length and that many bytes. A length of 0 leaves the file out; a length past the end of the
//! input is cut to what is there, so most mutants still unpack into a directory.
//! `fuzz/corpus/make_model_corpus.py` writes the seeds.

use std::path::Path;

use ember::models::bert::BertModel;
use ember::models::gpt2::{GenerateOptions, Gpt2Model};
use ember::models::{load_tokenizer, SentenceEmbedder};
use ember::{DType, Tensor};

/// The files of a flattened model directory, in the order they are stored.
pub const FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// Splits a flattened model directory into its files (`None`: absent).
pub fn unpack(input: &[u8]) -> [Option<&[u8]>; 3] {
    let mut rest = input;
    let mut out = [None; 3];
    for slot in &mut out {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else { break };
        let len = (u32::from_le_bytes(*len) as usize).min(tail.len());
        let (part, tail) = tail.split_at(len);
        if len > 0 {
            *slot = Some(part);
        }
        rest = tail;
    }
    out
}

/// Writes the files of `input` into `dir` (created), removing those it leaves out.
fn write_dir(input: &[u8], dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, part) in FILES.iter().zip(unpack(input)) {
        let path = dir.join(name);
        match part {
            Some(bytes) => std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?,
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    Ok(())
}

/// Texts the loaded models are run on: plain words, an empty text, text outside the vocabulary.
const TEXTS: [&str; 3] = ["the quick brown fox", "", "zyxw \u{2603} \u{00e9}t\u{00e9} 3.14!"];

/// Loads the model directory at `path` (a flattened one, unpacked beside it) with every loader.
pub fn run(path: &Path) -> Result<(), String> {
    let input = std::fs::read(path).map_err(|e| e.to_string())?;
    let dir = path.with_extension("dir");
    write_dir(&input, &dir)?;
    let mut errors = Vec::new();
    let mut loaded = false;
    match BertModel::load(&dir) {
        Ok(bert) => {
            loaded = true;
            let n = bert.config().vocab_size.min(3) as i64;
            let ids = Tensor::from_vec((0..n).collect::<Vec<i64>>(), &[1, n as usize]);
            match bert.forward(&ids, None, None) {
                Ok(out) => check_shape(&out.last_hidden_state.data(), &[1, n as usize, bert.config().hidden_size]),
                Err(e) => errors.push(format!("forward: {e}")),
            }
        }
        Err(e) => errors.push(format!("BertModel: {e}")),
    }
    match SentenceEmbedder::load(&dir) {
        Ok(s) => {
            loaded = true;
            match s.encode(&TEXTS) {
                Ok(e) => check_shape(&e, &[TEXTS.len(), s.model().config().hidden_size]),
                Err(e) => errors.push(format!("encode: {e}")),
            }
        }
        Err(e) => errors.push(format!("SentenceEmbedder: {e}")),
    }
    match Gpt2Model::load(&dir) {
        Ok(gpt) => {
            loaded = true;
            let prompt: Vec<u32> = match load_tokenizer(&dir) {
                Ok(tok) => tok.encode(TEXTS[0], false).map(|e| e.get_ids().to_vec()).unwrap_or_default(),
                Err(_) => vec![0, 1],
            };
            let opts = GenerateOptions { max_new_tokens: 2, ..Default::default() };
            match gpt.generate(&prompt, &opts) {
                Ok(seq) => {
                    assert_eq!(seq.len(), prompt.len() + 2, "generate returned {} ids", seq.len());
                    let vocab = gpt.config().vocab_size as u32;
                    assert!(seq[prompt.len()..].iter().all(|&t| t < vocab), "generated ids {seq:?} past {vocab}");
                }
                Err(e) => errors.push(format!("generate: {e}")),
            }
        }
        Err(e) => errors.push(format!("Gpt2Model: {e}")),
    }
    if loaded {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// A model output must have the shape its config implies and hold that many readable values.
fn check_shape(t: &Tensor, want: &[usize]) {
    assert_eq!(t.shape(), want, "output shape");
    let v = t.to_dtype(DType::F64).to_vec::<f64>();
    assert_eq!(v.len(), want.iter().product::<usize>(), "output of shape {want:?} holds {} values", v.len());
}

#[cfg(test)]
mod tests {
    use super::unpack;

    #[test]
    fn unpack_cuts_lengths_to_the_input() {
        let mut input = 3u32.to_le_bytes().to_vec();
        input.extend_from_slice(b"abc");
        input.extend_from_slice(&0u32.to_le_bytes());
        input.extend_from_slice(&u32::MAX.to_le_bytes());
        input.extend_from_slice(b"xy");
        assert_eq!(unpack(&input), [Some(&b"abc"[..]), None, Some(&b"xy"[..])]);
        assert_eq!(unpack(&[1, 0]), [None, None, None]);
    }
}
