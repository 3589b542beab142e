//! PyTorch's autocast op lists, CPU side: each op's output dtype and values under
//! `autocast(BF16, ..)` against `torch.autocast("cpu", dtype=torch.bfloat16)` (fixture by
//! scripts/fixtures/autocast.py): the lower-precision list (convolutions, attention, bmm), the f32
//! list (losses, prod, reflection padding), promotion of mixed dtypes (cat, stack, arithmetic)
//! and the ops that only CUDA's list moves to f32 (softmax, norms, sum, exp: BF16 on the CPU).

use std::collections::HashMap;

use ember_autograd::{autocast, autocast_inputs, autocast_policy, CastPolicy, Variable, POLICIES};
use ember_nn::functional as F;
use ember_nn::{KlDivLoss, Module, MultiheadAttention, Reduction};
use ember_tensor::{io, DType, Tensor};

fn fixtures() -> HashMap<String, Tensor> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/autocast_lists.safetensors");
    io::load(p).unwrap().into_iter().collect()
}

/// Every case of the fixture computed by Ember under autocast(BF16), by the fixture's names.
fn ember_cases(f: &HashMap<String, Tensor>) -> Vec<(&'static str, Variable)> {
    let v = |k: &str| Variable::new(f[k].clone(), true);
    let bf = |k: &str| Variable::new(f[k].to_dtype(DType::BF16), true);
    let (a, t, img) = (bf("a_bf"), v("t"), bf("img_bf"));
    let cls = Variable::from(f["cls"].clone());
    let (sgn, pos) = (v("sgn"), v("pos"));
    autocast(DType::BF16, || {
        let col = |x: &Variable| x.select(1, 0);
        vec![
            ("conv1d", F::conv1d(&v("c1_x"), &v("c1_w"), Some(&v("c1_b")), 1, 1, 1, 1)),
            ("conv3d", F::conv3d(&v("c3_x"), &v("c3_w"), Some(&v("c3_b")), 1, 0, 1, 1)),
            ("conv_transpose1d", F::conv_transpose1d(&v("t1_x"), &v("t1_w"), None, 2, 0, 0, 1, 1)),
            ("conv_transpose2d", F::conv_transpose2d(&v("t2_x"), &v("t2_w"), None, 1, 1, 0, 1, 1)),
            ("sdpa", F::scaled_dot_product_attention(&v("q"), &v("k"), &v("v"), None, 0.0, false, None)),
            ("prelu", F::prelu(&t, &v("pw"))),
            ("bmm", v("bm_a").bmm(&v("bm_b"))),
            ("matmul_f64", v("f64_a").matmul(&v("f64_b"))),
            ("mse_loss", F::mse_loss(&a, &t)),
            ("l1_loss", F::l1_loss(&a, &t)),
            ("smooth_l1_loss", F::smooth_l1_loss(&a, &t)),
            ("huber_loss", F::huber_loss(&a, &t)),
            ("cross_entropy", F::cross_entropy(&a, &cls)),
            ("nll_loss", F::nll_loss(&a, &cls)),
            ("kl_div", F::kl_div_with(&a, &t.softmax(1), &KlDivLoss::new().reduction(Reduction::Batchmean))),
            ("binary_cross_entropy", F::binary_cross_entropy(&a.sigmoid(), &t.sigmoid())),
            ("bce_with_logits", F::binary_cross_entropy_with_logits(&a, &t.sigmoid())),
            ("poisson_nll_loss", F::poisson_nll_loss(&a, &pos)),
            ("hinge_embedding_loss", F::hinge_embedding_loss(&col(&a), &sgn)),
            ("cosine_embedding_loss", F::cosine_embedding_loss(&a, &t, &sgn)),
            ("margin_ranking_loss", F::margin_ranking_loss(&col(&a), &col(&t), &sgn)),
            ("triplet_margin_loss", F::triplet_margin_loss(&a, &t, &t.mul_scalar(0.5))),
            ("gaussian_nll_loss", F::gaussian_nll_loss(&a, &t, &pos)),
            ("prod", a.select(0, 0).prod()),
            ("pad_reflect", F::pad(&img, &[1, 2, 1, 1], "reflect", 0.0)),
            ("cat", Variable::cat(&[a.clone(), t.clone()], 0)),
            ("stack", Variable::stack(&[a.clone(), t.clone()], 0)),
            ("add_mixed", &a + &t),
            ("softmax", a.softmax(1)),
            ("log_softmax", a.log_softmax(1)),
            ("layer_norm", F::layer_norm(&a, &[6], None, None, 1e-5)),
            ("group_norm", F::group_norm(&img, 2, None, None, 1e-5)),
            ("sum", a.sum()),
            ("exp", a.exp()),
            ("cumsum", a.cumsum(1)),
            ("logsumexp", a.logsumexp(1, false)),
            ("cosine_similarity", F::cosine_similarity(&a, &a.mul_scalar(2.0).add_scalar(1.0), 1, 1e-8)),
            ("interpolate", F::interpolate(&img, None, Some(2.0), "nearest", None)),
            ("pad_constant", F::pad(&img, &[1, 2], "constant", 0.0)),
        ]
    })
}

fn dtype_code(d: DType) -> i64 {
    match d {
        DType::F32 => 0,
        DType::BF16 => 1,
        DType::F64 => 2,
        other => panic!("unexpected dtype {other}"),
    }
}

#[test]
fn cpu_lists_match_pytorch_dtypes_and_values() {
    let f = fixtures();
    let names: Vec<u8> = f["names"].to_vec::<i64>().iter().map(|&b| b as u8).collect();
    let names: Vec<String> = String::from_utf8(names).unwrap().split(',').map(str::to_string).collect();
    let want_dtypes = f["dtypes"].to_vec::<i64>();
    let cases = ember_cases(&f);
    let got: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
    assert_eq!(got, names, "the test covers each fixture case, in order");
    for ((name, y), want) in cases.iter().zip(&want_dtypes) {
        assert_eq!(dtype_code(y.dtype()), *want, "{name}: output dtype {} (PyTorch's code {want})", y.dtype());
        let (g, w) = (y.data().to_dtype(DType::F64).to_vec::<f64>(), f[&format!("out_{name}")].to_dtype(DType::F64));
        let w = w.to_vec::<f64>();
        assert_eq!(g.len(), w.len(), "{name}: element count");
        // a BF16 result may differ from PyTorch's by a rounding or two of each bf16 op: 2^-6
        // relative; f32 results of 16-bit inputs agree to f32 rounding of the same arithmetic
        let tol = if *want == 1 { 1.0 / 64.0 } else { 1e-4 };
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{name}[{i}]: {a} vs PyTorch {b}");
        }
    }
}

#[test]
fn gradients_flow_through_the_casts_in_each_leaf_dtype() {
    let f = fixtures();
    let a = Variable::new(f["a_bf"].to_dtype(DType::BF16), true);
    let w = Variable::new(f["c1_w"].clone(), true);
    let x = Variable::new(f["c1_x"].clone(), false);
    let loss = autocast(DType::BF16, || {
        let y = F::conv1d(&x, &w, None, 1, 1, 1, 1); // BF16
        let l = F::mse_loss(&a, &Variable::from(f["t"].clone())); // F32
        &y.sum().to_dtype(DType::F32) + &l
    });
    assert_eq!(loss.dtype(), DType::F32);
    // a backward run inside autocast computes as the forward did (autocast is off in the walk)
    autocast(DType::BF16, || loss.backward());
    assert_eq!(a.grad().unwrap().dtype(), DType::BF16);
    assert_eq!(w.grad().unwrap().dtype(), DType::F32);
    // d mse / d a = 2 (a - t) / n
    let (av, tv) = (f["a_bf"].to_vec::<f32>(), f["t"].to_vec::<f32>());
    let ga = a.grad().unwrap().to_dtype(DType::F32).to_vec::<f32>();
    for i in 0..av.len() {
        let want = 2.0 * (av[i] - tv[i]) / av.len() as f32;
        assert!((ga[i] - want).abs() <= 1e-2 * (1.0 + want.abs()), "grad[{i}] {} vs {want}", ga[i]);
    }
}

#[test]
fn multihead_attention_runs_in_low_precision() {
    let f = fixtures();
    let mha = MultiheadAttention::new(4, 2);
    let x = Variable::from(f["v"].select(0, 0).transpose(0, 1).contiguous()); // [L=3, N=2, E=4]
    let y = autocast(DType::BF16, || mha.forward(&x));
    assert_eq!(dtype_code(y.dtype()), f["mha_dtype"].to_vec::<i64>()[0], "MultiheadAttention output dtype");
    // a BF16 query with F32 parameters is accepted inside autocast (the projections cast it)
    let yb = autocast(DType::BF16, || mha.forward(&x.to_dtype(DType::BF16)));
    assert_eq!(yb.dtype(), DType::BF16);
    assert_eq!(yb.shape(), vec![3, 2, 4]);
}

#[test]
fn policies_follow_each_device_list() {
    // every policy name is unique, and the device split is as PyTorch's lists
    for (i, (n, _)) in POLICIES.iter().enumerate() {
        assert!(POLICIES[i + 1..].iter().all(|(m, _)| m != n), "{n} listed twice");
    }
    assert_eq!(autocast_policy("softmax"), Some(CastPolicy::Fp32OnGpu));
    assert_eq!(autocast_policy("binary_cross_entropy"), Some(CastPolicy::Fp32OnCpu));
    assert_eq!(autocast_policy("cross_entropy"), Some(CastPolicy::Fp32));
    assert_eq!(autocast_policy("relu"), None);
    assert!(CastPolicy::Fp32OnGpu.applies_on(false) && !CastPolicy::Fp32OnGpu.applies_on(true));
    assert!(CastPolicy::Fp32OnCpu.applies_on(true) && !CastPolicy::Fp32OnCpu.applies_on(false));
    assert!(CastPolicy::LowerPrecision.applies_on(true) && CastPolicy::LowerPrecision.applies_on(false));
    // F16 mixed with BF16 promotes to F32, as PyTorch
    let h = Variable::from(Tensor::ones(&[2]).to_dtype(DType::F16));
    let b = Variable::from(Tensor::ones(&[2]).to_dtype(DType::BF16));
    let c = autocast(DType::F16, || autocast_inputs("cat", &[Some(&h), Some(&b)]).unwrap());
    assert_eq!((c.var(0).dtype(), c.var(1).dtype()), (DType::F32, DType::F32));
    // outside autocast mixed dtypes stay an error
    assert!(h.try_add(&b).is_err());
}

#[test]
fn f16_autocast_casts_the_lower_precision_list_to_f16() {
    let f = fixtures();
    let (q, k, v) = (Variable::from(f["q"].clone()), Variable::from(f["k"].clone()), Variable::from(f["v"].clone()));
    let (y, l) = autocast(DType::F16, || {
        let y = F::scaled_dot_product_attention(&q, &k, &v, None, 0.0, false, None);
        (y.clone(), F::mse_loss(&y, &Variable::from(Tensor::zeros(&y.shape()))))
    });
    assert_eq!((y.dtype(), l.dtype()), (DType::F16, DType::F32));
}
