//! First-order gradients of reductions, scans and softmax against PyTorch's
//! (`scripts/fixtures/fam_reduce.py`, the tensor crate's `reduce` fixtures). Every case holding a
//! gradient is checked (`finish_grads`).

mod common;

use common::{tol, Fx};
use ember_autograd::Variable;

type F = Box<dyn Fn(&Variable) -> Variable>;

const DIMS: [(isize, bool); 5] = [(0, false), (1, true), (2, false), (-1, true), (-2, false)];
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
fn dn(d: isize, k: bool) -> String {
    let base = if d >= 0 { format!("d{d}") } else { format!("dm{}", -d) };
    if k {
        base + "k"
    } else {
        base
    }
}

/// The non-contiguous (3, 4, 5) view of a stored (4, 3, 5) input.
fn tr(x: &Variable) -> Variable {
    x.transpose(0, 1)
}

/// Every gradient case of the family, by name without the dtype suffix.
fn cases() -> Vec<(String, F)> {
    let mut v: Vec<(String, F)> = vec![
        ("sum_all".into(), Box::new(|x| x.sum())),
        ("mean_all".into(), Box::new(|x| x.mean())),
        ("prod_all".into(), Box::new(|x| x.prod())),
        ("max_all".into(), Box::new(|x| x.max())),
        ("min_all".into(), Box::new(|x| x.min())),
    ];
    for ub in [true, false] {
        v.push((format!("var_all_{}", ub as i32), Box::new(move |x| x.var(ub))));
        v.push((format!("std_all_{}", ub as i32), Box::new(move |x| x.std(ub))));
    }
    for (d, k) in DIMS {
        let n = dn(d, k);
        v.push((format!("sum_{n}"), Box::new(move |x| x.sum_dim(d, k))));
        v.push((format!("mean_{n}"), Box::new(move |x| x.mean_dim(d, k))));
        v.push((format!("prod_{n}"), Box::new(move |x| x.prod_dim(d, k))));
        v.push((format!("amax_{n}"), Box::new(move |x| x.max_dim(d, k))));
        v.push((format!("amin_{n}"), Box::new(move |x| x.min_dim(d, k))));
        v.push((format!("maxi_{n}"), Box::new(move |x| x.max_dim_with_indices(d, k).0)));
        v.push((format!("mini_{n}"), Box::new(move |x| x.min_dim_with_indices(d, k).0)));
        v.push((format!("var_{n}"), Box::new(move |x| x.var_dim(d, true, k))));
        v.push((format!("var0_{n}"), Box::new(move |x| x.var_dim(d, false, k))));
        v.push((format!("std_{n}"), Box::new(move |x| x.std_dim(d, true, k))));
        v.push((format!("std0_{n}"), Box::new(move |x| x.std_dim(d, false, k))));
        v.push((format!("logsumexp_{n}"), Box::new(move |x| x.logsumexp(d, k))));
    }
    for d in [0isize, 1, 2, -1] {
        v.push((format!("cumsum_{}", dn(d, false)), Box::new(move |x| x.cumsum(d))));
        v.push((format!("cumprod_{}", dn(d, false)), Box::new(move |x| x.cumprod(d))));
    }
    for d in [0isize, 1, -1] {
        v.push((format!("softmax_{}", dn(d, false)), Box::new(move |x| x.softmax(d))));
        v.push((format!("log_softmax_{}", dn(d, false)), Box::new(move |x| x.log_softmax(d))));
    }
    let nc: Vec<(&str, F)> = vec![
        ("sum_t_d1", Box::new(|x| tr(x).sum_dim(1, false))),
        ("sum_t_all", Box::new(|x| tr(x).sum())),
        ("mean_t_dm1k", Box::new(|x| tr(x).mean_dim(-1, true))),
        ("prod_t_d0", Box::new(|x| tr(x).prod_dim(0, false))),
        ("maxi_t_d0", Box::new(|x| tr(x).max_dim_with_indices(0, false).0)),
        ("var_t_d1", Box::new(|x| tr(x).var_dim(1, true, false))),
        ("logsumexp_t_d0", Box::new(|x| tr(x).logsumexp(0, false))),
        ("cumsum_t_d1", Box::new(|x| tr(x).cumsum(1))),
        ("cumprod_t_d2", Box::new(|x| tr(x).cumprod(2))),
        ("softmax_t_d0", Box::new(|x| tr(x).softmax(0))),
        ("log_softmax_t_dm1", Box::new(|x| tr(x).log_softmax(-1))),
        ("sum_dims_t_02", Box::new(|x| tr(x).sum_dims(&[0, 2], false))),
        ("sum_dims_02", Box::new(|x| x.sum_dims(&[0, 2], false))),
        ("sum_dims_02k", Box::new(|x| x.sum_dims(&[0, 2], true))),
        ("sum_dims_m10", Box::new(|x| x.sum_dims(&[-1, 0], false))),
        ("sum_dims_1", Box::new(|x| x.sum_dims(&[1], false))),
        ("sum_dims_none", Box::new(|x| x.sum_dims::<isize>(&[], false))),
        ("mean_dims_01k", Box::new(|x| x.mean_dims(&[0, 1], true))),
        ("mean_dims_12", Box::new(|x| x.mean_dims(&[1, 2], false))),
        ("masked_softmax_dm1", Box::new(|x| x.softmax(-1))),
        ("masked_log_softmax_dm1", Box::new(|x| x.log_softmax(-1))),
        ("masked_softmax_d1", Box::new(|x| x.softmax(1))),
    ];
    v.extend(nc.into_iter().map(|(n, f)| (n.to_string(), f)));
    for (name, shape) in TO_SHAPES {
        v.push((format!("sum_to_{name}"), Box::new(move |x| x.sum_to_shape(shape))));
    }
    v
}

#[test]
fn reduction_grads_match_pytorch() {
    let fx = Fx::load("tensor", "reduce");
    for sfx in ["f32", "f64"] {
        for (name, f) in cases() {
            let case = format!("{name}_{sfx}");
            fx.check_grads(&case, tol(&case), |v| vec![f(&v[0])]);
        }
    }
    fx.finish_grads();
}
