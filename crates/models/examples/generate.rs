//! Text generation with a GPT-2 checkpoint directory (config.json, model.safetensors,
//! tokenizer.json), greedy by default.
//!
//! ```text
//! cargo run --release --example generate -- --model DIR [--max-new-tokens N] [--temperature T]
//!     [--top-k K] [--seed S] [--no-cache] "a prompt"
//! ```

use std::time::Instant;

use ember_models::gpt2::{GenerateOptions, Gpt2Model};
use ember_models::load_tokenizer;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

fn value<T: std::str::FromStr>(flag: &str, v: Option<String>) -> T {
    v.and_then(|s| s.parse().ok()).unwrap_or_else(|| fail(format!("{flag} needs a number")))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut prompt) = (None, None);
    let mut opts = GenerateOptions::default();
    let mut ignore_eos = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--model" => dir = args.next(),
            "--max-new-tokens" => opts.max_new_tokens = value(&a, args.next()),
            "--temperature" => opts.temperature = value(&a, args.next()),
            "--top-k" => opts.top_k = Some(value(&a, args.next())),
            "--seed" => opts.seed = value(&a, args.next()),
            "--no-cache" => opts.use_cache = false,
            "--ignore-eos" => ignore_eos = true,
            _ => prompt = Some(a),
        }
    }
    let dir = dir.unwrap_or_else(|| fail("usage: generate --model DIR [options] \"a prompt\""));
    let prompt = prompt.unwrap_or_else(|| "The quick brown fox".into());
    let t = Instant::now();
    let model = Gpt2Model::load(&dir).unwrap_or_else(|e| fail(e));
    let tok = load_tokenizer(&dir).unwrap_or_else(|e| fail(e));
    let load = t.elapsed();
    opts.eos_token_id = model.config().eos_token_id.filter(|_| !ignore_eos);
    let ids = tok.encode(prompt.as_str(), false).unwrap_or_else(|e| fail(e)).get_ids().to_vec();
    let t = Instant::now();
    let out = model.generate(&ids, &opts).unwrap_or_else(|e| fail(e));
    let run = t.elapsed();
    let text = tok.decode(&out, false).unwrap_or_else(|e| fail(e));
    println!("token ids: {out:?}");
    println!("{text}");
    eprintln!(
        "loaded in {:.1} ms; {} new tokens in {:.1} ms",
        load.as_secs_f64() * 1e3,
        out.len() - ids.len(),
        run.as_secs_f64() * 1e3
    );
}
