//! The sequence-model workloads of issue 13 (mirrored shape for shape by `bench/torch_ref.py`):
//! `bert-infer`, `bert-train`, `lstm-step`, `transformer-step`. Each returns a closure that runs
//! one unit of work.

use ember::models::bert::BertModel;
use ember::prelude::*;

/// MiniLM's shape (all-MiniLM-L6-v2): 6 layers, hidden 384, 12 heads, FFN 1536, vocab 30522.
const VOCAB: usize = 30522;
const HIDDEN: usize = 384;
const LAYERS: usize = 6;
const HEADS: usize = 12;
const FFN: usize = 1536;
const MAX_POS: usize = 512;
/// 32 sequences of 40 tokens.
const BATCH: usize = 32;
const LEN: usize = 40;

fn sync(t: &Tensor) {
    std::hint::black_box(t.to_vec::<f32>().first().copied());
}

/// `shape` of N(0, 0.02²) draws (BERT's initialiser).
fn init(shape: &[usize]) -> Tensor {
    Tensor::randn(shape) * 0.02
}

/// A MiniLM-shaped BERT with random weights, through `BertModel::load` (a config and a
/// safetensors file written to a temporary directory, as a Hugging Face checkpoint is).
pub fn bert_model() -> BertModel {
    let dir = std::env::temp_dir().join(format!("ember-bench-bert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = format!(
        "{{\"vocab_size\": {VOCAB}, \"hidden_size\": {HIDDEN}, \"num_hidden_layers\": {LAYERS}, \
         \"num_attention_heads\": {HEADS}, \"intermediate_size\": {FFN}, \"max_position_embeddings\": {MAX_POS}, \
         \"hidden_act\": \"gelu\", \"type_vocab_size\": 2, \"layer_norm_eps\": 1e-12}}"
    );
    std::fs::write(dir.join("config.json"), config).expect("config.json");
    let mut w: Vec<(String, Tensor)> = vec![
        ("embeddings.word_embeddings.weight".into(), init(&[VOCAB, HIDDEN])),
        ("embeddings.position_embeddings.weight".into(), init(&[MAX_POS, HIDDEN])),
        ("embeddings.token_type_embeddings.weight".into(), init(&[2, HIDDEN])),
    ];
    let ln = |w: &mut Vec<(String, Tensor)>, p: &str| {
        w.push((format!("{p}.weight"), Tensor::ones(&[HIDDEN])));
        w.push((format!("{p}.bias"), Tensor::zeros(&[HIDDEN])));
    };
    ln(&mut w, "embeddings.LayerNorm");
    let lin = |w: &mut Vec<(String, Tensor)>, p: &str, i: usize, o: usize| {
        w.push((format!("{p}.weight"), init(&[o, i])));
        w.push((format!("{p}.bias"), Tensor::zeros(&[o])));
    };
    for l in 0..LAYERS {
        let p = format!("encoder.layer.{l}");
        for n in ["query", "key", "value"] {
            lin(&mut w, &format!("{p}.attention.self.{n}"), HIDDEN, HIDDEN);
        }
        lin(&mut w, &format!("{p}.attention.output.dense"), HIDDEN, HIDDEN);
        ln(&mut w, &format!("{p}.attention.output.LayerNorm"));
        lin(&mut w, &format!("{p}.intermediate.dense"), HIDDEN, FFN);
        lin(&mut w, &format!("{p}.output.dense"), FFN, HIDDEN);
        ln(&mut w, &format!("{p}.output.LayerNorm"));
    }
    ember::tensor::io::save(&w, dir.join("model.safetensors")).expect("model.safetensors");
    let model = BertModel::load(&dir).expect("BertModel::load");
    let _ = std::fs::remove_dir_all(&dir);
    model
}

/// Token ids `[n, LEN]` and a padding mask: sequence `i` has `LEN - 5 (i % 4)` tokens (40, 35,
/// 30, 25, 40, ...), the rest padding (id 0, mask 0).
fn batch(n: usize) -> (Tensor, Tensor) {
    let ids = Tensor::randint(1, VOCAB as i64, &[n, LEN]);
    let mask: Vec<f32> =
        (0..n).flat_map(|i| (0..LEN).map(move |j| if j < LEN - 5 * (i % 4) { 1.0 } else { 0.0 })).collect();
    let mask = Tensor::from_vec(mask, &[n, LEN]);
    let ids = &ids * &mask.to_dtype(ember::DType::I64);
    (ids, mask)
}

/// `bert-infer`: the model on 32 x 40 tokens with a padding mask, without a graph.
pub fn bert_infer(device: &Device) -> impl FnMut() {
    let model = bert_model();
    model.to_device(device);
    let (ids, mask) = batch(BATCH);
    let (ids, mask) = (ids.to(device), mask.to(device));
    move || {
        let out = no_grad(|| model.forward(&ids, Some(&mask), None).expect("forward"));
        sync(&out.last_hidden_state.data());
    }
}

/// `bert-train`: one AdamW step (lr 2e-5) on a sentence-pair cosine loss
/// (sentence-transformers' `CosineSimilarityLoss`): 16 pairs (32 sequences of 40 tokens, padded)
/// in one forward, mask-aware mean pooling, `mse(cos(u, v), label)`.
pub fn bert_train() -> impl FnMut() {
    let model = bert_model();
    model.train();
    let mut opt = optim::AdamW::new(model.parameters(), 2e-5);
    let (ids, mask) = batch(BATCH);
    let labels = Variable::from(Tensor::rand(&[BATCH / 2]));
    let m = Variable::from(mask.unsqueeze(-1));
    let count = Variable::from(mask.sum_dim(1, true));
    move || {
        let h = model.forward(&ids, Some(&mask), None).expect("forward").last_hidden_state;
        let pooled = &(&h * &m).sum_dim(1, false) / &count;
        let (u, v) = (pooled.narrow(0, 0, BATCH / 2), pooled.narrow(0, BATCH / 2, BATCH / 2));
        let cos = nn::functional::cosine_similarity(&u, &v, 1, 1e-8);
        let loss = nn::functional::mse_loss(&cos, &labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
        sync(&loss.data());
    }
}

/// `lstm-step`: Embedding(65, 64), 2-layer LSTM(64 -> 256, batch-first), Linear(256, 65) on 32 x
/// 64 characters; cross-entropy, gradient-norm clipping at 1, Adam (lr 2e-3).
pub fn lstm_step() -> impl FnMut() {
    let emb = nn::Embedding::new(65, 64);
    let lstm = nn::Lstm::new(64, 256).num_layers(2).batch_first(true);
    let head = nn::Linear::new(256, 65);
    let params: Vec<Variable> =
        emb.parameters().into_iter().chain(lstm.parameters()).chain(head.parameters()).collect();
    let mut opt = optim::Adam::new(params.clone(), 2e-3);
    let x = Variable::from(Tensor::randint(0, 65, &[32, 64]));
    let y = Variable::from(Tensor::randint(0, 65, &[32 * 64]));
    move || {
        let h = lstm.forward(&emb.forward(&x));
        let logits = head.forward(&h).reshape(&[32 * 64, 65]);
        let loss = nn::functional::cross_entropy(&logits, &y);
        opt.zero_grad();
        loss.backward();
        optim::clip_grad_norm(&params, 1.0, 2.0);
        opt.step();
        sync(&loss.data());
    }
}

/// `transformer-step`: 2 x TransformerEncoderLayer(d 128, 4 heads, FFN 512, dropout 0,
/// batch-first) on 32 x 64 x 128, mean over the sequence, Linear(128, 10), cross-entropy, Adam.
pub fn transformer_step() -> impl FnMut() {
    let layers: Vec<nn::TransformerEncoderLayer> = (0..2)
        .map(|_| nn::TransformerEncoderLayer::new(128, 4).dim_feedforward(512).dropout(0.0).batch_first(true))
        .collect();
    let head = nn::Linear::new(128, 10);
    let params: Vec<Variable> = layers.iter().flat_map(|l| l.parameters()).chain(head.parameters()).collect();
    for l in &layers {
        l.train();
    }
    let mut opt = optim::Adam::new(params, 1e-3);
    let x = Variable::from(Tensor::randn(&[32, 64, 128]));
    let y = Variable::from(Tensor::randint(0, 10, &[32]));
    move || {
        let mut h = x.clone();
        for l in &layers {
            h = l.forward(&h);
        }
        let loss = nn::functional::cross_entropy(&head.forward(&h.mean_dim(1, false)), &y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        sync(&loss.data());
    }
}
