//! The tiny random BERT written by scripts/fixtures/models.py: loading by PyTorch names,
//! tokenisation, hidden states, pooled outputs and sentence embeddings against `transformers`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ember_models::bert::BertModel;
use ember_models::SentenceEmbedder;
use ember_nn::Module;
use ember_tensor::Tensor;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> HashMap<String, Tensor> {
    ember_tensor::io::load(fixtures().join("tiny_bert_expected.safetensors")).unwrap().into_iter().collect()
}

fn texts() -> (Vec<String>, Vec<String>) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("tiny_bert_texts.json")).unwrap()).unwrap();
    let strs = |k: &str| v[k].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    (strs("texts"), strs("pair"))
}

#[track_caller]
fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    ember_testutil::assert_allclose(what, &got.to_vec::<f64>(), &want.to_vec::<f64>(), 0.0, f64::from(tol));
}

#[test]
fn loads_strictly_with_pytorchs_names() {
    let dir = fixtures().join("tiny-bert");
    let bert = BertModel::load(&dir).unwrap();
    let mut mine: Vec<String> = bert.state_dict().into_iter().map(|(n, _)| n).collect();
    let mut file: Vec<String> =
        ember_tensor::io::load(dir.join("model.safetensors")).unwrap().into_iter().map(|(n, _)| n).collect();
    mine.sort();
    file.sort();
    assert_eq!(mine, file);
    assert!(!bert.is_training(), "a loaded model is in evaluation mode");
    assert_eq!(bert.config().num_hidden_layers, 2);
}

#[test]
fn hidden_states_and_pooled_output_match_transformers() {
    let bert = BertModel::load(fixtures().join("tiny-bert")).unwrap();
    let e = expected();
    let out = bert.forward(&e["input_ids"], Some(&e["attention_mask"]), Some(&e["token_type_ids"])).unwrap();
    assert_close("last_hidden_state", &out.last_hidden_state.data(), &e["last_hidden_state"], 1e-5);
    assert_close("pooler_output", &out.pooler_output.unwrap().data(), &e["pooler_output"], 1e-5);
    // a sentence pair: token types 0 and 1, no mask
    let out = bert.forward(&e["pair_input_ids"], None, Some(&e["pair_token_type_ids"])).unwrap();
    assert_close("pair last_hidden_state", &out.last_hidden_state.data(), &e["pair_last_hidden_state"], 1e-5);
    assert_close("pair pooler_output", &out.pooler_output.unwrap().data(), &e["pair_pooler_output"], 1e-5);
}

#[test]
fn tokenizes_as_hugging_face_and_embeds_as_sentence_transformers() {
    let model = SentenceEmbedder::load(fixtures().join("tiny-bert")).unwrap();
    let e = expected();
    let (texts, pair) = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (ids, mask, types) = model.tokenize(&refs).unwrap();
    // padded to the batch's longest, not to the tokenizer.json's fixed 16
    assert_eq!(ids.shape(), e["input_ids"].shape());
    assert_eq!(ids.to_vec::<i64>(), e["input_ids"].to_vec::<i64>());
    assert_eq!(mask.to_vec::<i64>(), e["attention_mask"].to_vec::<i64>());
    assert_eq!(types.to_vec::<i64>(), e["token_type_ids"].to_vec::<i64>());
    let enc = model.tokenizer().encode((pair[0].as_str(), pair[1].as_str()), true).unwrap();
    let pair_ids: Vec<i64> = enc.get_ids().iter().map(|&i| i as i64).collect();
    assert_eq!(pair_ids, e["pair_input_ids"].to_vec::<i64>());
    let emb = model.encode(&refs).unwrap();
    assert_close("embeddings", &emb, &e["embeddings"], 1e-5);
    assert_eq!(model.encode(&[]).unwrap().shape(), &[0, 32]);
}

#[test]
fn bad_directories_and_inputs_are_errors_naming_the_cause() {
    let tmp = std::env::temp_dir().join(format!("ember-models-bad-{}", std::process::id()));
    let src = fixtures().join("tiny-bert");
    std::fs::create_dir_all(&tmp).unwrap();
    let err = BertModel::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("config.json"), "{err}");
    std::fs::write(tmp.join("config.json"), "{ not json").unwrap();
    let err = BertModel::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("config.json"), "{err}");
    let cfg = std::fs::read_to_string(src.join("config.json")).unwrap();
    std::fs::write(tmp.join("config.json"), cfg.replace("\"gelu\"", "\"mystery\"")).unwrap();
    let err = BertModel::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("hidden_act") && err.contains("mystery"), "{err}");
    std::fs::write(tmp.join("config.json"), &cfg).unwrap();
    let err = BertModel::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    std::fs::write(tmp.join("config.json"), cfg.replace("\"intermediate_size\": 64", "\"intermediate_size\": 65"))
        .unwrap();
    std::fs::copy(src.join("model.safetensors"), tmp.join("model.safetensors")).unwrap();
    let err = BertModel::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("encoder.layer.0.intermediate.dense.weight") && err.contains("[65, 32]"), "{err}");
    // an extra tensor is an unexpected key
    std::fs::write(tmp.join("config.json"), &cfg).unwrap();
    let mut state = ember_tensor::io::load(src.join("model.safetensors")).unwrap();
    state.push(("encoder.extra.weight".into(), Tensor::zeros(&[2])));
    ember_tensor::io::save(&state, tmp.join("model.safetensors")).unwrap();
    let err = BertModel::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("unexpected") && err.contains("encoder.extra.weight"), "{err}");
    let err = SentenceEmbedder::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("encoder.extra.weight"), "{err}");
    std::fs::remove_dir_all(&tmp).unwrap();
    // inputs: wrong dtype, too long, mismatched mask
    let bert = BertModel::load(&src).unwrap();
    let err = bert.forward(&Tensor::zeros(&[1, 3]), None, None).err().unwrap().to_string();
    assert!(err.contains("input_ids must be I64"), "{err}");
    let long = Tensor::from_vec(vec![1i64; 65], &[1, 65]);
    assert!(bert.forward(&long, None, None).err().unwrap().to_string().contains("len <= 64"));
    let ids = Tensor::from_vec(vec![1i64; 3], &[1, 3]);
    let err = bert.forward(&ids, Some(&Tensor::ones(&[1, 4])), None).err().unwrap().to_string();
    assert!(err.contains("attention_mask has shape [1, 4]"), "{err}");
}

/// Regressions of the `model_dir` fuzz target: parts of a directory that disagree, or a tokenizer
/// file the `tokenizers` crate panics on, are errors, never panics.
#[test]
fn mismatched_or_corrupt_parts_are_errors() {
    let tmp = std::env::temp_dir().join(format!("ember-models-parts-{}", std::process::id()));
    let src = fixtures().join("tiny-bert");
    std::fs::create_dir_all(&tmp).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), tmp.join(f)).unwrap();
    }
    // tokenizer.json cut inside its decoder: tokenizers 0.22 panics ("Helper") on it
    let tok = std::fs::read_to_string(src.join("tokenizer.json")).unwrap();
    let cut = tok.find("\"decoder\"").unwrap() + "\"decoder\":{\"typ".len();
    std::fs::write(tmp.join("tokenizer.json"), &tok[..cut]).unwrap();
    let err = ember_models::load_tokenizer(&tmp).err().unwrap().to_string();
    assert!(err.contains("tokenizer.json") && err.contains("malformed"), "{err}");
    assert!(SentenceEmbedder::load(&tmp).is_err());
    // ids past the model's vocabulary (a tokenizer of another model) and token types past its
    // type vocabulary: errors naming the value and the config key, not a panic in the lookup
    std::fs::write(tmp.join("tokenizer.json"), &tok).unwrap();
    let bert = BertModel::load(&tmp).unwrap();
    let vocab = bert.config().vocab_size as i64;
    let ids = Tensor::from_vec(vec![1i64, vocab], &[1, 2]);
    let err = bert.forward(&ids, None, None).err().unwrap().to_string();
    assert!(err.contains(&format!("input_ids holds {vocab}")) && err.contains("vocab_size"), "{err}");
    let ids = Tensor::from_vec(vec![1i64, 2], &[1, 2]);
    let types = Tensor::from_vec(vec![0i64, 2], &[1, 2]);
    let err = bert.forward(&ids, None, Some(&types)).err().unwrap().to_string();
    assert!(err.contains("token_type_ids holds 2") && err.contains("type_vocab_size"), "{err}");
    // a layer count the weights do not back: an error naming the first missing key
    let cfg = std::fs::read_to_string(src.join("config.json")).unwrap();
    std::fs::write(
        tmp.join("config.json"),
        cfg.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1000000000000000000"),
    )
    .unwrap();
    let err = BertModel::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("encoder.layer.2"), "{err}");
    std::fs::remove_dir_all(&tmp).unwrap();
}
