//! Gradients where a rule has to choose (ties, zeros, clamp bounds, -inf, 0-d inputs) and second
//! derivatives of reductions, scans, softmax, matmul/linear, convolutions and pools, against
//! PyTorch (`scripts/fixtures/fam_autograd.py`, cases `sp_*` and `d2_*`). Every such case is checked.

mod common;

use common::{close, tol, Fx};
use ember_autograd::{grad, Conv2dOpts, Variable};
use ember_tensor::Tensor;

type F = fn(&[Variable]) -> Vec<Variable>;
type One = fn(&[Variable]) -> Variable;

const SPECIAL: [(&str, F); 28] = [
    ("amax_ties", |v| vec![v[0].max_dim(1, false)]),
    ("amin_ties_k", |v| vec![v[0].min_dim(0, true)]),
    ("max_all_ties", |v| vec![v[0].max()]),
    ("min_all_ties", |v| vec![v[0].min()]),
    ("maxi_ties", |v| vec![v[0].max_dim_with_indices(1, false).0]),
    ("mini_ties", |v| vec![v[0].min_dim_with_indices(0, false).0]),
    ("prod_zeros", |v| vec![v[0].prod_dim(1, false)]),
    ("prod_zeros_d0k", |v| vec![v[0].prod_dim(0, true)]),
    ("prod_all_one_zero", |v| vec![v[0].prod()]),
    ("cumprod_zeros", |v| vec![v[0].cumprod(1)]),
    ("std_const_row", |v| vec![v[0].std_dim(1, true, false)]),
    ("std0_const_k", |v| vec![v[0].std_dim(1, false, true)]),
    ("pow_zeros", |v| vec![v[0].pow(&v[1])]),
    ("clamp_bounds", |v| vec![v[0].clamp(Some(-1.0), Some(1.0))]),
    ("clamp_min_bound", |v| vec![v[0].clamp_min(0.0)]),
    ("clamp_max_bound", |v| vec![v[0].clamp_max(1.0)]),
    ("relu_abs_zero", |v| vec![&v[0].relu() + &v[0].abs()]),
    ("leaky_elu_zero", |v| vec![&v[0].leaky_relu(0.2) + &v[0].elu(0.5)]),
    ("maximum_ties", |v| vec![v[0].maximum(&v[1])]),
    ("minimum_ties", |v| vec![v[0].minimum(&v[1])]),
    ("sort_ties", |v| vec![v[0].sort(1, false).0]),
    ("sort_ties_desc", |v| vec![v[0].sort(1, true).0]),
    ("logsumexp_ninf", |v| vec![v[0].logsumexp(1, false)]),
    ("masked_select_widen", |v| vec![v[0].masked_select(&v[1].data())]),
    ("repeat_0d", |v| vec![v[0].repeat(&[2, 3])]),
    ("select_neg_narrow", |v| vec![v[0].select(1, -1), v[0].narrow(1, 0, 2)]),
    ("softmax_0d", |v| vec![v[0].softmax(0)]),
    ("var_single", |v| vec![v[0].var_dim(1, false, false)]),
];

#[test]
fn special_first_order_cases_match_pytorch() {
    let fx = Fx::load("autograd", "autograd");
    for sfx in ["f32", "f64"] {
        for (name, f) in SPECIAL {
            let case = format!("sp_{name}_{sfx}");
            fx.check_grads(&case, tol(sfx), f);
        }
    }
    fx.finish_grads();
}

/// `n` evenly spaced values from `a` to `b` (PyTorch's `linspace`), shaped and typed like `like`.
fn linspace(a: f64, b: f64, like: &Tensor) -> Variable {
    let n = like.numel();
    let v: Vec<f64> = (0..n).map(|i| if n == 1 { a } else { a + (b - a) * i as f64 / (n - 1) as f64 }).collect();
    Variable::from(Tensor::from_vec(v, like.shape()).to_dtype(like.dtype()))
}

const SECOND: [(&str, One); 19] = [
    ("prod", |v| v[0].prod_dim(1, false)),
    ("prod_zeros", |v| v[0].prod_dim(1, false)),
    ("cumprod_zeros", |v| v[0].cumprod(1)),
    ("cumsum", |v| v[0].cumsum(0)),
    ("softmax", |v| v[0].softmax(1)),
    ("log_softmax", |v| v[0].log_softmax(0)),
    ("logsumexp", |v| v[0].logsumexp(1, false)),
    ("std", |v| v[0].std_dim(1, true, false)),
    ("var_k", |v| v[0].var_dim(0, true, true)),
    ("amax", |v| v[0].max_dim(1, false)),
    ("mean_sum", |v| &v[0].mean_dim(0, false) * &v[0].sum_dim(1, false).sum()),
    ("matmul", |v| v[0].matmul(&v[1])),
    ("linear", |v| v[0].linear(&v[1], Some(&v[2]))),
    ("conv2d", |v| {
        let o = Conv2dOpts { stride: [2, 1], padding: [1, 1], dilation: [1, 1], groups: 2 };
        v[0].conv2d(&v[1], Some(&v[2]), o)
    }),
    ("conv1d", |v| v[0].conv1d(&v[1], None, 1, 1, 2, 1)),
    ("conv_transpose2d", |v| v[0].conv_transpose2d(&v[1], Some(&v[2]), [2, 2], [1, 1], [1, 1], 1, [1, 1])),
    ("max_pool2d", |v| v[0].max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false)),
    ("avg_pool2d", |v| v[0].avg_pool2d([3, 3], [2, 2], [1, 1], true, false)),
    ("adaptive_avg_pool2d", |v| v[0].adaptive_avg_pool2d([3, 3])),
];

/// As the fixture: `g = grad(sum(tanh(f(x)) * w), x, create_graph)` flattened and joined over the
/// inputs, then `h = grad(sum(g * u), x)`; both compared with PyTorch's.
#[test]
fn second_derivatives_match_pytorch() {
    let fx = Fx::load("autograd", "autograd");
    let mut seen = 0;
    for sfx in ["f32", "f64"] {
        for (name, f) in SECOND {
            let case = format!("d2_{name}_{sfx}");
            let xs: Vec<Variable> = fx.inputs(&case).into_iter().map(|t| Variable::new(t, true)).collect();
            let out = f(&xs);
            let w = linspace(-1.0, 1.5, &out.data());
            let refs: Vec<&Variable> = xs.iter().collect();
            let gs = grad(&(&out.tanh() * &w).sum(), &refs, true);
            let g = Variable::cat(&gs.iter().map(|g| g.reshape(&[-1])).collect::<Vec<_>>(), 0);
            close(&g.data(), &fx.get(&case, "out0"), tol(sfx), &format!("{case} first"));
            let u = linspace(0.5, -2.0, &g.data());
            let hs = grad(&(&g * &u).sum(), &refs, false);
            for (i, h) in hs.iter().enumerate() {
                close(&h.data(), &fx.get(&case, &format!("out{}", i + 1)), tol(sfx), &format!("{case} second {i}"));
            }
            seen += 1;
        }
    }
    let all = fx.cases().into_iter().filter(|c| c.starts_with("d2_")).count();
    assert_eq!(seen, all, "every d2_ case of the fixture is checked");
}
