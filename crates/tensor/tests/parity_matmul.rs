//! Matrix products (`matmul`, `mm`, `bmm`, `dot`, `linear`) against PyTorch fixtures, f32, f64 and
//! i64; gradients of the 2-d/3-d cases recomputed from products; errors; a naive reference.

mod common;

use common::{assert_close, Fixtures};
use ember_tensor::{DType, Tensor};

const TOL: f64 = 1e-4;
const TOL64: f64 = 1e-10;

fn tr(t: &Tensor) -> Tensor {
    t.transpose(-1, -2)
}

#[test]
fn matmul_matches_pytorch() {
    let fx = Fixtures::load("matmul");
    for (sfx, tol) in [("f32", TOL), ("f64", TOL64)] {
        let c = |n: &str| format!("{n}_{sfx}");
        for name in
            ["dot", "mv", "vm", "mm", "batched", "bcast", "nd_2d", "d2_nd", "v_nd", "nd_v", "one", "k0", "empty_batch"]
        {
            fx.check1(&c(name), tol, |x| x[0].matmul(&x[1]));
        }
        if sfx == "f32" {
            fx.check1(&c("mm_big"), tol, |x| x[0].matmul(&x[1]));
            fx.check1(&c("many_small"), tol, |x| x[0].matmul(&x[1]));
        }
        fx.check1(&c("mm_ta"), tol, |x| tr(&x[0]).matmul(&x[1]));
        fx.check1(&c("mm_tb"), tol, |x| x[0].matmul(&tr(&x[1])));
        fx.check1(&c("mm_tab"), tol, |x| tr(&x[0]).matmul(&tr(&x[1])));
        fx.check1(&c("batched_ta"), tol, |x| tr(&x[0]).matmul(&x[1]));
        fx.check1(&c("nd_2d_perm"), tol, |x| x[0].transpose(0, 1).matmul(&x[1]));
        fx.check1(&c("bmm"), tol, |x| x[0].bmm(&x[1]));
        fx.check1(&c("mm_fn"), tol, |x| x[0].mm(&x[1]));
        fx.check1(&c("dot_fn"), tol, |x| x[0].dot(&x[1]));
        fx.check1(&c("linear"), tol, |x| x[0].linear(&x[1], Some(&x[2])));
        fx.check1(&c("linear_nobias"), tol, |x| x[0].linear(&x[1], None));
        fx.check1(&c("linear_1d"), tol, |x| x[0].linear(&x[1], Some(&x[2])));
        fx.check1(&c("linear_wt"), tol, |x| x[0].linear(&tr(&x[1]), Some(&x[2])));
    }
    fx.check1("mm_i64", 0.0, |x| x[0].matmul(&x[1]));
    fx.check1("nd_v_i64", 0.0, |x| x[0].matmul(&x[1]));
    fx.check1("linear_i64", 0.0, |x| x[0].linear(&x[1], Some(&x[2])));
    fx.finish();
}

/// `C = A @ B` with `A = fa(in0)`, `B = fb(in1)` (each optionally a transpose of the stored input):
/// dA = dC @ B^T and dB = A^T @ dC, mapped back through the transposes, match PyTorch's gradients.
#[test]
fn matmul_gradients_match_pytorch() {
    let fx = Fixtures::load("matmul");
    for (sfx, tol) in [("f32", TOL), ("f64", TOL64)] {
        for (name, ta, tb) in [
            ("mm", false, false),
            ("mm_ta", true, false),
            ("mm_tb", false, true),
            ("mm_tab", true, true),
            ("bmm", false, false),
            ("batched", false, false),
            ("batched_ta", true, false),
        ] {
            let case = format!("{name}_{sfx}");
            let x = fx.inputs(&case);
            let g = fx.get(&case, "gout0").unwrap();
            let a = if ta { tr(&x[0]) } else { x[0].clone() };
            let b = if tb { tr(&x[1]) } else { x[1].clone() };
            let ga = g.matmul(&tr(&b));
            let gb = tr(&a).matmul(&g);
            let ga = if ta { tr(&ga) } else { ga };
            let gb = if tb { tr(&gb) } else { gb };
            assert_close(&ga, &fx.get(&case, "grad0").unwrap(), tol, &format!("{case}/grad0"));
            assert_close(&gb, &fx.get(&case, "grad1").unwrap(), tol, &format!("{case}/grad1"));
        }
        // linear: dx = dy @ W, dW = dy^T @ x, db = 1^T @ dy
        let case = format!("linear_nobias_{sfx}");
        let x = fx.inputs(&case);
        let g = fx.get(&case, "gout0").unwrap();
        assert_close(&g.matmul(&x[1]), &fx.get(&case, "grad0").unwrap(), tol, &case);
        assert_close(&tr(&g).matmul(&x[0]), &fx.get(&case, "grad1").unwrap(), tol, &case);
        let case = format!("linear_{sfx}");
        let g = fx.get(&case, "gout0").unwrap().reshape(&[6, 5]);
        let ones = Tensor::ones_dtype(&[6], g.dtype());
        assert_close(&ones.matmul(&g), &fx.get(&case, "grad2").unwrap(), tol, &case);
    }
}

/// Naive f64 reference of a broadcast batched product, from row-major copies.
fn naive(a: &Tensor, b: &Tensor) -> Vec<f64> {
    let (ra, rb) = (a.rank(), b.rank());
    let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
    let nb = ra.max(rb) - 2;
    let batch: Vec<usize> = (0..nb)
        .map(|i| {
            let da = if i + ra >= nb + 2 { a.shape()[i + ra - nb - 2] } else { 1 };
            let db = if i + rb >= nb + 2 { b.shape()[i + rb - nb - 2] } else { 1 };
            da.max(db)
        })
        .collect();
    let mut sa = batch.clone();
    sa.extend([m, k]);
    let mut sb = batch.clone();
    sb.extend([k, n]);
    let av = a.expand(&sa).to_vec::<f64>();
    let bv = b.expand(&sb).to_vec::<f64>();
    let count: usize = batch.iter().product();
    let mut out = vec![0.0; count * m * n];
    for z in 0..count {
        for i in 0..m {
            for j in 0..n {
                out[(z * m + i) * n + j] = (0..k).map(|p| av[(z * m + i) * k + p] * bv[(z * k + p) * n + j]).sum();
            }
        }
    }
    out
}

#[test]
fn matmul_matches_naive_on_strided_views() {
    ember_tensor::manual_seed(7);
    let cases: [(&[usize], &[usize]); 9] = [
        (&[130, 140], &[140, 150]),
        (&[3, 64, 8, 8], &[64, 8, 8]),
        (&[3, 1, 5, 7], &[4, 7, 2]),
        (&[6, 9], &[9, 11]),
        (&[2, 3, 17, 8], &[8, 33]),
        (&[1, 4, 4], &[5, 4, 1]),
        (&[40, 5, 6], &[40, 6, 3]),
        (&[64, 3, 3], &[3, 3]),
        (&[2, 70, 65], &[65, 3]),
    ];
    for dt in [DType::F32, DType::F64] {
        for (sa, sb) in cases {
            let a = Tensor::randn_dtype(sa, dt);
            let b = Tensor::randn_dtype(sb, dt);
            let want = naive(&a, &b);
            let got = a.matmul(&b).to_vec::<f64>();
            let tol = if dt == DType::F32 { 1e-4 } else { 1e-10 };
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= tol * (w.abs() + 1.0), "{sa:?} @ {sb:?}: {g} vs {w}");
            }
            // the same product through transposed and doubly-strided storage
            let at = tr(&tr(&a).contiguous());
            let bt = tr(&tr(&b).contiguous());
            assert_eq!(at.matmul(&bt).to_vec::<f64>().len(), want.len());
            for (g, w) in at.matmul(&bt).to_vec::<f64>().iter().zip(&want) {
                assert!((g - w).abs() <= tol * (w.abs() + 1.0), "transposed {sa:?} @ {sb:?}");
            }
            let r = a.rank();
            let wide = pad_last(&a);
            let got = wide.narrow(r - 1, 0, sa[r - 1]).matmul(&b).to_vec::<f64>();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= tol * (w.abs() + 1.0), "narrowed {sa:?} @ {sb:?}");
            }
        }
    }
    // i64 against the same reference
    let a = Tensor::randint(-9, 10, &[3, 4, 5]);
    let b = Tensor::randint(-9, 10, &[5, 2]);
    let want: Vec<i64> = naive(&a, &b).iter().map(|&v| v as i64).collect();
    assert_eq!(tr(&tr(&a).contiguous()).matmul(&b).to_vec::<i64>(), want);
}

/// `a` with its last dim doubled (its values first, then zeros), so a `narrow` of it is a view with
/// a row stride larger than its width.
fn pad_last(a: &Tensor) -> Tensor {
    let mut shape = a.shape().to_vec();
    let last = *shape.last().unwrap();
    *shape.last_mut().unwrap() = 2 * last;
    let v = a.to_vec::<f64>();
    let mut out = Vec::with_capacity(v.len() * 2);
    for row in v.chunks(last.max(1)) {
        out.extend_from_slice(row);
        out.extend(std::iter::repeat_n(0.0, last));
    }
    Tensor::from_vec(out, &shape).to_dtype(a.dtype())
}

#[test]
fn matmul_errors_name_the_problem() {
    let err = |r: ember_tensor::Result<Tensor>| r.unwrap_err().to_string();
    let a = Tensor::zeros(&[2, 3]);
    let e = err(a.try_matmul(&Tensor::zeros(&[4, 5])));
    assert!(e.contains("matmul") && e.contains("[2, 3]") && e.contains("[4, 5]"), "{e}");
    let e = err(Tensor::zeros(&[2, 2, 3, 4]).try_matmul(&Tensor::zeros(&[3, 4, 5])));
    assert!(e.contains("matmul") && e.contains("[2, 2, 3, 4]") && e.contains("[3, 4, 5]"), "{e}");
    let e = err(Tensor::zeros(&[3]).try_matmul(&Tensor::zeros(&[4])));
    assert!(e.contains("matmul") && e.contains("[3]") && e.contains("[4]"), "{e}");
    let e = err(Tensor::scalar(1.0f32).try_matmul(&a));
    assert!(e.contains("matmul") && e.contains("0D and 2D"), "{e}");
    let e = err(a.try_matmul(&Tensor::zeros_dtype(&[3, 2], DType::F64)));
    assert!(e.contains("matmul") && e.contains("F32") && e.contains("F64"), "{e}");
    let bools = Tensor::zeros_dtype(&[2, 2], DType::Bool);
    let e = err(bools.try_matmul(&bools));
    assert!(e.contains("matmul") && e.contains("Bool"), "{e}");
    let e = err(Tensor::zeros(&[2, 3, 4]).try_mm(&Tensor::zeros(&[4, 2])));
    assert!(e.contains("mm") && e.contains("[2, 3, 4]"), "{e}");
    let e = err(a.try_mm(&Tensor::zeros(&[2, 3])));
    assert!(e.contains("mm") && e.contains("[2, 3]"), "{e}");
    let e = err(Tensor::zeros(&[2, 3, 4]).try_bmm(&Tensor::zeros(&[3, 4, 5])));
    assert!(e.contains("bmm") && e.contains("[2, 3, 4]") && e.contains("[3, 4, 5]"), "{e}");
    let e = err(a.try_bmm(&a));
    assert!(e.contains("bmm") && e.contains("3-D"), "{e}");
    let e = err(Tensor::zeros(&[3]).try_dot(&Tensor::zeros(&[4])));
    assert!(e.contains("dot") && e.contains("[3]") && e.contains("[4]"), "{e}");
    let e = err(a.try_dot(&a));
    assert!(e.contains("dot") && e.contains("2D"), "{e}");
    let w = Tensor::zeros(&[5, 3]);
    let e = err(Tensor::zeros(&[2, 4]).try_linear(&w, None));
    assert!(e.contains("linear") && e.contains("[2, 4]") && e.contains("[5, 3]"), "{e}");
    let e = err(a.try_linear(&w, Some(&Tensor::zeros(&[4]))));
    assert!(e.contains("linear") && e.contains("[4]") && e.contains("[5, 3]"), "{e}");
    let e = err(a.try_linear(&Tensor::zeros(&[3]), None));
    assert!(e.contains("linear") && e.contains("[3]"), "{e}");
    let e = err(a.try_linear(&w, Some(&Tensor::zeros_dtype(&[5], DType::F64))));
    assert!(e.contains("linear") && e.contains("F64"), "{e}");
}

#[test]
#[should_panic(expected = "matmul: shape mismatch: [2, 3] vs [4, 5]")]
fn matmul_panics_on_bad_shapes() {
    let _ = Tensor::zeros(&[2, 3]).matmul(&Tensor::zeros(&[4, 5]));
}

#[test]
fn matmul_shapes_and_views() {
    // 1-d @ 3-d and 3-d @ 1-d drop the vector's dim; dot gives a 0-d tensor
    assert_eq!(Tensor::ones(&[4]).matmul(&Tensor::ones(&[2, 4, 5])).shape(), &[2, 5]);
    assert_eq!(Tensor::ones(&[2, 3, 4]).matmul(&Tensor::ones(&[4])).shape(), &[2, 3]);
    let d = Tensor::ones(&[3]).matmul(&Tensor::ones(&[3]));
    assert_eq!(d.shape(), &[] as &[usize]);
    assert_eq!(d.item::<f32>(), 3.0);
    // k = 0 gives zeros; broadcast (stride-0) operands work
    let z = Tensor::ones(&[2, 0]).matmul(&Tensor::ones(&[0, 3]));
    assert_eq!(z.to_vec::<f32>(), vec![0.0; 6]);
    let e = Tensor::ones(&[1, 3]).expand(&[4, 3]).matmul(&Tensor::ones(&[3, 1]).expand(&[3, 2]));
    assert_eq!(e.to_vec::<f32>(), vec![3.0; 8]);
    let x = Tensor::ones(&[0, 4]).linear(&Tensor::ones(&[2, 4]), Some(&Tensor::ones(&[2])));
    assert_eq!(x.shape(), &[0, 2]);
    let x = Tensor::ones(&[3, 0]).linear(&Tensor::ones(&[2, 0]), Some(&Tensor::full(&[2], 1.5)));
    assert_eq!(x.to_vec::<f32>(), vec![1.5; 6]);
}
