//! MultiheadAttention, TransformerEncoderLayer and scaled_dot_product_attention against PyTorch
//! (`scripts/fixtures/fam_nn_rnn.py`): outputs, attention weights and gradients of the inputs and
//! every parameter, masks, state-dict interop, init statistics, dropout, bad inputs.

use std::collections::HashMap;

use ember_autograd::Variable;
use ember_nn::functional::{scaled_dot_product_attention, try_scaled_dot_product_attention};
use ember_nn::{Module, MultiheadAttention, TransformerEncoderLayer};
use ember_tensor::{DType, Tensor};

/// A fixture file of `crates/nn/tests/fixtures`.
struct Fx(HashMap<String, Tensor>);

impl Fx {
    fn load(file: &str) -> Fx {
        let path = format!("{}/tests/fixtures/{file}.safetensors", env!("CARGO_MANIFEST_DIR"));
        Fx(ember_tensor::io::load(&path).unwrap_or_else(|e| panic!("{path}: {e}")).into_iter().collect())
    }
    fn get(&self, case: &str, key: &str) -> Tensor {
        self.try_get(case, key).unwrap_or_else(|| panic!("fixture {case}/{key} missing"))
    }
    fn try_get(&self, case: &str, key: &str) -> Option<Tensor> {
        self.0.get(&format!("{case}/{key}")).cloned()
    }
    /// The PyTorch state dict stored for `case`.
    fn state(&self, case: &str) -> Vec<(String, Tensor)> {
        let pre = format!("{case}/p.");
        self.0.iter().filter_map(|(k, v)| k.strip_prefix(&pre).map(|n| (n.to_string(), v.clone()))).collect()
    }
}

use ember_testutil::assert_close as close;

const TOL: f64 = 1e-4;

/// Runs `case` on Variables made from its inputs `q`, `k`, `v` / `x` (requiring grad) and masks
/// `kpm`, `am`; compares each named output and every gradient with PyTorch's.
fn check(
    fx: &Fx,
    case: &str,
    m: Option<&dyn Module>,
    run: impl Fn(&HashMap<&str, Variable>, Option<&Tensor>, Option<&Tensor>) -> Vec<(&'static str, Variable)>,
) {
    if let Some(m) = m {
        m.load_state_dict(&fx.state(case)).unwrap_or_else(|e| panic!("{case}: {e}"));
    }
    let ins: HashMap<&str, Variable> = ["q", "k", "v", "x"]
        .into_iter()
        .filter_map(|k| fx.try_get(case, k).map(|t| (k, Variable::new(t, true))))
        .collect();
    let (kpm, am) = (fx.try_get(case, "kpm"), fx.try_get(case, "am"));
    let outs = run(&ins, kpm.as_ref(), am.as_ref());
    let mut loss: Option<Variable> = None;
    for (k, o) in &outs {
        close(&o.data(), &fx.get(case, k), TOL, &format!("{case}: {k}"));
        let term = (o * &Variable::from(fx.get(case, &format!("w.{k}")))).sum();
        loss = Some(match loss {
            None => term,
            Some(l) => &l + &term,
        });
    }
    loss.unwrap().backward();
    for (k, v) in &ins {
        close(&v.grad().expect("input grad"), &fx.get(case, &format!("g.{k}")), TOL, &format!("{case}: grad {k}"));
    }
    for (name, p) in m.map(|m| m.named_parameters()).unwrap_or_default() {
        let want = fx.get(case, &format!("g.p.{name}"));
        close(
            &p.grad().unwrap_or_else(|| panic!("{case}: no grad for {name}")),
            &want,
            TOL,
            &format!("{case}: grad {name}"),
        );
    }
}

fn mha_case(fx: &Fx, case: &str, m: MultiheadAttention) {
    check(fx, case, Some(&m), |ins, kpm, am| {
        let q = &ins["q"];
        let (k, v) = (ins.get("k").unwrap_or(q), ins.get("v").unwrap_or(q));
        let (out, w) = m.forward_qkv(q, k, v, kpm, am, true);
        if kpm.is_none() && am.is_none() && !ins.contains_key("k") {
            // Module::forward is the same self-attention (without weights: the fused kernel, so
            // equal up to rounding)
            close(&m.forward(q).data(), &out.data(), 1e-6, &format!("{case}: forward"));
            let (_, none) = m.forward_qkv(q, q, q, None, None, false);
            assert!(none.is_none());
        }
        vec![("out", out), ("attn", w.unwrap())]
    });
}

#[test]
fn multihead_attention_matches_pytorch() {
    let fx = Fx::load("nn_attention");
    mha_case(&fx, "mha_self", MultiheadAttention::new(8, 2));
    mha_case(&fx, "mha_self_bf", MultiheadAttention::new(8, 2).batch_first(true));
    mha_case(&fx, "mha_nobias_4h", MultiheadAttention::new(8, 4).bias(false));
    mha_case(&fx, "mha_unbatched", MultiheadAttention::new(8, 2));
}

#[test]
fn multihead_attention_masks_match_pytorch() {
    let fx = Fx::load("nn_attention");
    mha_case(&fx, "mha_qkv_masks", MultiheadAttention::new(8, 2));
    mha_case(&fx, "mha_bool_am_float_kpm_bf", MultiheadAttention::new(8, 2).batch_first(true));
    mha_case(&fx, "mha_bool_both", MultiheadAttention::new(8, 2));
    mha_case(&fx, "mha_3d_mask", MultiheadAttention::new(8, 2));
    mha_case(&fx, "mha_unbatched_masks", MultiheadAttention::new(8, 2));
}

fn tel_case(fx: &Fx, case: &str, m: TransformerEncoderLayer) {
    m.eval();
    check(fx, case, Some(&m), |ins, kpm, am| {
        let out = m.forward_with_mask(&ins["x"], am, kpm);
        if kpm.is_none() && am.is_none() {
            assert_eq!(m.forward(&ins["x"]).to_vec::<f32>(), out.to_vec::<f32>(), "{case}: forward");
        }
        vec![("out", out)]
    });
}

#[test]
fn transformer_encoder_layer_matches_pytorch_in_eval_mode() {
    let fx = Fx::load("nn_attention");
    let tel = || TransformerEncoderLayer::new(8, 2).dim_feedforward(16);
    tel_case(&fx, "tel_post_relu", tel());
    tel_case(&fx, "tel_pre_gelu_bf", tel().norm_first(true).activation_gelu().batch_first(true));
    tel_case(&fx, "tel_post_masks", tel().layer_norm_eps(1e-3));
    tel_case(&fx, "tel_pre_unbatched", tel().norm_first(true));
}

#[test]
fn scaled_dot_product_attention_matches_pytorch() {
    let fx = Fx::load("nn_attention");
    for (case, causal) in [
        ("sdpa_plain", false),
        ("sdpa_causal", true),
        ("sdpa_causal_square", true),
        ("sdpa_bool_mask", false),
        ("sdpa_float_mask", false),
    ] {
        check(&fx, case, None, |ins, _, am| {
            vec![("out", scaled_dot_product_attention(&ins["q"], &ins["k"], &ins["v"], am, 0.0, causal, None))]
        });
    }
}

#[test]
fn sdpa_bool_mask_is_true_where_attention_is_allowed() {
    // as PyTorch's SDPA: only key 1 allowed, so every query returns value 1
    let q = Variable::from(Tensor::randn(&[3, 4]));
    let k = Variable::from(Tensor::randn(&[5, 4]));
    let v = Variable::from(Tensor::randn(&[5, 2]));
    let mask = Tensor::from_vec(vec![false, true, false, false, false], &[5]);
    let out = scaled_dot_product_attention(&q, &k, &v, Some(&mask), 0.0, false, None).data();
    let v1 = v.data().select(0, 1).to_vec::<f32>();
    for i in 0..3 {
        let row = out.select(0, i).to_vec::<f32>();
        assert!(row.iter().zip(&v1).all(|(a, b)| (a - b).abs() < 1e-6), "{row:?} vs {v1:?}");
    }
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ember_nn_attention_{}_{name}", std::process::id()))
}

#[test]
fn mha_state_dict_interop_with_pytorch() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mha = MultiheadAttention::new(6, 3).batch_first(true);
    mha.load_safetensors(format!("{dir}/mha_state.safetensors")).unwrap();
    let io: HashMap<String, Tensor> =
        ember_tensor::io::load(format!("{dir}/mha_io.safetensors")).unwrap().into_iter().collect();
    let x = Variable::from(io["x"].clone());
    let (out, w) = mha.forward_qkv(&x, &x, &x, None, None, true);
    close(&out.data(), &io["out"], TOL, "attn_output");
    close(&w.unwrap().data(), &io["attn"], TOL, "attn_weights");
    close(&mha.forward(&x).data(), &io["out"], TOL, "forward");

    let path = tmp("mha.safetensors");
    mha.save_safetensors(&path).unwrap();
    let mut ours = ember_tensor::io::load(&path).unwrap();
    let mut torch = ember_tensor::io::load(format!("{dir}/mha_state.safetensors")).unwrap();
    std::fs::remove_file(&path).ok();
    ours.sort_by(|a, b| a.0.cmp(&b.0));
    torch.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = ours.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["in_proj_bias", "in_proj_weight", "out_proj.bias", "out_proj.weight"]);
    for ((n1, t1), (n2, t2)) in ours.iter().zip(&torch) {
        assert_eq!(n1, n2);
        close(t1, t2, 0.0, n1);
    }
}

/// Values of a tensor as f64.
fn vals(v: &Variable) -> Vec<f64> {
    v.data().to_vec::<f64>()
}

#[test]
fn init_matches_pytorchs_distributions() {
    ember_tensor::manual_seed(3);
    let e = 64;
    let mha = MultiheadAttention::new(e, 4);
    let names: Vec<String> = mha.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
    // xavier_uniform on [3E, E]: bound sqrt(6 / (E + 3E)), variance bound^2 / 3
    let w = vals(mha.in_proj_weight.as_ref().unwrap());
    let bound = (6.0 / (4 * e) as f64).sqrt();
    assert!(w.iter().all(|v| v.abs() <= bound));
    let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
    assert!((var / (bound * bound / 3.0) - 1.0).abs() < 0.05, "{var}");
    assert!(vals(mha.in_proj_bias.as_ref().unwrap()).iter().all(|&v| v == 0.0));
    assert!(vals(mha.out_proj.bias.as_ref().unwrap()).iter().all(|&v| v == 0.0));
    let ow = vals(&mha.out_proj.weight);
    let k = 1.0 / (e as f64).sqrt();
    assert!(ow.iter().all(|v| v.abs() <= k));
    let var = ow.iter().map(|v| v * v).sum::<f64>() / ow.len() as f64;
    assert!((var / (k * k / 3.0) - 1.0).abs() < 0.1, "{var}");

    let tel = TransformerEncoderLayer::new(16, 4).dim_feedforward(32);
    let p: HashMap<String, Variable> = tel.named_parameters().into_iter().collect();
    let shapes: Vec<(String, Vec<usize>)> = tel.named_parameters().into_iter().map(|(n, v)| (n, v.shape())).collect();
    let s = |n: &str, sh: &[usize]| (n.to_string(), sh.to_vec());
    assert_eq!(
        shapes,
        [
            s("self_attn.in_proj_weight", &[48, 16]),
            s("self_attn.in_proj_bias", &[48]),
            s("self_attn.out_proj.weight", &[16, 16]),
            s("self_attn.out_proj.bias", &[16]),
            s("linear1.weight", &[32, 16]),
            s("linear1.bias", &[32]),
            s("linear2.weight", &[16, 32]),
            s("linear2.bias", &[16]),
            s("norm1.weight", &[16]),
            s("norm1.bias", &[16]),
            s("norm2.weight", &[16]),
            s("norm2.bias", &[16]),
        ]
    );
    assert!(vals(&p["norm1.weight"]).iter().all(|&v| v == 1.0));
    assert!(vals(&p["norm2.bias"]).iter().all(|&v| v == 0.0));
    assert!(vals(&p["linear1.weight"]).iter().all(|v| v.abs() <= 0.25));
    assert!(vals(&p["linear2.weight"]).iter().all(|v| v.abs() <= 1.0 / 32f64.sqrt()));
    let nb = TransformerEncoderLayer::new(16, 4).dim_feedforward(32).bias(false);
    let names: Vec<String> = nb.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "self_attn.in_proj_weight",
            "self_attn.out_proj.weight",
            "linear1.weight",
            "linear2.weight",
            "norm1.weight",
            "norm2.weight"
        ]
    );
}

#[test]
fn attention_dropout_only_in_training() {
    // one head, so the returned weights are the dropped-out ones (averaging over one head is exact)
    let mha = MultiheadAttention::new(4, 1).dropout(0.5);
    let x = Variable::from(Tensor::randn(&[6, 2, 4]));
    mha.eval();
    let (_, w_eval) = mha.forward_qkv(&x, &x, &x, None, None, true);
    mha.train();
    let (_, w_train) = mha.forward_qkv(&x, &x, &x, None, None, true);
    let (we, wt) = (vals(&w_eval.unwrap()), vals(&w_train.unwrap()));
    let zeros = wt.iter().filter(|&&v| v == 0.0).count();
    assert!(zeros > 0 && zeros < wt.len(), "{zeros} of {} dropped", wt.len());
    for (a, b) in wt.iter().zip(&we) {
        assert!(*a == 0.0 || (a - 2.0 * b).abs() < 1e-6, "kept weights are scaled by 1/(1-p)");
    }

    let tel = TransformerEncoderLayer::new(8, 2).dim_feedforward(16);
    let x = Variable::from(Tensor::randn(&[5, 3, 8]));
    assert!(tel.is_training());
    assert_ne!(tel.forward(&x).to_vec::<f32>(), tel.forward(&x).to_vec::<f32>());
    tel.eval();
    assert!(!tel.self_attn.is_training());
    assert_eq!(tel.forward(&x).to_vec::<f32>(), tel.forward(&x).to_vec::<f32>());
}

fn err_of<T>(r: ember_tensor::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_inputs_name_the_layer_and_shapes() {
    let e = err_of(MultiheadAttention::try_new(10, 3));
    assert!(e.contains("MultiheadAttention") && e.contains("embed_dim (10)") && e.contains("num_heads (3)"), "{e}");
    let e = err_of(TransformerEncoderLayer::try_new(10, 4));
    assert!(e.contains("TransformerEncoderLayer") && e.contains("divisible"), "{e}");

    let mha = MultiheadAttention::new(8, 2);
    let v = |s: &[usize]| Variable::from(Tensor::zeros(s));
    let (q, kv) = (v(&[4, 3, 8]), v(&[6, 3, 8]));
    let e = err_of(mha.try_forward_qkv(&v(&[4, 3, 6]), &kv, &kv, None, None, true));
    assert!(e.contains("MultiheadAttention") && e.contains("embedding dim 8") && e.contains("[4, 3, 6]"), "{e}");
    let e = err_of(mha.try_forward_qkv(&v(&[1, 4, 3, 8]), &kv, &kv, None, None, true));
    assert!(e.contains("4-D") && e.contains("[1, 4, 3, 8]"), "{e}");
    let e = err_of(mha.try_forward_qkv(&q, &v(&[6, 8]), &v(&[6, 8]), None, None, true));
    assert!(e.contains("key and value must be 3-D"), "{e}");
    let e = err_of(mha.try_forward_qkv(&q, &kv, &v(&[5, 3, 8]), None, None, true));
    assert!(e.contains("key shape [6, 3, 8] does not match value shape [5, 3, 8]"), "{e}");
    let e = err_of(mha.try_forward_qkv(&q, &v(&[6, 2, 8]), &v(&[6, 2, 8]), None, None, true));
    assert!(e.contains("batch sizes (3 vs 2)"), "{e}");
    let e = err_of(mha.try_forward_qkv(&q, &kv, &kv, None, Some(&Tensor::zeros(&[4, 5])), true));
    assert!(e.contains("2-D attn_mask has shape [4, 5]") && e.contains("[4, 6]"), "{e}");
    let e = err_of(mha.try_forward_qkv(&q, &kv, &kv, None, Some(&Tensor::zeros(&[3, 4, 6])), true));
    assert!(e.contains("3-D attn_mask has shape [3, 4, 6]") && e.contains("[6, 4, 6]"), "{e}");
    let e = err_of(mha.try_forward_qkv(&q, &kv, &kv, None, Some(&Tensor::zeros(&[6])), true));
    assert!(e.contains("attn_mask must be 2-D or 3-D"), "{e}");
    let e = err_of(mha.try_forward_qkv(&q, &kv, &kv, Some(&Tensor::zeros(&[6, 3])), None, true));
    assert!(e.contains("key_padding_mask") && e.contains("[3, 6]") && e.contains("[6, 3]"), "{e}");
    let ints = Tensor::from_vec(vec![0i64; 18], &[3, 6]);
    let e = err_of(mha.try_forward_qkv(&q, &kv, &kv, Some(&ints), None, true));
    assert!(e.contains("key_padding_mask must be Bool") && e.contains("I64"), "{e}");
    let e = err_of(mha.try_forward_qkv(
        &Variable::from(Tensor::zeros_dtype(&[4, 3, 8], DType::F64)),
        &kv,
        &kv,
        None,
        None,
        true,
    ));
    assert!(e.contains("dtype F32") && e.contains("F64"), "{e}");

    let tel = TransformerEncoderLayer::new(8, 2);
    let e = err_of(tel.try_forward_with_mask(&v(&[5, 3, 6]), None, None));
    assert!(e.contains("TransformerEncoderLayer") && e.contains("d_model = 8") && e.contains("[5, 3, 6]"), "{e}");
    let e = err_of(tel.try_forward_with_mask(&v(&[5, 3, 8]), Some(&Tensor::zeros(&[5, 4])), None));
    assert!(e.contains("TransformerEncoderLayer: self_attn: MultiheadAttention") && e.contains("[5, 4]"), "{e}");

    let (q, k) = (v(&[2, 4, 8]), v(&[2, 6, 8]));
    let e = err_of(try_scaled_dot_product_attention(&q, &v(&[2, 6, 7]), &k, None, 0.0, false, None));
    assert!(e.contains("scaled_dot_product_attention") && e.contains("[2, 4, 8]") && e.contains("[2, 6, 7]"), "{e}");
    let e = err_of(try_scaled_dot_product_attention(&q, &k, &v(&[2, 5, 3]), None, 0.0, false, None));
    assert!(e.contains("sequence length") && e.contains("[2, 5, 3]"), "{e}");
    let e = err_of(try_scaled_dot_product_attention(&q, &k, &k, Some(&Tensor::zeros(&[4, 5])), 0.0, false, None));
    assert!(e.contains("attn_mask of shape [4, 5]") && e.contains("[2, 4, 6]"), "{e}");
    let e = err_of(try_scaled_dot_product_attention(&q, &k, &k, Some(&Tensor::zeros(&[4, 6])), 0.0, true, None));
    assert!(e.contains("is_causal"), "{e}");
    let e = err_of(try_scaled_dot_product_attention(&v(&[8]), &k, &k, None, 0.0, false, None));
    assert!(e.contains("at least 2-D"), "{e}");
    let e = err_of(try_scaled_dot_product_attention(&v(&[3, 4, 8]), &k, &k, None, 0.0, false, None));
    assert!(e.contains("do not broadcast"), "{e}");
}

#[test]
#[should_panic(expected = "MultiheadAttention: embed_dim (6) must be divisible by num_heads (4)")]
fn new_panics_on_indivisible_heads() {
    let _ = MultiheadAttention::new(6, 4);
}

#[test]
#[should_panic(expected = "MultiheadAttention: expected embedding dim 8")]
fn forward_panics_with_the_message() {
    let _ = MultiheadAttention::new(8, 2).forward(&Variable::from(Tensor::zeros(&[3, 2, 4])));
}

#[test]
fn fully_masked_queries_follow_pytorch() {
    // SDPA (and MHA without weights, which PyTorch runs through SDPA): zeros, zero gradient
    let q = Variable::new(Tensor::randn(&[3, 4]), true);
    let mut m = vec![true; 9];
    m[..3].fill(false); // query 0 may attend nowhere
    let mask = Tensor::from_vec(m, &[3, 3]);
    let out = scaled_dot_product_attention(&q, &q, &q, Some(&mask), 0.0, false, None);
    assert!(out.data().select(0, 0).to_vec::<f32>().iter().all(|&v| v == 0.0));
    assert!(out.data().select(0, 1).to_vec::<f32>().iter().any(|&v| v != 0.0));
    out.sum().backward();
    assert!(q.grad().unwrap().to_vec::<f32>().iter().all(|v| v.is_finite()));

    // MHA with weights: NaN, as PyTorch's explicit softmax
    let mha = MultiheadAttention::new(4, 1);
    let x = Variable::from(Tensor::randn(&[3, 1, 4]));
    let kpm = Tensor::from_vec(vec![true; 3], &[1, 3]);
    let (o, w) = mha.forward_qkv(&x, &x, &x, Some(&kpm), None, true);
    assert!(o.to_vec::<f32>().iter().all(|v| v.is_nan()) && w.unwrap().to_vec::<f32>().iter().all(|v| v.is_nan()));
    let (o, _) = mha.forward_qkv(&x, &x, &x, Some(&kpm), None, false);
    assert!(o.to_vec::<f32>().iter().all(|&v| v == 0.0)); // out_proj of zeros, zero bias
}
