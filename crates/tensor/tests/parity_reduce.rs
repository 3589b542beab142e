//! Reductions, scans and softmax against PyTorch fixtures (`scripts/fixtures/fam_reduce.py`), plus
//! their error messages.

mod common;

use common::Fixtures;
use ember_tensor::{DType, Tensor};

const DIMS: [(i64, bool); 5] = [(0, false), (1, true), (2, false), (-1, true), (-2, false)];
const TO_SHAPES: [(&str, &[usize]); 7] = [
    ("s41", &[4, 1]),
    ("s15", &[1, 5]),
    ("s315", &[3, 1, 5]),
    ("s5", &[5]),
    ("s111", &[1, 1, 1]),
    ("s0d", &[]),
    ("same", &[3, 4, 5]),
];

/// The fixture's dim label: `d1`, `dm1` (dim -1), with a trailing `k` for keepdim.
fn dn(d: i64, k: bool) -> String {
    let base = if d >= 0 { format!("d{d}") } else { format!("dm{}", -d) };
    if k {
        base + "k"
    } else {
        base
    }
}

/// The non-contiguous (3, 4, 5) view of a stored (4, 3, 5) input.
fn tr(x: &Tensor) -> Tensor {
    x.transpose(0, 1)
}

fn pair((a, b): (Tensor, Tensor)) -> Vec<Tensor> {
    vec![a, b]
}

#[test]
fn reductions_match_pytorch() {
    let fx = Fixtures::load("reduce");
    for (sfx, tol) in [("f32", 1e-4), ("f64", 1e-10)] {
        all_elements(&fx, sfx, tol);
        one_dim(&fx, sfx, tol);
        scans_and_softmax(&fx, sfx, tol);
        non_contiguous(&fx, sfx, tol);
        multi_dims(&fx, sfx, tol);
        special_values(&fx, sfx, tol);
        empty_and_scalar(&fx, sfx, tol);
    }
    big_and_long(&fx);
    integer_and_bool(&fx);
    fx.finish();
}

fn all_elements(fx: &Fixtures, sfx: &str, tol: f64) {
    let c = |n: &str| format!("{n}_{sfx}");
    fx.check1(&c("sum_all"), tol, |x| x[0].sum());
    fx.check1(&c("mean_all"), tol, |x| x[0].mean());
    fx.check1(&c("prod_all"), tol, |x| x[0].prod());
    fx.check1(&c("max_all"), tol, |x| x[0].max());
    fx.check1(&c("min_all"), tol, |x| x[0].min());
    fx.check1(&c("argmax_all"), 0.0, |x| x[0].argmax_all());
    fx.check1(&c("argmin_all"), 0.0, |x| x[0].argmin_all());
    for ub in [true, false] {
        fx.check1(&c(&format!("var_all_{}", ub as i32)), tol, |x| x[0].var(ub));
        fx.check1(&c(&format!("std_all_{}", ub as i32)), tol, |x| x[0].std(ub));
    }
    let (all, any) = (c("all_all"), c("any_all"));
    fx.check1(&all, 0.0, |x| x[0].all());
    fx.check1(&any, 0.0, |x| x[0].any());
}

fn one_dim(fx: &Fixtures, sfx: &str, tol: f64) {
    for (d, k) in DIMS {
        let n = dn(d, k);
        let c = |op: &str| format!("{op}_{n}_{sfx}");
        fx.check1(&c("sum"), tol, |x| x[0].sum_dim(d, k));
        fx.check1(&c("mean"), tol, |x| x[0].mean_dim(d, k));
        fx.check1(&c("prod"), tol, |x| x[0].prod_dim(d, k));
        fx.check1(&c("amax"), tol, |x| x[0].max_dim(d, k));
        fx.check1(&c("amin"), tol, |x| x[0].min_dim(d, k));
        fx.check(&c("maxi"), tol, |x| pair(x[0].max_dim_with_indices(d, k)));
        fx.check(&c("mini"), tol, |x| pair(x[0].min_dim_with_indices(d, k)));
        fx.check1(&c("argmax"), 0.0, |x| x[0].argmax(d, k));
        fx.check1(&c("argmin"), 0.0, |x| x[0].argmin(d, k));
        fx.check1(&c("var"), tol, |x| x[0].var_dim(d, true, k));
        fx.check1(&c("var0"), tol, |x| x[0].var_dim(d, false, k));
        fx.check1(&c("std"), tol, |x| x[0].std_dim(d, true, k));
        fx.check1(&c("std0"), tol, |x| x[0].std_dim(d, false, k));
        fx.check1(&c("logsumexp"), tol, |x| x[0].logsumexp(d, k));
        fx.check1(&c("all"), 0.0, |x| x[0].all_dim(d, k));
        fx.check1(&c("any"), 0.0, |x| x[0].any_dim(d, k));
    }
}

fn scans_and_softmax(fx: &Fixtures, sfx: &str, tol: f64) {
    for d in [0i64, 1, 2, -1] {
        fx.check1(&format!("cumsum_{}_{sfx}", dn(d, false)), tol, |x| x[0].cumsum(d));
        fx.check1(&format!("cumprod_{}_{sfx}", dn(d, false)), tol, |x| x[0].cumprod(d));
    }
    for d in [0i64, 1, -1] {
        fx.check1(&format!("softmax_{}_{sfx}", dn(d, false)), tol, |x| x[0].softmax(d));
        fx.check1(&format!("log_softmax_{}_{sfx}", dn(d, false)), tol, |x| x[0].log_softmax(d));
    }
}

fn non_contiguous(fx: &Fixtures, sfx: &str, tol: f64) {
    let c = |n: &str| format!("{n}_{sfx}");
    fx.check1(&c("sum_t_d1"), tol, |x| tr(&x[0]).sum_dim(1, false));
    fx.check1(&c("sum_t_all"), tol, |x| tr(&x[0]).sum());
    fx.check1(&c("mean_t_dm1k"), tol, |x| tr(&x[0]).mean_dim(-1, true));
    fx.check1(&c("prod_t_d0"), tol, |x| tr(&x[0]).prod_dim(0, false));
    fx.check(&c("maxi_t_d0"), tol, |x| pair(tr(&x[0]).max_dim_with_indices(0, false)));
    fx.check1(&c("argmin_t_d2"), 0.0, |x| tr(&x[0]).argmin(2, false));
    fx.check1(&c("var_t_d1"), tol, |x| tr(&x[0]).var_dim(1, true, false));
    fx.check1(&c("logsumexp_t_d0"), tol, |x| tr(&x[0]).logsumexp(0, false));
    fx.check1(&c("cumsum_t_d1"), tol, |x| tr(&x[0]).cumsum(1));
    fx.check1(&c("cumprod_t_d2"), tol, |x| tr(&x[0]).cumprod(2));
    fx.check1(&c("softmax_t_d0"), tol, |x| tr(&x[0]).softmax(0));
    fx.check1(&c("log_softmax_t_dm1"), tol, |x| tr(&x[0]).log_softmax(-1));
    fx.check1(&c("sum_dims_t_02"), tol, |x| tr(&x[0]).sum_dims(&[0, 2], false));
}

fn multi_dims(fx: &Fixtures, sfx: &str, tol: f64) {
    let c = |n: &str| format!("{n}_{sfx}");
    fx.check1(&c("sum_dims_02"), tol, |x| x[0].sum_dims(&[0, 2], false));
    fx.check1(&c("sum_dims_02k"), tol, |x| x[0].sum_dims(&[0, 2], true));
    fx.check1(&c("sum_dims_m10"), tol, |x| x[0].sum_dims(&[-1, 0], false));
    fx.check1(&c("sum_dims_1"), tol, |x| x[0].sum_dims(&[1], false));
    fx.check1(&c("sum_dims_none"), tol, |x| x[0].sum_dims::<i64>(&[], false));
    fx.check1(&c("mean_dims_01k"), tol, |x| x[0].mean_dims(&[0, 1], true));
    fx.check1(&c("mean_dims_12"), tol, |x| x[0].mean_dims(&[1, 2], false));
    for (name, shape) in TO_SHAPES {
        fx.check1(&c(&format!("sum_to_{name}")), tol, |x| x[0].sum_to_shape(shape));
    }
}

fn special_values(fx: &Fixtures, sfx: &str, tol: f64) {
    let c = |n: &str| format!("{n}_{sfx}");
    for d in [0i64, 1] {
        let n = dn(d, false);
        fx.check(&c(&format!("tie_maxi_{n}")), 0.0, |x| pair(x[0].max_dim_with_indices(d, false)));
        fx.check(&c(&format!("tie_mini_{n}")), 0.0, |x| pair(x[0].min_dim_with_indices(d, false)));
        fx.check1(&c(&format!("tie_argmax_{n}")), 0.0, |x| x[0].argmax(d, false));
        fx.check1(&c(&format!("tie_argmin_{n}")), 0.0, |x| x[0].argmin(d, false));
    }
    fx.check1(&c("tie_argmax_all"), 0.0, |x| x[0].argmax_all());
    fx.check1(&c("tie_argmin_all"), 0.0, |x| x[0].argmin_all());
    fx.check1(&c("nan_max_all"), 0.0, |x| x[0].max());
    fx.check1(&c("nan_min_all"), 0.0, |x| x[0].min());
    fx.check1(&c("nan_argmax_all"), 0.0, |x| x[0].argmax_all());
    for d in [0i64, 1, 2] {
        let n = dn(d, false);
        fx.check(&c(&format!("nan_maxi_{n}")), 0.0, |x| pair(x[0].max_dim_with_indices(d, false)));
        fx.check(&c(&format!("nan_mini_{n}")), 0.0, |x| pair(x[0].min_dim_with_indices(d, false)));
        fx.check1(&c(&format!("nan_amax_{n}")), 0.0, |x| x[0].max_dim(d, false));
        fx.check1(&c(&format!("nan_argmax_{n}")), 0.0, |x| x[0].argmax(d, false));
        fx.check1(&c(&format!("nan_argmin_{n}")), 0.0, |x| x[0].argmin(d, false));
    }
    fx.check1(&c("inf_logsumexp_d1"), tol, |x| x[0].logsumexp(1, false));
    fx.check1(&c("inf_logsumexp_d0"), tol, |x| x[0].logsumexp(0, false));
    fx.check1(&c("masked_softmax_dm1"), tol, |x| x[0].softmax(-1));
    fx.check1(&c("masked_log_softmax_dm1"), tol, |x| x[0].log_softmax(-1));
    fx.check1(&c("masked_softmax_d1"), tol, |x| x[0].softmax(1));
    fx.check1(&c("inf_softmax_d1"), tol, |x| x[0].softmax(1));
    fx.check1(&c("inf_log_softmax_d1"), tol, |x| x[0].log_softmax(1));
    fx.check1(&c("inf_softmax_d0"), tol, |x| x[0].softmax(0));
}

fn empty_and_scalar(fx: &Fixtures, sfx: &str, tol: f64) {
    let c = |n: &str| format!("{n}_{sfx}");
    fx.check1(&c("empty_sum_d0"), 0.0, |x| x[0].sum_dim(0, false));
    fx.check1(&c("empty_sum_d1"), 0.0, |x| x[0].sum_dim(1, false));
    fx.check1(&c("empty_sum_all"), 0.0, |x| x[0].sum());
    fx.check1(&c("empty_mean_d0"), 0.0, |x| x[0].mean_dim(0, false));
    fx.check1(&c("empty_mean_all"), 0.0, |x| x[0].mean());
    fx.check1(&c("empty_prod_d0"), 0.0, |x| x[0].prod_dim(0, false));
    fx.check1(&c("empty_var_d0"), 0.0, |x| x[0].var_dim(0, true, false));
    fx.check1(&c("empty_logsumexp_d0"), 0.0, |x| x[0].logsumexp(0, false));
    fx.check1(&c("empty_amax_d1"), 0.0, |x| x[0].max_dim(1, false));
    fx.check1(&c("empty_cumsum_d0"), 0.0, |x| x[0].cumsum(0));
    fx.check1(&c("empty_softmax_d0"), 0.0, |x| x[0].softmax(0));
    fx.check1(&c("empty_sum_dims"), 0.0, |x| x[0].sum_dims(&[0, 1], true));
    fx.check1(&c("scalar_sum_d0k"), tol, |x| x[0].sum_dim(0, true));
    fx.check(&c("scalar_maxi_dm1"), tol, |x| pair(x[0].max_dim_with_indices(-1, false)));
    fx.check1(&c("scalar_softmax_d0"), tol, |x| x[0].softmax(0));
    fx.check1(&c("scalar_cumsum_d0"), tol, |x| x[0].cumsum(0));
    fx.check1(&c("scalar_var_all"), tol, |x| x[0].var(false));
}

fn big_and_long(fx: &Fixtures) {
    let tol = 1e-4;
    fx.check("big_f32", tol, |x| {
        let a = &x[0];
        let (mv, mi) = a.max_dim_with_indices(0, false);
        vec![
            a.sum(),
            a.sum_dim(0, false),
            a.sum_dim(1, false),
            a.mean(),
            a.mean_dim(0, false),
            a.var_dim(0, true, false),
            a.std(true),
            mv,
            mi,
            a.argmax(1, false),
            a.logsumexp(0, false),
            a.sum_dims(&[0, 1], false),
            a.cumsum(0).select(0, -1),
            a.cumsum(1).select(1, -1),
        ]
    });
    fx.check("big_softmax_f32", tol, |x| vec![x[0].softmax(1), x[0].log_softmax(0)]);
    fx.check("long_sum_f32", tol, |x| vec![x[0].sum(), x[0].mean()]);
}

fn integer_and_bool(fx: &Fixtures) {
    fx.check1("sum_all_i64", 0.0, |x| x[0].sum());
    fx.check1("sum_d1_i64", 0.0, |x| x[0].sum_dim(1, false));
    fx.check1("sum_dims_02_i64", 0.0, |x| x[0].sum_dims(&[0, 2], false));
    fx.check1("sum_to_s41_i64", 0.0, |x| x[0].sum_to_shape(&[4, 1]));
    fx.check1("prod_d2_i64", 0.0, |x| x[0].prod_dim(2, false));
    fx.check1("prod_all_i64", 0.0, |x| x[0].prod());
    fx.check1("max_all_i64", 0.0, |x| x[0].max());
    fx.check1("min_all_i64", 0.0, |x| x[0].min());
    fx.check1("amax_d0_i64", 0.0, |x| x[0].max_dim(0, false));
    fx.check("maxi_d1_i64", 0.0, |x| pair(x[0].max_dim_with_indices(1, false)));
    fx.check("mini_dm1k_i64", 0.0, |x| pair(x[0].min_dim_with_indices(-1, true)));
    fx.check1("argmax_d2_i64", 0.0, |x| x[0].argmax(2, false));
    fx.check1("argmax_all_i64", 0.0, |x| x[0].argmax_all());
    fx.check1("cumsum_d1_i64", 0.0, |x| x[0].cumsum(1));
    fx.check1("cumprod_dm1_i64", 0.0, |x| x[0].cumprod(-1));
    fx.check1("logsumexp_d1_i64", 1e-5, |x| x[0].logsumexp(1, false));
    fx.check1("all_d1_i64", 0.0, |x| x[0].all_dim(1, false));
    fx.check1("any_all_i64", 0.0, |x| x[0].any());
    fx.check1("sum_all_bool", 0.0, |x| x[0].sum());
    fx.check1("sum_d0_bool", 0.0, |x| x[0].sum_dim(0, false));
    fx.check1("prod_d2_bool", 0.0, |x| x[0].prod_dim(2, false));
    fx.check1("cumsum_d1_bool", 0.0, |x| x[0].cumsum(1));
    fx.check1("amax_d1_bool", 0.0, |x| x[0].max_dim(1, false));
    fx.check("maxi_d2_bool", 0.0, |x| pair(x[0].max_dim_with_indices(2, false)));
    fx.check1("all_d1_bool", 0.0, |x| x[0].all_dim(1, false));
    fx.check1("any_d0k_bool", 0.0, |x| x[0].any_dim(0, true));
    fx.check1("all_empty_bool", 0.0, |x| x[0].all());
    fx.check1("any_empty_bool", 0.0, |x| x[0].any());
}

#[test]
fn reduction_errors_name_the_problem() {
    let x = Tensor::zeros(&[2, 3]);
    let has = |e: String, parts: &[&str]| {
        for p in parts {
            assert!(e.contains(p), "'{e}' lacks '{p}'");
        }
    };
    let bad_dim = ["dimension out of range", "[-2, 1]", "got 2"];
    has(x.try_sum_dim(2, false).unwrap_err().to_string(), &[&["sum:"][..], &bad_dim].concat());
    has(x.try_mean_dim(-3, false).unwrap_err().to_string(), &["mean:", "got -3"]);
    has(x.try_prod_dim(2, true).unwrap_err().to_string(), &["prod:", "got 2"]);
    has(x.try_max_dim(5, false).unwrap_err().to_string(), &["max:", "got 5"]);
    has(x.try_min_dim_with_indices(2, false).unwrap_err().to_string(), &["min:", "got 2"]);
    has(x.try_argmax(2, false).unwrap_err().to_string(), &["argmax:", "got 2"]);
    has(x.try_argmin(-4, false).unwrap_err().to_string(), &["argmin:", "got -4"]);
    has(x.try_var_dim(2, true, false).unwrap_err().to_string(), &["var:", "got 2"]);
    has(x.try_std_dim(2, true, false).unwrap_err().to_string(), &["std:", "got 2"]);
    has(x.try_logsumexp(2, false).unwrap_err().to_string(), &["logsumexp:", "got 2"]);
    has(x.try_all_dim(2, false).unwrap_err().to_string(), &["all:", "got 2"]);
    has(x.try_any_dim(2, false).unwrap_err().to_string(), &["any:", "got 2"]);
    has(x.try_cumsum(2).unwrap_err().to_string(), &["cumsum:", "got 2"]);
    has(x.try_cumprod(-3).unwrap_err().to_string(), &["cumprod:", "got -3"]);
    has(x.try_softmax(2).unwrap_err().to_string(), &["softmax:", "got 2"]);
    has(x.try_log_softmax(2).unwrap_err().to_string(), &["log_softmax:", "got 2"]);
    has(x.try_sum_dims(&[0, 2], false).unwrap_err().to_string(), &["sum:", "got 2"]);
    has(x.try_sum_dims(&[1, -1], false).unwrap_err().to_string(), &["sum:", "dim 1 appears multiple times"]);
    has(x.try_mean_dims(&[-3], false).unwrap_err().to_string(), &["mean:", "got -3"]);
    // dtypes
    let i = Tensor::from_vec(vec![1i64, 2, 3], &[3]);
    has(i.try_mean().unwrap_err().to_string(), &["mean:", "floating point", "I64"]);
    has(i.try_mean_dim(0, false).unwrap_err().to_string(), &["mean:", "I64"]);
    has(i.try_mean_dims(&[0], false).unwrap_err().to_string(), &["mean:", "I64"]);
    has(i.try_var(true).unwrap_err().to_string(), &["var:", "I64"]);
    has(i.try_std_dim(0, true, false).unwrap_err().to_string(), &["std:", "I64"]);
    has(i.try_softmax(0).unwrap_err().to_string(), &["softmax", "I64"]);
    has(i.to_dtype(DType::Bool).try_log_softmax(0).unwrap_err().to_string(), &["log_softmax", "Bool"]);
    // empty reductions with no identity
    let e = Tensor::zeros(&[2, 0]);
    has(e.try_max().unwrap_err().to_string(), &["max:", "numel() == 0", "[2, 0]"]);
    has(e.try_min().unwrap_err().to_string(), &["min:", "numel() == 0"]);
    has(e.try_argmax_all().unwrap_err().to_string(), &["argmax:", "numel() == 0"]);
    has(e.try_max_dim(1, false).unwrap_err().to_string(), &["max:", "reduction dim 1", "non-zero size"]);
    has(e.try_argmin(-1, true).unwrap_err().to_string(), &["argmin:", "reduction dim 1", "non-zero size"]);
    assert_eq!(e.max_dim(0, false).shape(), &[0]); // reducing a non-empty dim of an empty tensor is fine
                                                   // sum_to_shape
    let y = Tensor::zeros(&[2, 3, 4]);
    has(y.try_sum_to_shape(&[3, 2]).unwrap_err().to_string(), &["sum_to_shape", "[3, 2]", "[2, 3, 4]"]);
    has(y.try_sum_to_shape(&[1, 2, 3, 4]).unwrap_err().to_string(), &["sum_to_shape", "[1, 2, 3, 4]"]);
    assert!(y.try_sum_to_shape(&[2, 1, 1]).is_ok());
}

#[test]
#[should_panic(expected = "max: Expected reduction dim 0 to have non-zero size")]
fn max_dim_of_empty_dim_panics() {
    let _ = Tensor::zeros(&[0, 2]).max_dim(0, false);
}

/// Reductions over every dim of random shapes (contiguous and transposed) against a naive loop in f64.
#[test]
fn sums_and_maxes_match_naive_on_random_shapes() {
    let mut seed = 12345u64;
    let mut next = move |m: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize % m
    };
    for _ in 0..30 {
        let rank = 1 + next(4);
        let shape: Vec<usize> = (0..rank).map(|_| 1 + next(6)).collect();
        let n: usize = shape.iter().product();
        let vals: Vec<f64> = (0..n).map(|_| next(1000) as f64 / 37.0 - 13.0).collect();
        let t = Tensor::from_vec(vals, &shape);
        let t = if rank >= 2 && next(2) == 0 { t.transpose(0, rank - 1) } else { t };
        let dense = t.to_vec::<f64>();
        let sh = t.shape().to_vec();
        for d in 0..rank {
            let outer: usize = sh[..d].iter().product();
            let inner: usize = sh[d + 1..].iter().product();
            let mut sum = vec![0.0; outer * inner];
            let mut max = vec![f64::NEG_INFINITY; outer * inner];
            let mut cum = vec![0.0; dense.len()];
            for o in 0..outer {
                for j in 0..inner {
                    let mut run = 0.0;
                    for k in 0..sh[d] {
                        let i = (o * sh[d] + k) * inner + j;
                        run += dense[i];
                        cum[i] = run;
                        max[o * inner + j] = max[o * inner + j].max(dense[i]);
                    }
                    sum[o * inner + j] = run;
                }
            }
            let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9 * (1.0 + y.abs()));
            assert!(close(&t.sum_dim(d, false).to_vec::<f64>(), &sum), "sum {sh:?} dim {d}");
            assert!(close(&t.max_dim(d, true).to_vec::<f64>(), &max), "max {sh:?} dim {d}");
            assert!(close(&t.cumsum(d).to_vec::<f64>(), &cum), "cumsum {sh:?} dim {d}");
            let sm = t.softmax(d).sum_dim(d, false).to_vec::<f64>();
            assert!(sm.iter().all(|s| (s - 1.0).abs() < 1e-12), "softmax {sh:?} dim {d}");
        }
    }
}
