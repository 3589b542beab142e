//! Where the time of loading a sentence-embedding checkpoint goes: each phase of
//! `SentenceEmbedder::load` timed on its own, then the whole load, the median of several runs.
//!
//! ```text
//! cargo run --example load_time -- --model DIR [--runs N]
//! ```

use std::time::Instant;

use ember_models::bert::BertModel;
use ember_models::{load_tokenizer, SentenceEmbedder};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut runs) = (None, 9usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--model" => dir = args.next(),
            "--runs" => runs = args.next().and_then(|s| s.parse().ok()).unwrap_or(runs),
            _ => {}
        }
    }
    let dir = std::path::PathBuf::from(dir.expect("usage: load_time --model DIR [--runs N]"));
    let file = dir.join("model.safetensors");
    type Phase = (&'static str, Box<dyn Fn()>);
    let phases: Vec<Phase> = vec![
        (
            "read model.safetensors",
            Box::new({
                let f = file.clone();
                move || drop(std::fs::read(&f).unwrap())
            }),
        ),
        (
            "read + parse + copy tensors (io::load)",
            Box::new({
                let f = file.clone();
                move || drop(ember_tensor::io::load(&f).unwrap())
            }),
        ),
        (
            "tokenizer.json",
            Box::new({
                let d = dir.clone();
                move || drop(load_tokenizer(&d).unwrap())
            }),
        ),
        (
            "BertModel::load",
            Box::new({
                let d = dir.clone();
                move || drop(BertModel::load(&d).unwrap())
            }),
        ),
        (
            "SentenceEmbedder::load (all)",
            Box::new({
                let d = dir.clone();
                move || drop(SentenceEmbedder::load(&d).unwrap())
            }),
        ),
    ];
    for (name, f) in &phases {
        f(); // warm the page cache and the allocator
        let times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let (lo, hi) = times.iter().fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
        println!("{name:<42} median {:7.1} ms  (min {lo:.1}, max {hi:.1}, {runs} runs)", median(times.clone()));
    }
}
