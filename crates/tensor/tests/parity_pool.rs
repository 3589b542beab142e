//! Pooling (max with indices, avg, adaptive avg, 1-d) and their backward kernels against PyTorch
//! fixtures, f32 and f64; large random cases against a naive reference; the error messages.

mod common;

use common::{assert_close, Fixtures};
use ember_tensor::{DType, Tensor};

type P2 = [usize; 2];

fn tol(case: &str) -> f64 {
    if case.ends_with("f64") {
        1e-10
    } else {
        1e-5
    }
}

/// A non-contiguous view holding the same values (H and W stored swapped).
fn strided(x: &Tensor) -> Tensor {
    let r = x.rank();
    x.transpose(r - 1, r - 2).contiguous().transpose(r - 1, r - 2)
}

/// Compares a computed input gradient with PyTorch's `grad0` of `case`.
#[track_caller]
fn check_grad(fx: &Fixtures, case: &str, got: &Tensor) {
    let want = fx.get(case, "grad0").unwrap_or_else(|| panic!("{case}: no grad0"));
    assert_close(got, &want, tol(case), &format!("pool/{case}/grad0"));
}

// name, kernel, stride, padding, dilation, ceil_mode (as scripts/fixtures/fam_pool.py)
const MAX_CASES: [(&str, P2, P2, P2, P2, bool); 12] = [
    ("k2s2", [2, 2], [2, 2], [0, 0], [1, 1], false),
    ("k2s2_odd", [2, 2], [2, 2], [0, 0], [1, 1], false),
    ("k2s2_ceil", [2, 2], [2, 2], [0, 0], [1, 1], true),
    ("k3s2p1", [3, 3], [2, 2], [1, 1], [1, 1], false),
    ("k3s1p1d2", [3, 3], [1, 1], [1, 1], [2, 2], false),
    ("rect", [2, 3], [1, 2], [1, 1], [1, 1], false),
    ("ceil_pad", [3, 3], [2, 2], [1, 1], [1, 1], true),
    ("dil_ceil", [3, 2], [2, 3], [1, 1], [2, 3], true),
    ("unbatched", [3, 3], [2, 2], [1, 1], [1, 1], false),
    ("ties_k3s1p1", [3, 3], [1, 1], [1, 1], [1, 1], false),
    ("ties_k2s2", [2, 2], [2, 2], [0, 0], [1, 1], false),
    ("ties_dil", [2, 2], [1, 1], [1, 1], [2, 2], true),
];

// name, kernel, stride, padding, ceil_mode
const AVG_CASES: [(&str, P2, P2, P2, bool); 7] = [
    ("k2s2", [2, 2], [2, 2], [0, 0], false),
    ("k3s2p1", [3, 3], [2, 2], [1, 1], false),
    ("ceil_pad", [3, 3], [2, 2], [1, 1], true),
    ("rect_ceil", [2, 3], [2, 2], [1, 1], true),
    ("k2s2_ceil_odd", [2, 2], [2, 2], [0, 0], true),
    ("k3s3p1_ceil", [3, 3], [3, 3], [1, 1], true),
    ("unbatched", [3, 3], [2, 2], [1, 1], false),
];

const ADAPTIVE_CASES: [(&str, P2); 6] =
    [("nondiv", [3, 4]), ("small", [2, 3]), ("div", [4, 4]), ("global", [1, 1]), ("up", [5, 4]), ("unbatched", [2, 3])];

/// Checks a max-pool case: values and indices (contiguous and strided input), and the backward.
fn check_max(fx: &Fixtures, case: &str, k: P2, s: P2, p: P2, d: P2, ceil: bool) {
    fx.check(case, tol(case), |x| {
        let (v, i) = x[0].max_pool2d_with_indices(k, s, p, d, ceil);
        assert_eq!(i.dtype(), DType::I64);
        let (vs, is) = strided(&x[0]).max_pool2d_with_indices(k, s, p, d, ceil);
        assert_close(&vs, &v, 0.0, &format!("{case} strided values"));
        assert_close(&is, &i, 0.0, &format!("{case} strided indices"));
        assert_close(&strided(&x[0]).max_pool2d(k, s, p, d, ceil), &v, 0.0, &format!("{case} max_pool2d"));
        vec![v, i]
    });
    if let Some(gout) = fx.get(case, "gout0") {
        let x = &fx.inputs(case)[0];
        let idx = &fx.outputs(case)[1];
        check_grad(fx, case, &Tensor::max_pool2d_backward(&gout, idx, x.shape()));
        check_grad(fx, case, &Tensor::max_pool2d_backward(&strided(&gout), &strided(idx), x.shape()));
        // the gather by windows (the autograd's form): the same gradient
        check_grad(fx, case, &Tensor::max_pool2d_with_indices_backward(&gout, idx, x.shape(), k, s, p, d, ceil));
        let g = Tensor::max_pool2d_with_indices_backward(&strided(&gout), &strided(idx), x.shape(), k, s, p, d, ceil);
        check_grad(fx, case, &g);
    }
}

#[test]
fn pool_matches_pytorch() {
    let fx = Fixtures::load("pool");
    for sfx in ["f32", "f64"] {
        for (name, k, s, p, d, ceil) in MAX_CASES {
            check_max(&fx, &format!("max_{name}_{sfx}"), k, s, p, d, ceil);
        }
        for (name, k, s, p, ceil) in AVG_CASES {
            for incl in [true, false] {
                let case = format!("avg_{name}_{}_{sfx}", if incl { "incl" } else { "excl" });
                fx.check1(&case, tol(&case), |x| {
                    let y = x[0].avg_pool2d(k, s, p, ceil, incl);
                    assert_close(&strided(&x[0]).avg_pool2d(k, s, p, ceil, incl), &y, tol(&case), &case);
                    y
                });
                let (x, gout) = (&fx.inputs(&case)[0], fx.get(&case, "gout0").unwrap());
                check_grad(&fx, &case, &Tensor::avg_pool2d_backward(&gout, x.shape(), k, s, p, ceil, incl));
            }
        }
        for (name, out) in ADAPTIVE_CASES {
            let case = format!("adaptive_{name}_{sfx}");
            fx.check1(&case, tol(&case), |x| strided(&x[0]).adaptive_avg_pool2d(out));
            let (x, gout) = (&fx.inputs(&case)[0], fx.get(&case, "gout0").unwrap());
            check_grad(&fx, &case, &Tensor::adaptive_avg_pool2d_backward(&gout, x.shape()));
        }
        // 1-d: forward through the wrappers, backward through the 2-d kernels with H = 1
        for (name, k, s, p) in [("max1d", 3, 2, 1), ("max1d_unbatched", 2, 2, 0)] {
            let case = format!("{name}_{sfx}");
            fx.check1(&case, tol(&case), |x| x[0].max_pool1d(k, s, p));
            let x = fx.inputs(&case)[0].unsqueeze(-2);
            let (_, idx) = x.max_pool2d_with_indices([1, k], [1, s], [0, p], [1, 1], false);
            let gout = fx.get(&case, "gout0").unwrap().unsqueeze(-2);
            check_grad(&fx, &case, &Tensor::max_pool2d_backward(&gout, &idx, x.shape()).squeeze(-2));
        }
        for (name, k, s, p) in [("avg1d", 3, 2, 1), ("avg1d_unbatched", 2, 1, 1)] {
            let case = format!("{name}_{sfx}");
            fx.check1(&case, tol(&case), |x| x[0].avg_pool1d(k, s, p));
            let x = fx.inputs(&case)[0].unsqueeze(-2);
            let gout = fx.get(&case, "gout0").unwrap().unsqueeze(-2);
            let g = Tensor::avg_pool2d_backward(&gout, x.shape(), [1, k], [1, s], [0, p], false, true);
            check_grad(&fx, &case, &g.squeeze(-2));
        }
    }
    check_max(&fx, "max_nan_k2s2_f32", [2, 2], [2, 2], [0, 0], [1, 1], false);
    check_max(&fx, "max_nan_k3s1p1_f32", [3, 3], [1, 1], [1, 1], [1, 1], false);
    check_max(&fx, "max_all_pad_f32", [2, 2], [1, 1], [1, 1], [2, 2], false);
    check_max(&fx, "max_empty_batch_f32", [2, 2], [2, 2], [0, 0], [1, 1], false);
    fx.check1("avg_empty_batch_f32", 0.0, |x| x[0].avg_pool2d([2, 2], [2, 2], [0, 0], false, true));
    fx.check1("adaptive_zero_out_f32", 0.0, |x| x[0].adaptive_avg_pool2d([0, 3]));
    fx.finish();
}

/// PyTorch's output size (floor or ceil mode).
fn out_len(i: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let (i, k, s, p, d) = (i as i64, k as i64, s as i64, p as i64, d as i64);
    let mut o = (i + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 }).div_euclid(s) + 1;
    if ceil && (o - 1) * s >= i + p {
        o -= 1;
    }
    o as usize
}

/// Naive max pool over NCHW `x`: values, plane indices, and the scatter of `gout` by those indices.
#[allow(clippy::too_many_arguments)]
fn naive_max(x: &[f64], sh: [usize; 4], k: P2, s: P2, p: P2, d: P2, ceil: bool, gout: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let [n, c, h, w] = sh;
    let (oh, ow) = (out_len(h, k[0], s[0], p[0], d[0], ceil), out_len(w, k[1], s[1], p[1], d[1], ceil));
    let (mut out, mut gin) = (Vec::new(), vec![0.0; x.len()]);
    for pl in 0..n * c {
        for y in 0..oh {
            for z in 0..ow {
                let mut best: Option<(f64, usize)> = None;
                for a in 0..k[0] {
                    for b in 0..k[1] {
                        let ih = (y * s[0] + a * d[0]) as i64 - p[0] as i64;
                        let iw = (z * s[1] + b * d[1]) as i64 - p[1] as i64;
                        if ih < 0 || iw < 0 || ih >= h as i64 || iw >= w as i64 {
                            continue;
                        }
                        let at = ih as usize * w + iw as usize;
                        let v = x[pl * h * w + at];
                        if best.is_none_or(|(m, _)| v > m) {
                            best = Some((v, at));
                        }
                    }
                }
                let (m, at) = best.unwrap();
                out.push(m);
                gin[pl * h * w + at] += gout[out.len() - 1];
            }
        }
    }
    (out, gin)
}

/// Naive average pool over NCHW `x` and its backward for `gout`.
#[allow(clippy::too_many_arguments)]
fn naive_avg(
    x: &[f64],
    sh: [usize; 4],
    k: P2,
    s: P2,
    p: P2,
    ceil: bool,
    incl: bool,
    gout: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let [n, c, h, w] = sh;
    let (oh, ow) = (out_len(h, k[0], s[0], p[0], 1, ceil), out_len(w, k[1], s[1], p[1], 1, ceil));
    let (mut out, mut gin) = (Vec::new(), vec![0.0; x.len()]);
    for pl in 0..n * c {
        for y in 0..oh {
            for z in 0..ow {
                let (h0, w0) = ((y * s[0]) as i64 - p[0] as i64, (z * s[1]) as i64 - p[1] as i64);
                let (h1, w1) = ((h0 + k[0] as i64).min((h + p[0]) as i64), (w0 + k[1] as i64).min((w + p[1]) as i64));
                let mut taps = Vec::new();
                for ih in h0.max(0)..h1.min(h as i64) {
                    for iw in w0.max(0)..w1.min(w as i64) {
                        taps.push(pl * h * w + ih as usize * w + iw as usize);
                    }
                }
                let div = if incl { ((h1 - h0) * (w1 - w0)) as f64 } else { taps.len() as f64 };
                out.push(taps.iter().map(|&t| x[t]).sum::<f64>() / div);
                for &t in &taps {
                    gin[t] += gout[out.len() - 1] / div;
                }
            }
        }
    }
    (out, gin)
}

/// Closeness to a naive reference loop (f64): within `1e-9 · (|want| + 1)`.
#[track_caller]
fn close(got: &Tensor, want: &[f64], ctx: &str) {
    ember_testutil::assert_allclose(ctx, &got.to_vec::<f64>(), want, 1e-9, 1e-9);
}

/// Inputs large enough for the parallel paths, checked against the naive loops above.
#[test]
fn large_pools_match_naive_reference() {
    let sh = [4, 16, 33, 64];
    let x = Tensor::randn_dtype(&sh, DType::F64);
    let xv = x.to_vec::<f64>();
    let cases: [(P2, P2, P2, P2, bool); 4] = [
        ([2, 2], [2, 2], [0, 0], [1, 1], false),
        ([2, 2], [2, 2], [0, 0], [1, 1], true),
        ([3, 3], [2, 2], [1, 1], [1, 1], false),
        ([3, 2], [2, 3], [1, 1], [2, 2], true),
    ];
    for (k, s, p, d, ceil) in cases {
        let ctx = format!("max k{k:?} s{s:?} p{p:?} d{d:?} ceil {ceil}");
        let (v, i) = x.max_pool2d_with_indices(k, s, p, d, ceil);
        let gout = Tensor::randn_dtype(v.shape(), DType::F64);
        let (want, want_g) = naive_max(&xv, sh, k, s, p, d, ceil, &gout.to_vec::<f64>());
        close(&v, &want, &ctx);
        close(&x.max_pool2d(k, s, p, d, ceil), &want, &ctx);
        close(&Tensor::max_pool2d_backward(&gout, &i, &sh), &want_g, &ctx);
        if d == [1, 1] {
            for incl in [true, false] {
                let ctx = format!("avg k{k:?} s{s:?} p{p:?} ceil {ceil} incl {incl}");
                let y = x.avg_pool2d(k, s, p, ceil, incl);
                let (want, want_g) = naive_avg(&xv, sh, k, s, p, ceil, incl, &gout.to_vec::<f64>());
                close(&y, &want, &ctx);
                close(&Tensor::avg_pool2d_backward(&gout, &sh, k, s, p, ceil, incl), &want_g, &ctx);
            }
        }
    }
    // adaptive to a size that divides is a plain average pool
    let y = x.to_dtype(DType::F32).adaptive_avg_pool2d([11, 16]);
    let want = x.to_dtype(DType::F32).avg_pool2d([3, 4], [3, 4], [0, 0], false, true);
    assert_close(&y, &want, 1e-5, "adaptive vs avg");
}

#[test]
fn pool_errors_name_the_problem() {
    let x = Tensor::zeros(&[1, 1, 5, 5]);
    let err = |r: ember_tensor::Result<Tensor>| r.unwrap_err().to_string();
    let e = err(Tensor::zeros(&[5, 5]).try_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false));
    assert!(e.contains("max_pool2d") && e.contains("3D or 4D") && e.contains("[5, 5]"), "{e}");
    let e = err(Tensor::zeros(&[1, 0, 5, 5]).try_avg_pool2d([2, 2], [2, 2], [0, 0], false, true));
    assert!(e.contains("avg_pool2d") && e.contains("[1, 0, 5, 5]"), "{e}");
    let e = err(x.try_max_pool2d([0, 2], [1, 1], [0, 0], [1, 1], false));
    assert!(e.contains("max_pool2d: kernel size should be greater than zero, but got kH: 0 kW: 2"), "{e}");
    let e = err(x.try_max_pool2d([2, 2], [1, 0], [0, 0], [1, 1], false));
    assert!(e.contains("max_pool2d: stride should be greater than zero, but got dH: 1 dW: 0"), "{e}");
    let e = err(x.try_avg_pool2d([2, 2], [0, 0], [0, 0], false, true));
    assert!(e.contains("avg_pool2d: stride should be greater than zero"), "{e}");
    let e = err(x.try_max_pool2d([2, 2], [1, 1], [0, 0], [0, 1], false));
    assert!(e.contains("dilation should be greater than zero, but got dilationH: 0 dilationW: 1"), "{e}");
    let e = err(x.try_max_pool2d([3, 3], [1, 1], [2, 0], [1, 1], false));
    assert!(e.contains("max_pool2d: pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and dilation=1"), "{e}");
    let e = err(x.try_avg_pool2d([3, 3], [1, 1], [0, 2], false, false));
    assert!(e.contains("avg_pool2d: pad should be at most half of effective kernel size"), "{e}");
    let e = err(x.try_max_pool2d([3, 3], [1, 1], [2, 2], [2, 2], false));
    assert!(
        e.contains(
            "pad should be smaller than or equal to half of kernel size, but got padW = 2, padH = 2, kW = 3, kH = 3"
        ),
        "{e}"
    );
    let e = err(x.try_max_pool2d([6, 6], [1, 1], [0, 0], [1, 1], false));
    assert!(
        e.contains("max_pool2d: Given input size: (1x5x5). Calculated output size: (1x0x0). Output size is too small"),
        "{e}"
    );
    let e = err(x.try_avg_pool2d([2, 7], [1, 1], [0, 0], true, true));
    assert!(e.contains("avg_pool2d") && e.contains("(1x4x-1)"), "{e}");
    let e = err(x.to_dtype(DType::I64).try_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false));
    assert!(e.contains("max_pool2d: not supported for dtype I64"), "{e}");
    let e = err(x.to_dtype(DType::Bool).try_adaptive_avg_pool2d([2, 2]));
    assert!(e.contains("adaptive_avg_pool2d") && e.contains("Bool"), "{e}");
    let e = err(Tensor::zeros(&[5, 5]).try_adaptive_avg_pool2d([2, 2]));
    assert!(e.contains("adaptive_avg_pool2d: Expected 3D or 4D tensor, but got: [5, 5]"), "{e}");
    let e = err(Tensor::zeros(&[1, 2, 0, 5]).try_adaptive_avg_pool2d([2, 2]));
    assert!(e.contains("adaptive_avg_pool2d") && e.contains("[1, 2, 0, 5] with dimension 2 being empty"), "{e}");
    let e = err(Tensor::zeros(&[5]).try_max_pool1d(2, 2, 0));
    assert!(e.contains("max_pool1d") && e.contains("2D or 3D") && e.contains("[5]"), "{e}");
    let e = err(Tensor::zeros(&[1, 5, 5]).try_avg_pool1d(2, 0, 0));
    assert!(e.contains("avg_pool1d: stride should be greater than zero"), "{e}");
    let e = err(Tensor::zeros(&[1, 5, 5]).try_max_pool1d(6, 1, 0));
    assert!(e.contains("max_pool1d") && e.contains("Output size is too small"), "{e}");
}

#[test]
fn pool_backward_errors_name_the_problem() {
    let x = Tensor::randn(&[1, 2, 4, 4]);
    let (v, i) = x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false);
    let err = |r: ember_tensor::Result<Tensor>| r.unwrap_err().to_string();
    let e = err(Tensor::try_max_pool2d_backward(&v, &v, &[1, 2, 4, 4]));
    assert!(e.contains("max_pool2d_backward: dtype mismatch: expected I64, got F32"), "{e}");
    let e = err(Tensor::try_max_pool2d_backward(&v, &i.narrow(3, 0, 1), &[1, 2, 4, 4]));
    assert!(e.contains("max_pool2d_backward: shape mismatch: [1, 2, 2, 2] vs [1, 2, 2, 1]"), "{e}");
    let e = err(Tensor::try_max_pool2d_backward(&v, &i, &[1, 3, 4, 4]));
    assert!(e.contains("max_pool2d_backward: shape mismatch: [1, 2, 2, 2] vs [1, 3, 4, 4]"), "{e}");
    let e = err(Tensor::try_max_pool2d_backward(&v, &i, &[1, 2, 2, 2]));
    assert!(e.contains("max_pool2d_backward: index") && e.contains("out of bounds for dimension with size 4"), "{e}");
    let bad = Tensor::from_vec(vec![0i64, -1, 2, 3, 0, 1, 2, 3], &[1, 2, 2, 2]);
    let e = err(Tensor::try_max_pool2d_backward(&v, &bad, &[1, 2, 4, 4]));
    assert!(e.contains("max_pool2d_backward: index -1 is out of bounds for dimension with size 16"), "{e}");
    let e = err(Tensor::try_max_pool2d_backward(&i, &i, &[1, 2, 4, 4]));
    assert!(e.contains("max_pool2d_backward: not supported for dtype I64"), "{e}");
    let e = err(Tensor::try_avg_pool2d_backward(&v, &[1, 2, 6, 6], [2, 2], [2, 2], [0, 0], false, true));
    assert!(e.contains("avg_pool2d_backward: shape mismatch: [1, 2, 2, 2] vs [1, 2, 3, 3]"), "{e}");
    let e = err(Tensor::try_avg_pool2d_backward(&v, &[1, 2, 4, 4], [2, 2], [0, 2], [0, 0], false, true));
    assert!(e.contains("avg_pool2d_backward: stride should be greater than zero"), "{e}");
    let e = err(Tensor::try_adaptive_avg_pool2d_backward(&v, &[2, 2, 4, 4]));
    assert!(e.contains("adaptive_avg_pool2d_backward: shape mismatch: [1, 2, 2, 2] vs [2, 2, 4, 4]"), "{e}");
    let e = err(Tensor::try_adaptive_avg_pool2d_backward(&v, &[1, 2, 0, 4]));
    assert!(e.contains("adaptive_avg_pool2d_backward") && e.contains("dimension 2 being empty"), "{e}");
    // a window wholly in the padding has PyTorch's out-of-plane index, which the backward rejects
    let (_, i) = Tensor::zeros(&[1, 1, 1, 3]).max_pool2d_with_indices([2, 2], [1, 1], [1, 1], [2, 2], false);
    assert_eq!(i.to_vec::<i64>(), vec![4, 3, 4]);
}

#[test]
#[should_panic(expected = "max_pool2d: pad should be at most half of effective kernel size")]
fn max_pool2d_panics_with_message() {
    let _ = Tensor::zeros(&[1, 1, 5, 5]).max_pool2d([2, 2], [2, 2], [2, 2], [1, 1], false);
}

#[test]
#[should_panic(expected = "avg_pool2d: Given input size: (3x2x2)")]
fn avg_pool2d_panics_with_message() {
    let _ = Tensor::zeros(&[3, 2, 2]).avg_pool2d([3, 3], [1, 1], [0, 0], false, true);
}

#[test]
fn small_examples() {
    // ties go to the first maximum in window order; a NaN wins
    let x = Tensor::from_vec(vec![1.0f32, 3.0, 3.0, 2.0, f32::NAN, 0.0, 1.0, 9.0], &[1, 2, 2, 2]);
    let (v, i) = x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false);
    assert_eq!(i.to_vec::<i64>(), vec![1, 0]);
    let v = v.to_vec::<f32>();
    assert_eq!(v[0], 3.0);
    assert!(v[1].is_nan());
    // count_include_pad: the corner of a 3x3 padded window sees 4 inputs out of 9
    let ones = Tensor::ones(&[1, 2, 2]);
    assert_eq!(ones.avg_pool2d([3, 3], [2, 2], [1, 1], false, true).to_vec::<f32>(), vec![4.0 / 9.0]);
    assert_eq!(ones.avg_pool2d([3, 3], [2, 2], [1, 1], false, false).to_vec::<f32>(), vec![1.0]);
    // the 1-d wrappers keep rank
    let s = Tensor::arange(0.0, 6.0, 1.0).reshape(&[1, 6]);
    assert_eq!(s.max_pool1d(2, 2, 0).to_vec::<f32>(), vec![1.0, 3.0, 5.0]);
    assert_eq!(s.avg_pool1d(3, 3, 0).to_vec::<f32>(), vec![1.0, 4.0]);
    assert_eq!(s.avg_pool1d(3, 3, 0).shape(), &[1, 2]);
}
