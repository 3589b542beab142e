//! The tiny BERT and GPT-2 of scripts/fixtures/models.py on the GPU (lavapipe in CI): moved with
//! `to_device`, they give `transformers`' outputs, as on the CPU. Skipped without an adapter unless
//! `EMBER_REQUIRE_GPU=1`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ember_models::bert::BertModel;
use ember_models::gpt2::{Gpt2Model, KvCache};
use ember_nn::Module;
use ember_tensor::{Device, Tensor};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(name: &str) -> HashMap<String, Tensor> {
    ember_tensor::io::load(fixtures().join(name)).unwrap().into_iter().collect()
}

fn gpu() -> Option<Device> {
    match Device::gpu() {
        Ok(d) => Some(d),
        Err(e) if std::env::var("EMBER_REQUIRE_GPU").is_ok_and(|v| v == "1") => panic!("no GPU: {e}"),
        Err(_) => None,
    }
}

#[track_caller]
fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f64) {
    assert!(!got.device().is_cpu(), "{what}: the output should stay on the GPU");
    let got = got.to(&Device::Cpu);
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    ember_testutil::assert_allclose(what, &got.to_vec::<f64>(), &want.to_vec::<f64>(), 0.0, tol);
}

#[test]
fn bert_on_the_gpu_matches_transformers() {
    let Some(dev) = gpu() else { return };
    let bert = BertModel::load(fixtures().join("tiny-bert")).unwrap();
    bert.to_device(&dev);
    let e = load("tiny_bert_expected.safetensors");
    let on = |k: &str| e[k].to(&dev);
    let out = bert.forward(&on("input_ids"), Some(&on("attention_mask")), Some(&on("token_type_ids"))).unwrap();
    assert_close("last_hidden_state", &out.last_hidden_state.data(), &e["last_hidden_state"], 1e-4);
    assert_close("pooler_output", &out.pooler_output.unwrap().data(), &e["pooler_output"], 1e-4);
    // no token types given: the zeros are made on the inputs' device
    let out = bert.forward(&on("pair_input_ids"), None, None).unwrap();
    let cpu = BertModel::load(fixtures().join("tiny-bert")).unwrap();
    let want = cpu.forward(&e["pair_input_ids"], None, None).unwrap();
    assert_close("pair, default token types", &out.last_hidden_state.data(), &want.last_hidden_state.data(), 1e-4);
}

#[test]
fn gpt2_on_the_gpu_matches_transformers_with_and_without_cache() {
    let Some(dev) = gpu() else { return };
    let m = Gpt2Model::load(fixtures().join("tiny-gpt2")).unwrap();
    m.to_device(&dev);
    let e = load("tiny_gpt2_expected.safetensors");
    let logits = m.forward(&e["prompt_ids"].to(&dev)).unwrap().data();
    assert_close("logits", &logits, &e["logits"], 1e-4);
    let ids = e["greedy_ids"].to(&dev);
    let l = ids.shape()[1];
    let full = m.forward(&ids).unwrap().data();
    let mut cache = KvCache::new();
    let first = m.forward_with_cache(&ids.narrow(1, 0, 5), &mut cache).unwrap().data();
    let rest = m.forward_with_cache(&ids.narrow(1, 5, l - 5), &mut cache).unwrap().data();
    let full = full.to(&Device::Cpu);
    assert_close("cached first", &first, &full.narrow(1, 0, 5), 1e-4);
    assert_close("cached rest", &rest, &full.narrow(1, 5, l - 5), 1e-4);
}
