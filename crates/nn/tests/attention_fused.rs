//! The fused scaled dot-product attention (`Tensor::attention` and its backward, behind
//! `F::scaled_dot_product_attention` and `MultiheadAttention`): gradients by finite differences
//! in f64 (masks, causal, an explicit scale, key length != query length, broadcast batch dims,
//! fully masked rows), second derivatives through the create_graph rule, and agreement with the
//! composite of Variable ops (the dropout path) in F32; the same for `MultiheadAttention`'s packed
//! self-attention (`fused_attention_packed`). The PyTorch fixtures are in
//! `attention.rs`.

use ember_autograd::{grad, gradcheck, Variable};
use ember_nn::functional::scaled_dot_product_attention as sdpa;
use ember_tensor::{DType, Tensor};

fn r64(shape: &[usize]) -> Tensor {
    Tensor::randn(shape).to_dtype(DType::F64)
}

#[test]
fn gradcheck_plain_causal_scaled_and_masked() {
    ember_tensor::manual_seed(7);
    // L = 3 queries, S = 5 keys, E = 4, Ev = 2, batch [2, 2]
    let (q, k, v) = (r64(&[2, 2, 3, 4]), r64(&[2, 2, 5, 4]), r64(&[2, 2, 5, 2]));
    let w = r64(&[2, 2, 3, 2]);
    let loss = |out: Variable| (&out * &Variable::from(w.clone())).sum();
    gradcheck(|x| loss(sdpa(&x[0], &x[1], &x[2], None, 0.0, false, None)), &[q.clone(), k.clone(), v.clone()]).unwrap();
    gradcheck(|x| loss(sdpa(&x[0], &x[1], &x[2], None, 0.0, true, Some(0.3))), &[q.clone(), k.clone(), v.clone()])
        .unwrap();
    // a float mask broadcast over the batch, and a Bool mask per batch element
    let fm = r64(&[3, 5]);
    gradcheck(|x| loss(sdpa(&x[0], &x[1], &x[2], Some(&fm), 0.0, false, None)), &[q.clone(), k.clone(), v.clone()])
        .unwrap();
    let bm = Tensor::rand(&[2, 1, 3, 5])
        .gt_scalar(0.4)
        .logical_or(&Tensor::from_vec(vec![1.0f32, 0.0, 0.0, 0.0, 0.0], &[1, 1, 1, 5]).gt_scalar(0.5));
    gradcheck(|x| loss(sdpa(&x[0], &x[1], &x[2], Some(&bm), 0.0, false, None)), &[q, k, v]).unwrap();
}

#[test]
fn gradcheck_broadcast_batch_and_dead_rows() {
    ember_tensor::manual_seed(8);
    // k and v shared by every head (batch dims broadcast): their gradients sum over the heads
    let (q, k, v) = (r64(&[2, 3, 4, 3]), r64(&[2, 1, 4, 3]), r64(&[2, 1, 4, 3]));
    gradcheck(|x| sdpa(&x[0], &x[1], &x[2], None, 0.0, false, None).sum(), &[q.clone(), k.clone(), v.clone()]).unwrap();
    // query 1 may attend nowhere: zero output and zero gradient there (PyTorch's SDPA)
    let mut allow = [true; 4 * 4];
    allow[4..8].fill(false);
    let mask = Tensor::from_vec(allow.iter().map(|&a| if a { 1.0 } else { 0.0 }).collect::<Vec<f64>>(), &[4, 4])
        .gt_scalar(0.5);
    let (q2, k2) = (r64(&[2, 4, 3]), r64(&[2, 4, 3]));
    let out = sdpa(
        &Variable::from(q2.clone()),
        &Variable::from(k2.clone()),
        &Variable::from(k2.clone()),
        Some(&mask),
        0.0,
        false,
        None,
    );
    assert!(out.data().select(1, 1).to_vec::<f64>().iter().all(|&x| x == 0.0));
    gradcheck(|x| sdpa(&x[0], &x[1], &x[2], Some(&mask), 0.0, false, None).square().sum(), &[q2, k2.clone(), k2])
        .unwrap();
}

#[test]
fn second_derivatives_through_create_graph() {
    ember_tensor::manual_seed(9);
    let (q, k, v) = (r64(&[2, 3, 4]), r64(&[2, 5, 4]), r64(&[2, 5, 3]));
    let fm = r64(&[2, 3, 5]);
    // the gradient of sum(out²) with respect to q, itself differentiated (gradcheck of a gradient)
    gradcheck(
        |x| {
            let out = sdpa(&x[0], &x[1], &x[2], Some(&fm), 0.0, false, None);
            let g = grad(&out.square().sum(), &[&x[0]], true);
            g[0].square().sum()
        },
        &[q, k, v],
    )
    .unwrap();
}

#[test]
fn fused_matches_composite_in_f32() {
    ember_tensor::manual_seed(10);
    let (q, k, v) = (Tensor::randn(&[3, 4, 7, 16]), Tensor::randn(&[3, 4, 9, 16]), Tensor::randn(&[3, 4, 9, 8]));
    let mask = Tensor::randn(&[3, 1, 7, 9]);
    let run = |dropout: f64| {
        let (qv, kv, vv) =
            (Variable::new(q.clone(), true), Variable::new(k.clone(), true), Variable::new(v.clone(), true));
        // dropout_p = 1e-300 takes the composite path and drops (almost surely) nothing
        let out = sdpa(&qv, &kv, &vv, Some(&mask), dropout, false, Some(0.2));
        (&out * &out).sum().backward();
        [out.data(), qv.grad().unwrap(), kv.grad().unwrap(), vv.grad().unwrap()]
    };
    let (fused, composite) = (run(0.0), run(1e-300));
    for (a, b) in fused.iter().zip(&composite) {
        for (x, y) in a.to_vec::<f32>().iter().zip(b.to_vec::<f32>()) {
            assert!((x - y).abs() <= 2e-5 * (1.0 + y.abs()), "fused {x} composite {y}");
        }
    }
}

#[test]
fn inference_needs_no_probabilities_and_bad_inputs_fail() {
    let q = Variable::from(Tensor::randn(&[2, 3, 4]));
    let out = ember_autograd::no_grad(|| sdpa(&q, &q, &q, None, 0.0, true, None));
    assert_eq!(out.shape(), vec![2, 3, 4]);
    let e =
        Tensor::try_attention(&q.data(), &q.data(), &Tensor::randn(&[2, 4, 4]), None, false, 1.0, false).unwrap_err();
    assert!(e.to_string().contains("scaled_dot_product_attention") && e.to_string().contains("[2, 4, 4]"), "{e}");
    let e = ember_nn::functional::try_scaled_dot_product_attention(&q, &q, &q, None, 1.5, false, None).unwrap_err();
    assert!(e.to_string().contains("dropout_p"), "{e}");
}

#[test]
fn strided_views_read_in_place_match_contiguous_copies() {
    ember_tensor::manual_seed(11);
    // q, k, v as multi-head attention makes them: [N, H, L, D] permuted views of [N, L, H, D]
    // (read in place, gradients written in that order); v also as a transposed view whose
    // columns are not adjacent (copied first)
    let (n, h, l, s, dd) = (2, 3, 4, 5, 6);
    let q = r64(&[n, l, h, dd]).permute(&[0, 2, 1, 3]);
    let k = r64(&[n, s, h, dd]).permute(&[0, 2, 1, 3]);
    let v = r64(&[n, h, dd, s]).transpose(-1, -2);
    let mask = r64(&[n, 1, 1, s]);
    let w = r64(&[n, h, l, dd]);
    let run = |q: &Tensor, k: &Tensor, v: &Tensor| {
        let (q, k, v) =
            (Variable::new(q.clone(), true), Variable::new(k.clone(), true), Variable::new(v.clone(), true));
        let out = sdpa(&q, &k, &v, Some(&mask), 0.0, false, None);
        let g = grad(&(&out * &Variable::from(w.clone())).sum(), &[&q, &k, &v], false);
        (
            out.data().contiguous().to_vec::<f64>(),
            g.iter().map(|g| g.data().contiguous().to_vec::<f64>()).collect::<Vec<_>>(),
        )
    };
    let (o1, g1) = run(&q, &k, &v);
    let (o2, g2) = run(&q.contiguous(), &k.contiguous(), &v.contiguous());
    let close = |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
    assert!(close(&o1, &o2), "forward differs");
    for (i, (a, b)) in g1.iter().zip(&g2).enumerate() {
        assert!(close(a, b), "gradient {i} differs");
    }
    gradcheck(
        |x| (&sdpa(&x[0], &x[1], &x[2], Some(&mask), 0.0, false, None) * &Variable::from(w.clone())).sum(),
        &[q, k, v],
    )
    .unwrap();
}

/// `MultiheadAttention`'s self-attention without weights (what the transformer layers ask) runs
/// the fused op on the packed projection (`fused_attention_packed`: q, k, v read in place, one
/// `[N, L, 3E]` gradient): gradients by finite differences in f64 with and without a padding mask,
/// second derivatives through create_graph, and the output and every parameter's gradient equal
/// to the unpacked composite path (`need_weights = true`) up to rounding.
#[test]
fn packed_self_attention_gradchecks_and_matches_the_composite() {
    use ember_nn::{Module, MultiheadAttention};
    ember_tensor::manual_seed(10);
    let mha = MultiheadAttention::new(6, 3).batch_first(true);
    mha.to_dtype(DType::F64);
    let x = r64(&[2, 4, 6]);
    let w = r64(&[2, 4, 6]);
    let kpm = Tensor::from_vec(vec![0.0f64, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0], &[2, 4]).gt_scalar(0.5);
    let packed = |x: &Variable, m: Option<&Tensor>| mha.forward_qkv(x, x, x, m, None, false).0;
    let loss = |o: Variable| (&o * &Variable::from(w.clone())).sum();
    gradcheck(|v| loss(packed(&v[0], None)), std::slice::from_ref(&x)).unwrap();
    gradcheck(|v| loss(packed(&v[0], Some(&kpm))), std::slice::from_ref(&x)).unwrap();
    gradcheck(
        |v| {
            let g = grad(&packed(&v[0], Some(&kpm)).square().sum(), &[&v[0]], true);
            g[0].square().sum()
        },
        std::slice::from_ref(&x),
    )
    .unwrap();
    // against the composite (need_weights = true computes the weights, so no fused op)
    let mut runs = Vec::new();
    for need_weights in [false, true] {
        mha.zero_grad();
        let xv = Variable::new(x.clone(), true);
        let o = mha.forward_qkv(&xv, &xv, &xv, Some(&kpm), None, need_weights).0;
        loss(o.clone()).backward();
        let grads: Vec<Vec<f64>> =
            mha.parameters().iter().map(|p| p.grad().expect("parameter grad").to_vec::<f64>()).collect();
        runs.push((o.data().to_vec::<f64>(), xv.grad().expect("input grad").to_vec::<f64>(), grads));
    }
    let near = |a: &[f64], b: &[f64], what: &str| {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-12 * (1.0 + x.abs()), "{what}[{i}]: packed {x}, composite {y}");
        }
    };
    near(&runs[0].0, &runs[1].0, "output");
    near(&runs[0].1, &runs[1].1, "input gradient");
    for (i, (a, b)) in runs[0].2.iter().zip(&runs[1].2).enumerate() {
        near(a, b, &format!("parameter {i} gradient"));
    }
}
