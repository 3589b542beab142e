//! Second-order finite-difference checks: `gradcheck` of `x -> grad(sum(w * tanh(op(x))), x,
//! create_graph = true)`, so every backward rule is itself differentiated (in its inputs and in
//! the upstream gradient) and checked. Elementwise ops, reductions, scans, softmax,
//! matmul/linear, and also convolutions, pools and indexing (whose backward kernels are recorded
//! ops with their own rules).

mod common;

use common::x64;
use ember_autograd::{grad, gradcheck, no_grad, Conv2dOpts, Variable};
use ember_tensor::Tensor;

type F = Box<dyn Fn(&[Variable]) -> Variable>;

/// Checks the gradient of `sum(w * tanh(f(inputs)))` (every float input, flattened and joined)
/// against finite differences.
#[track_caller]
fn check2(name: &str, inputs: &[Tensor], f: impl Fn(&[Variable]) -> Variable) {
    let shape = no_grad(|| f(&inputs.iter().map(Variable::from).collect::<Vec<_>>()).shape());
    let w = Variable::from(x64(&shape, 99, 0.5));
    let first = |v: &[Variable]| {
        let loss = (&f(v).tanh() * &w).sum();
        let diff: Vec<&Variable> = v.iter().filter(|x| x.requires_grad()).collect();
        let gs = grad(&loss, &diff, true);
        Variable::cat(&gs.iter().map(|g| g.reshape(&[-1])).collect::<Vec<_>>(), 0)
    };
    gradcheck(first, inputs).unwrap_or_else(|e| panic!("second order of {name}: {e}"));
}

fn run(cases: Vec<(&str, Vec<Tensor>, F)>) {
    for (name, ins, f) in cases {
        check2(name, &ins, f);
    }
}

type Un = fn(&Variable) -> Variable;

#[test]
fn elementwise_second_order() {
    let unary: [(&str, Un); 33] = [
        ("neg", |x| -x),
        ("abs", Variable::abs),
        ("exp", Variable::exp),
        ("tanh", Variable::tanh),
        ("sigmoid", Variable::sigmoid),
        ("relu", Variable::relu),
        ("gelu", Variable::gelu),
        ("silu", Variable::silu),
        ("softplus", Variable::softplus),
        ("sign", Variable::sign),
        ("floor", Variable::floor),
        ("ceil", Variable::ceil),
        ("round", Variable::round),
        ("sin", Variable::sin),
        ("cos", Variable::cos),
        ("square", Variable::square),
        ("erf", Variable::erf),
        ("log", Variable::log),
        ("sqrt", Variable::sqrt),
        ("rsqrt", Variable::rsqrt),
        ("log1p", Variable::log1p),
        ("recip", Variable::recip),
        ("powf", |x| x.powf(2.5)),
        ("clamp", |x| x.clamp(Some(1.0), Some(3.0))),
        ("clamp_min", |x| x.clamp_min(1.5)),
        ("clamp_max", |x| x.clamp_max(2.5)),
        ("leaky_relu", |x| (x - 2.0).leaky_relu(0.1)),
        ("elu", |x| (x - 2.0).elu(0.7)),
        ("scalar_ops", |x| (x * 3.0 - 1.0) / 2.0 + 0.5),
        ("rsub_rdiv", |x| 2.0 / &(5.0 - x)),
        ("pow_scalar", |x| x.pow_scalar(1.5)),
        ("maximum_scalar", |x| x.maximum_scalar(2.0)),
        ("minimum_scalar", |x| x.minimum_scalar(2.0)),
    ];
    for (name, f) in unary {
        check2(name, &[x64(&[5], 1, 2.0)], |v| f(&v[0]));
    }
    type B = fn(&Variable, &Variable) -> Variable;
    let binary: [(&str, B); 7] = [
        ("add", |a, b| a + b),
        ("sub", |a, b| a - b),
        ("mul", |a, b| a * b),
        ("div", |a, b| a / b),
        ("pow", |a, b| a.pow(b)),
        ("maximum", Variable::maximum),
        ("minimum", Variable::minimum),
    ];
    for (name, f) in binary {
        // broadcasting [3, 1] with [2]; the first operand a transposed view
        check2(name, &[x64(&[1, 3], 2, 2.0), x64(&[2], 3, 1.0)], |v| f(&v[0].t(), &v[1]));
    }
}

#[test]
fn reductions_second_order() {
    let x = || vec![x64(&[2, 3, 2], 4, 0.0)];
    let z =
        || vec![Tensor::from_vec(vec![0.5f64, 0.0, 2.0, -1.5, 0.0, 0.0, 3.0, 1.25, -0.75, 1.5, 0.0, 2.5], &[2, 3, 2])];
    run(vec![
        ("sum", x(), Box::new(|v| v[0].sum())),
        ("sum_dim", x(), Box::new(|v| v[0].sum_dim(1, false))),
        ("sum_dims", x(), Box::new(|v| v[0].sum_dims(&[0, 2], true))),
        ("mean", x(), Box::new(|v| v[0].mean())),
        ("mean_dim", x(), Box::new(|v| v[0].mean_dim(-1, true))),
        ("mean_dims", x(), Box::new(|v| v[0].mean_dims(&[0, 1], false))),
        ("prod", x(), Box::new(|v| v[0].prod())),
        ("prod_dim", x(), Box::new(|v| v[0].prod_dim(1, true))),
        ("prod_dim_zeros", z(), Box::new(|v| v[0].prod_dim(1, false))),
        ("max", x(), Box::new(|v| v[0].max())),
        ("max_dim", x(), Box::new(|v| v[0].max_dim(1, false))),
        ("min_dim", x(), Box::new(|v| v[0].min_dim(0, true))),
        ("max_dim_with_indices", x(), Box::new(|v| v[0].max_dim_with_indices(2, false).0)),
        ("var", x(), Box::new(|v| v[0].var(true))),
        ("var_dim", x(), Box::new(|v| v[0].var_dim(1, false, true))),
        ("std", x(), Box::new(|v| v[0].std(false))),
        ("std_dim", x(), Box::new(|v| v[0].std_dim(1, true, false))),
        ("logsumexp", x(), Box::new(|v| v[0].logsumexp(1, false))),
        ("softmax", x(), Box::new(|v| v[0].softmax(1))),
        ("softmax_t", x(), Box::new(|v| v[0].transpose(0, 2).softmax(-1))),
        ("log_softmax", x(), Box::new(|v| v[0].log_softmax(-1))),
        ("cumsum", x(), Box::new(|v| v[0].cumsum(1))),
        ("cumprod", x(), Box::new(|v| v[0].cumprod(1))),
        ("cumprod_zeros", z(), Box::new(|v| v[0].cumprod(1))),
    ]);
}

#[test]
fn linear_algebra_second_order() {
    let m = |s: &[usize], seed| x64(s, seed, 0.0);
    run(vec![
        ("dot", vec![m(&[3], 30), m(&[3], 31)], Box::new(|v| v[0].dot(&v[1]))),
        ("matmul_vv", vec![m(&[3], 30), m(&[3], 31)], Box::new(|v| v[0].matmul(&v[1]))),
        ("matmul_mv", vec![m(&[2, 3], 32), m(&[3], 31)], Box::new(|v| v[0].matmul(&v[1]))),
        ("mm", vec![m(&[2, 3], 35), m(&[3, 2], 36)], Box::new(|v| v[0].mm(&v[1]))),
        ("mm_t", vec![m(&[3, 2], 35), m(&[2, 3], 36)], Box::new(|v| v[0].t().mm(&v[1].t()))),
        ("bmm", vec![m(&[2, 2, 2], 37), m(&[2, 2, 2], 38)], Box::new(|v| v[0].bmm(&v[1]))),
        ("matmul_bcast", vec![m(&[2, 1, 2, 2], 39), m(&[2, 2, 1], 40)], Box::new(|v| v[0].matmul(&v[1]))),
        ("linear", vec![m(&[2, 3], 45), m(&[2, 3], 46), m(&[2], 47)], Box::new(|v| v[0].linear(&v[1], Some(&v[2])))),
        ("linear_1d", vec![m(&[3], 48), m(&[2, 3], 49)], Box::new(|v| v[0].linear(&v[1], None))),
    ]);
}

#[test]
fn conv_pool_index_second_order() {
    let m = |s: &[usize], seed| x64(s, seed, 0.0);
    let o = Conv2dOpts { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 };
    run(vec![
        (
            "conv2d",
            vec![m(&[1, 2, 3, 4], 60), m(&[2, 1, 2, 2], 61), m(&[2], 62)],
            Box::new(move |v| v[0].conv2d(&v[1], Some(&v[2]), o)),
        ),
        ("conv1d", vec![m(&[1, 2, 4], 65), m(&[2, 2, 2], 66)], Box::new(|v| v[0].conv1d(&v[1], None, 1, 1, 1, 1))),
        (
            "conv_transpose2d",
            vec![m(&[1, 2, 2, 2], 70), m(&[2, 1, 2, 2], 71), m(&[2], 72)],
            Box::new(|v| v[0].conv_transpose2d(&v[1], Some(&v[2]), [2, 1], [1, 0], [1, 0], 2, [1, 1])),
        ),
        ("max_pool2d", vec![m(&[1, 1, 4, 4], 80)], Box::new(|v| v[0].max_pool2d([2, 2], [1, 2], [1, 0], [1, 1], true))),
        ("avg_pool2d", vec![m(&[1, 1, 4, 3], 81)], Box::new(|v| v[0].avg_pool2d([2, 2], [2, 1], [1, 1], true, false))),
        ("adaptive_avg_pool2d", vec![m(&[1, 3, 3], 82)], Box::new(|v| v[0].adaptive_avg_pool2d([2, 2]))),
        ("max_pool1d", vec![m(&[1, 6], 83)], Box::new(|v| v[0].max_pool1d(2, 2, 1))),
        // windows lying wholly in the padding give -inf and an out-of-plane index
        (
            "max_pool2d_all_pad",
            vec![m(&[1, 1, 1, 3], 87)],
            Box::new(|v| v[0].max_pool2d([2, 2], [1, 1], [1, 1], [2, 2], false).clamp_min(-10.0)),
        ),
        ("gather", vec![m(&[2, 3], 84)], Box::new(|v| v[0].gather(1, &Tensor::from_vec(vec![2i64, 0, 1, 1], &[2, 2])))),
        (
            "index_select_cat",
            vec![m(&[3, 2], 85)],
            Box::new(|v| {
                let s = v[0].index_select(0, &Tensor::from_vec(vec![2i64, 2, 0], &[3]));
                Variable::cat(&[s, v[0].narrow(0, 1, 1)], 0)
            }),
        ),
        (
            "embedding_masked",
            vec![m(&[3, 2], 86)],
            Box::new(|v| {
                let e = Variable::embedding(&v[0], &Tensor::from_vec(vec![1i64, 1, 2], &[3]));
                e.masked_fill(&Tensor::from_vec(vec![1.0f64, 0.0], &[2]).ne_scalar(0.0), 0.0)
            }),
        ),
    ]);
}
