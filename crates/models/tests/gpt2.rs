//! The tiny random GPT-2 written by scripts/fixtures/models.py: names, logits and greedy tokens
//! against `transformers`, the KV cache against full recomputation, seeded sampling.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ember_models::gpt2::{GenerateOptions, Gpt2Model, KvCache};
use ember_models::load_tokenizer;
use ember_nn::Module;
use ember_tensor::Tensor;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-gpt2")
}

fn expected() -> HashMap<String, Tensor> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_gpt2_expected.safetensors");
    ember_tensor::io::load(p).unwrap().into_iter().collect()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.to_vec::<f32>().iter().zip(b.to_vec::<f32>()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn u32s(t: &Tensor) -> Vec<u32> {
    t.to_vec::<i64>().into_iter().map(|i| i as u32).collect()
}

#[test]
fn loads_by_pytorch_names_and_matches_logits() {
    let m = Gpt2Model::load(dir()).unwrap();
    let mut names: Vec<String> = m.state_dict().into_iter().map(|(n, _)| format!("transformer.{n}")).collect();
    let mut file: Vec<String> =
        ember_tensor::io::load(dir().join("model.safetensors")).unwrap().into_iter().map(|(n, _)| n).collect();
    names.sort();
    file.sort();
    assert_eq!(names, file);
    let e = expected();
    let logits = m.forward(&e["prompt_ids"]).unwrap().data();
    let d = max_diff(&logits, &e["logits"]);
    assert!(d < 1e-4, "logits: max |ember - torch| = {d:e}");
}

#[test]
fn the_tokenizer_encodes_the_prompt_as_transformers() {
    let tok = load_tokenizer(dir()).unwrap();
    let prompt: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_gpt2_prompt.json"))
            .unwrap(),
    )
    .unwrap();
    let enc = tok.encode(prompt["prompt"].as_str().unwrap(), false).unwrap();
    assert_eq!(enc.get_ids(), u32s(&expected()["prompt_ids"]));
}

#[test]
fn greedy_tokens_equal_transformers_with_and_without_cache() {
    let m = Gpt2Model::load(dir()).unwrap();
    let e = expected();
    let prompt = u32s(&e["prompt_ids"]);
    let want = u32s(&e["greedy_ids"]);
    let n = want.len() - prompt.len();
    let cached = m.generate(&prompt, &GenerateOptions { max_new_tokens: n, ..Default::default() }).unwrap();
    assert_eq!(cached, want);
    let full =
        m.generate(&prompt, &GenerateOptions { max_new_tokens: n, use_cache: false, ..Default::default() }).unwrap();
    assert_eq!(full, want);
}

#[test]
fn cached_logits_equal_full_logits() {
    let m = Gpt2Model::load(dir()).unwrap();
    let ids = expected()["greedy_ids"].clone();
    let l = ids.shape()[1];
    let full = m.forward(&ids).unwrap().data();
    let mut cache = KvCache::new();
    let first = m.forward_with_cache(&ids.narrow(1, 0, 5), &mut cache).unwrap().data();
    assert_eq!(cache.len(), 5);
    let rest = m.forward_with_cache(&ids.narrow(1, 5, l - 5), &mut cache).unwrap().data();
    assert_eq!(cache.len(), l);
    assert!(max_diff(&first, &full.narrow(1, 0, 5)) < 1e-5);
    assert!(max_diff(&rest, &full.narrow(1, 5, l - 5)) < 1e-5);
}

#[test]
fn sampling_repeats_for_a_seed_and_respects_top_k() {
    let m = Gpt2Model::load(dir()).unwrap();
    let prompt = u32s(&expected()["prompt_ids"]);
    let opts = GenerateOptions { max_new_tokens: 12, temperature: 1.5, top_k: Some(5), seed: 42, ..Default::default() };
    let a = m.generate(&prompt, &opts).unwrap();
    assert_eq!(a, m.generate(&prompt, &opts).unwrap());
    assert_eq!(a.len(), prompt.len() + 12);
    let other = m.generate(&prompt, &GenerateOptions { seed: 43, ..opts.clone() }).unwrap();
    let greedy = m.generate(&prompt, &GenerateOptions { max_new_tokens: 12, ..Default::default() }).unwrap();
    assert!(other != a || a != greedy, "different seeds or greedy give a different continuation");
    // top_k = 1 is greedy whatever the temperature
    let k1 = m.generate(&prompt, &GenerateOptions { top_k: Some(1), ..opts.clone() }).unwrap();
    assert_eq!(k1, greedy);
    // every sampled token is among the 5 most likely at its step
    for t in prompt.len()..a.len() {
        let ids = Tensor::from_vec(a[..t].iter().map(|&i| i as i64).collect::<Vec<_>>(), &[1, t]);
        let last = m.forward(&ids).unwrap().data().select(1, t as i64 - 1).reshape(&[-1]).to_vec::<f32>();
        let rank = last.iter().filter(|&&x| x > last[a[t] as usize]).count();
        assert!(rank < 5, "token {} at step {t} has rank {rank}", a[t]);
    }
    // eos stops early
    let stop = greedy[prompt.len() + 2];
    let early = m
        .generate(&prompt, &GenerateOptions { max_new_tokens: 12, eos_token_id: Some(stop), ..Default::default() })
        .unwrap();
    assert_eq!(*early.last().unwrap(), stop);
    assert!(early.len() <= prompt.len() + 3);
}

#[test]
fn bad_options_and_configs_are_errors() {
    let m = Gpt2Model::load(dir()).unwrap();
    let err = m.generate(&[1, 2], &GenerateOptions { max_new_tokens: 100, ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("n_positions 64"), "{err}");
    assert!(m.generate(&[], &GenerateOptions::default()).is_err());
    let err = m.generate(&[1], &GenerateOptions { temperature: -1.0, ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("temperature"), "{err}");
    let tmp = std::env::temp_dir().join(format!("ember-gpt2-bad-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let cfg = std::fs::read_to_string(dir().join("config.json")).unwrap();
    std::fs::write(tmp.join("config.json"), cfg.replace("gelu_new", "gelu_fancy")).unwrap();
    let err = Gpt2Model::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("activation_function") && err.contains("gelu_fancy"), "{err}");
    std::fs::write(tmp.join("config.json"), cfg.replace("\"n_embd\": 32", "\"n_embd\": 64")).unwrap();
    std::fs::copy(dir().join("model.safetensors"), tmp.join("model.safetensors")).unwrap();
    let err = Gpt2Model::load(&tmp).err().unwrap().to_string();
    assert!(err.contains("transformer.h.0.ln_1.weight") && err.contains("[64]"), "{err}");
    std::fs::remove_dir_all(&tmp).unwrap();
}
