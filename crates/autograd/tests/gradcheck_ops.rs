//! Finite-difference checks (`gradcheck`, f64) of the first-order gradient of every differentiable
//! Variable op, on tiny random shapes, with broadcasting and non-contiguous operands (a transposed
//! view taken inside the checked function) where they apply.

mod common;

use common::x64;
use ember_autograd::{gradcheck, Conv2dOpts, Variable};
use ember_tensor::Tensor;

type F = Box<dyn Fn(&[Variable]) -> Variable>;

#[track_caller]
fn check(name: &str, inputs: &[Tensor], f: impl Fn(&[Variable]) -> Variable) {
    gradcheck(f, inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
}

fn idx(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

fn run(cases: Vec<(&str, Vec<Tensor>, F)>) {
    for (name, ins, f) in cases {
        check(name, &ins, f);
    }
}

#[test]
fn scalar_and_operator_forms() {
    let x = || vec![x64(&[2, 3], 1, 2.0)];
    run(vec![
        ("add_scalar", x(), Box::new(|v| v[0].add_scalar(1.5))),
        ("sub_scalar", x(), Box::new(|v| v[0].sub_scalar(1.5))),
        ("mul_scalar", x(), Box::new(|v| v[0].mul_scalar(-1.5))),
        ("div_scalar", x(), Box::new(|v| v[0].div_scalar(4.0))),
        ("rsub_scalar", x(), Box::new(|v| v[0].rsub_scalar(4.0))),
        ("rdiv_scalar", x(), Box::new(|v| v[0].rdiv_scalar(4.0))),
        ("pow_scalar", x(), Box::new(|v| v[0].pow_scalar(2.5))),
        ("pow_scalar_neg", x(), Box::new(|v| v[0].pow_scalar(-1.5))),
        ("maximum_scalar", x(), Box::new(|v| v[0].maximum_scalar(2.0))),
        ("minimum_scalar", x(), Box::new(|v| v[0].minimum_scalar(2.0))),
        ("clamp_max", x(), Box::new(|v| v[0].clamp_max(2.0))),
        ("round", x(), Box::new(|v| v[0].round())),
        ("operators", x(), Box::new(|v| (2.0 - &v[0]) * 3.0 / &v[0] + 1.0 - -&v[0])),
        ("rdiv_operator", x(), Box::new(|v| 2.0 / &v[0])),
    ]);
    // binary ops with one transposed (non-contiguous) operand and broadcasting
    let (a, b) = (x64(&[3, 2], 2, 2.0), x64(&[3, 1], 3, 2.0));
    type B = fn(&Variable, &Variable) -> Variable;
    let ops: [(&str, B); 7] = [
        ("add", |a, b| a + b),
        ("sub", |a, b| a - b),
        ("mul", |a, b| a * b),
        ("div", |a, b| a / b),
        ("pow", |a, b| a.pow(b)),
        ("maximum", Variable::maximum),
        ("minimum", Variable::minimum),
    ];
    for (name, op) in ops {
        check(name, &[a.clone(), b.clone()], |v| op(&v[0].t(), &v[1].t()));
    }
}

#[test]
fn reductions() {
    let x = || vec![x64(&[2, 3, 2], 4, 0.0)];
    let xt = || vec![x64(&[3, 2, 2], 5, 0.0)]; // transposed to (2, 3, 2) inside
                                               // zeros in a product: the gradient is the product of the others, exactly
    let z =
        || vec![Tensor::from_vec(vec![0.5f64, 0.0, 2.0, -1.5, 0.0, 0.0, 3.0, 1.25, -0.75, 1.5, 0.0, 2.5], &[2, 3, 2])];
    run(vec![
        ("sum", x(), Box::new(|v| v[0].sum())),
        ("sum_dim", x(), Box::new(|v| v[0].sum_dim(1, false))),
        ("sum_dim_keep_t", xt(), Box::new(|v| v[0].transpose(0, 1).sum_dim(-1, true))),
        ("sum_dims", x(), Box::new(|v| v[0].sum_dims(&[0, 2], false))),
        ("sum_dims_keep", x(), Box::new(|v| v[0].sum_dims(&[-1, 0], true))),
        ("sum_to_shape", x(), Box::new(|v| v[0].sum_to_shape(&[3, 1]))),
        ("mean", x(), Box::new(|v| v[0].mean())),
        ("mean_dim", xt(), Box::new(|v| v[0].transpose(0, 1).mean_dim(0, false))),
        ("mean_dims", x(), Box::new(|v| v[0].mean_dims(&[1, 2], true))),
        ("prod", x(), Box::new(|v| v[0].prod())),
        ("prod_dim", x(), Box::new(|v| v[0].prod_dim(1, false))),
        ("prod_dim_keep_t", xt(), Box::new(|v| v[0].transpose(0, 1).prod_dim(1, true))),
        ("prod_zeros", z(), Box::new(|v| v[0].prod_dim(1, false))),
        ("prod_all_zero", z(), Box::new(|v| v[0].prod())),
        ("max", x(), Box::new(|v| v[0].max())),
        ("min", x(), Box::new(|v| v[0].min())),
        ("max_dim", x(), Box::new(|v| v[0].max_dim(2, false))),
        ("min_dim_keep_t", xt(), Box::new(|v| v[0].transpose(0, 1).min_dim(0, true))),
        ("max_dim_with_indices", x(), Box::new(|v| v[0].max_dim_with_indices(1, false).0)),
        ("min_dim_with_indices", x(), Box::new(|v| v[0].min_dim_with_indices(-1, true).0)),
        ("var", x(), Box::new(|v| v[0].var(true))),
        ("var_dim", x(), Box::new(|v| v[0].var_dim(1, false, true))),
        ("var_dim_t", xt(), Box::new(|v| v[0].transpose(0, 1).var_dim(-1, true, false))),
        ("std", x(), Box::new(|v| v[0].std(false))),
        ("std_dim", x(), Box::new(|v| v[0].std_dim(1, true, true))),
        ("std_dim_t", xt(), Box::new(|v| v[0].transpose(0, 1).std_dim(0, false, false))),
        ("logsumexp", x(), Box::new(|v| v[0].logsumexp(1, false))),
        ("logsumexp_keep", x(), Box::new(|v| v[0].logsumexp(-1, true))),
        ("cumsum", x(), Box::new(|v| v[0].cumsum(1))),
        ("cumsum_t", xt(), Box::new(|v| v[0].transpose(0, 1).cumsum(0))),
        ("cumprod", x(), Box::new(|v| v[0].cumprod(1))),
        ("cumprod_t", xt(), Box::new(|v| v[0].transpose(0, 1).cumprod(-1))),
        ("cumprod_zeros", z(), Box::new(|v| v[0].cumprod(1))),
        ("softmax", x(), Box::new(|v| v[0].softmax(1))),
        ("softmax_t", xt(), Box::new(|v| v[0].transpose(0, 1).softmax(-1))),
        ("log_softmax", x(), Box::new(|v| v[0].log_softmax(0))),
    ]);
}

#[test]
fn views_and_movement() {
    let x = || vec![x64(&[2, 3, 2], 6, 0.0)];
    run(vec![
        ("reshape", x(), Box::new(|v| v[0].reshape(&[3, -1]).sin())),
        ("reshape_t", x(), Box::new(|v| v[0].transpose(0, 2).reshape(&[-1]).sin())),
        ("view", x(), Box::new(|v| v[0].view(&[6, 2]).sin())),
        ("transpose", x(), Box::new(|v| v[0].transpose(0, -1).sin())),
        ("t", vec![x64(&[2, 3], 7, 0.0)], Box::new(|v| v[0].t().sin())),
        ("permute", x(), Box::new(|v| v[0].permute(&[2, 0, 1]).sin())),
        ("unsqueeze_squeeze", x(), Box::new(|v| v[0].unsqueeze(1).sin().squeeze(1))),
        ("squeeze_all", vec![x64(&[1, 3, 1], 8, 0.0)], Box::new(|v| v[0].squeeze_all().sin())),
        ("flatten", x(), Box::new(|v| v[0].flatten(1, 2).sin())),
        ("expand", vec![x64(&[3, 1], 9, 0.0)], Box::new(|v| v[0].expand(&[2, -1, 4]).sin())),
        ("broadcast_to", vec![x64(&[3], 9, 0.0)], Box::new(|v| v[0].broadcast_to(&[2, 3]).sin())),
        ("expand_as", vec![x64(&[1, 2], 9, 0.0), x64(&[3, 2], 10, 0.0)], Box::new(|v| &v[0].expand_as(&v[1]) * &v[1])),
        ("narrow", x(), Box::new(|v| v[0].narrow(1, 1, 2).sin())),
        ("narrow_neg_dim", x(), Box::new(|v| v[0].narrow(-1, 1, 1).sin())),
        ("pad_dim", x(), Box::new(|v| v[0].pad_dim(1, 2, 1).sin())),
        ("select", x(), Box::new(|v| v[0].select(1, -1).sin())),
        ("select_t", x(), Box::new(|v| v[0].transpose(0, 1).select(-1, 0).sin())),
        (
            "chunk",
            x(),
            Box::new(|v| {
                let p = v[0].chunk(2, 1);
                &p[0].sum() * &p[1].exp().sum()
            }),
        ),
        (
            "split",
            x(),
            Box::new(|v| {
                let p = v[0].split(2, 1);
                &p[0].sin().sum() * &p[1].sum()
            }),
        ),
        (
            "split_sizes",
            x(),
            Box::new(|v| {
                let p = v[0].split_sizes(&[1, 2], 1);
                &p[0].sin().sum() + &p[1].exp().sum()
            }),
        ),
        ("contiguous", x(), Box::new(|v| v[0].transpose(0, 1).contiguous().sin())),
        ("flip", x(), Box::new(|v| v[0].flip(&[0, -1]).sin())),
        ("repeat", vec![x64(&[2, 3], 11, 0.0)], Box::new(|v| v[0].repeat(&[2, 1, 2]).sin())),
        ("repeat_t", vec![x64(&[2, 3], 11, 0.0)], Box::new(|v| v[0].t().repeat(&[1, 3]).sin())),
    ]);
}

#[test]
fn indexing_joining_selection() {
    let x = || x64(&[3, 4], 12, 0.0);
    let i1 = idx(&[2, 0, 2], &[3]);
    let g2 = idx(&[0, 2, 1, 2, 0, 0], &[2, 3]);
    let perm = idx(&[2, 0, 1, 1], &[1, 4]); // distinct rows per column: no scatter collision
    let mask = Tensor::from_vec(vec![1.0f64, 0.0, 1.0, 1.0], &[4]).ne_scalar(0.0);
    let cond = Tensor::from_vec(vec![1.0f64, 0.0, 0.0, 1.0, 1.0, 0.0], &[2, 3, 1]).ne_scalar(0.0);
    let (i1a, i1b, g2a, pa, pb, ma, mb, ca) =
        (i1.clone(), i1.clone(), g2.clone(), perm.clone(), perm.clone(), mask.clone(), mask.clone(), cond.clone());
    let emb = idx(&[1, 0, 1, 3, 1, 1], &[2, 3]);
    run(vec![
        ("index_select", vec![x()], Box::new(move |v| v[0].index_select(0, &i1a).sin())),
        ("index_select_t", vec![x()], Box::new(move |v| v[0].t().index_select(1, &i1b).sin())),
        ("index_add", vec![x(), x64(&[3, 3], 13, 0.0)], Box::new(move |v| v[0].index_add(1, &i1, &v[1]).sin())),
        ("gather", vec![x()], Box::new(move |v| v[0].gather(1, &g2a).sin())),
        ("scatter_add", vec![x(), x64(&[2, 3], 14, 0.0)], Box::new(move |v| v[0].scatter_add(1, &g2, &v[1]).sin())),
        // src larger than index: the unread part of src gets a zero gradient
        (
            "scatter_add_big_src",
            vec![x(), x64(&[2, 5], 15, 0.0)],
            Box::new(|v| v[0].scatter_add(0, &idx(&[1, 2, 0, 0, 2, 1], &[2, 3]), &v[1]).sin()),
        ),
        ("scatter", vec![x(), x64(&[1, 4], 16, 0.0)], Box::new(move |v| v[0].scatter(0, &pa, &v[1]).sin())),
        ("scatter_big_src", vec![x(), x64(&[2, 5], 17, 0.0)], Box::new(move |v| v[0].scatter(0, &pb, &v[1]).sin())),
        ("scatter_value", vec![x()], Box::new(move |v| v[0].scatter_value(0, &perm, 2.5).sin())),
        ("embedding", vec![x64(&[4, 3], 18, 0.0)], Box::new(move |v| Variable::embedding(&v[0], &emb).sin())),
        ("masked_select", vec![x()], Box::new(move |v| v[0].masked_select(&ma).sin())),
        (
            "masked_select_bcast",
            vec![x64(&[4], 19, 0.0)],
            Box::new(move |v| v[0].masked_select(&mb.logical_and(&Tensor::ones(&[2, 4]).ne_scalar(0.0))).sin()),
        ),
        ("masked_fill", vec![x64(&[2, 3], 20, 0.0)], Box::new(move |v| v[0].masked_fill(&ca.squeeze(-1), -1.0).sin())),
        ("masked_fill_widening", vec![x64(&[3, 1], 21, 0.0)], Box::new(move |v| v[0].masked_fill(&cond, 0.5).sin())),
        (
            "where_bcast",
            vec![x64(&[3, 4], 22, 0.0), x64(&[4], 23, 0.0)],
            Box::new(|v| {
                let c = Tensor::from_vec(vec![1.0f64, 0.0, 1.0], &[3, 1]).ne_scalar(0.0);
                v[0].t().t().where_(&c, &v[1]).sin()
            }),
        ),
        (
            "cat",
            vec![x(), x64(&[3, 2], 24, 0.0)],
            Box::new(|v| Variable::cat(&[v[0].clone(), v[1].clone(), v[0].clone()], 1).sin()),
        ),
        (
            "cat_t_legacy_empty",
            vec![x(), x64(&[4, 3], 25, 0.0), Tensor::zeros_dtype(&[0], ember_tensor::DType::F64)],
            Box::new(|v| Variable::cat(&[v[2].clone(), v[0].clone(), v[1].t(), v[2].clone()], 0).sin()),
        ),
        ("stack", vec![x(), x64(&[4, 3], 26, 0.0)], Box::new(|v| Variable::stack(&[v[0].clone(), v[1].t()], -1).sin())),
        ("sort", vec![x()], Box::new(|v| v[0].sort(1, true).0.sin())),
        ("topk", vec![x()], Box::new(|v| v[0].t().topk(2, 0, false, true).0.sin())),
    ]);
}

#[test]
fn linear_algebra() {
    let m = |s: &[usize], seed| x64(s, seed, 0.0);
    run(vec![
        ("dot", vec![m(&[4], 30), m(&[4], 31)], Box::new(|v| v[0].dot(&v[1]))),
        ("matmul_vv", vec![m(&[4], 30), m(&[4], 31)], Box::new(|v| v[0].matmul(&v[1]))),
        ("matmul_mv", vec![m(&[3, 4], 32), m(&[4], 31)], Box::new(|v| v[0].matmul(&v[1]))),
        ("matmul_vm", vec![m(&[3], 33), m(&[3, 2], 34)], Box::new(|v| v[0].matmul(&v[1]))),
        ("mm", vec![m(&[2, 3], 35), m(&[3, 2], 36)], Box::new(|v| v[0].mm(&v[1]))),
        ("mm_t", vec![m(&[3, 2], 35), m(&[2, 3], 36)], Box::new(|v| v[0].t().mm(&v[1].t()))),
        ("bmm", vec![m(&[2, 2, 3], 37), m(&[2, 3, 2], 38)], Box::new(|v| v[0].bmm(&v[1]))),
        ("matmul_bcast", vec![m(&[2, 1, 2, 3], 39), m(&[3, 3, 2], 40)], Box::new(|v| v[0].matmul(&v[1]))),
        ("matmul_nd_v", vec![m(&[2, 2, 3], 41), m(&[3], 42)], Box::new(|v| v[0].matmul(&v[1]))),
        ("matmul_v_nd", vec![m(&[2], 43), m(&[2, 2, 3], 44)], Box::new(|v| v[0].matmul(&v[1]))),
        ("linear", vec![m(&[2, 2, 3], 45), m(&[4, 3], 46), m(&[4], 47)], Box::new(|v| v[0].linear(&v[1], Some(&v[2])))),
        ("linear_1d_nobias", vec![m(&[3], 48), m(&[2, 3], 49)], Box::new(|v| v[0].linear(&v[1], None))),
        ("linear_wt", vec![m(&[2, 3], 50), m(&[3, 2], 51)], Box::new(|v| v[0].linear(&v[1].t(), None))),
    ]);
}

#[test]
fn convolutions() {
    let m = |s: &[usize], seed| x64(s, seed, 0.0);
    let o = Conv2dOpts { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 };
    run(vec![
        (
            "conv2d",
            vec![m(&[2, 2, 4, 5], 60), m(&[2, 1, 2, 2], 61), m(&[2], 62)],
            Box::new(move |v| v[0].conv2d(&v[1], Some(&v[2]), o)),
        ),
        (
            "conv2d_unbatched_t",
            vec![m(&[3, 4, 1], 63), m(&[2, 1, 2, 2], 64)],
            Box::new(|v| {
                v[0].permute(&[2, 1, 0]).conv2d(&v[1], None, Conv2dOpts { padding: [1, 1], ..Default::default() })
            }),
        ),
        (
            "conv1d",
            vec![m(&[2, 2, 5], 65), m(&[4, 1, 2], 66), m(&[4], 67)],
            Box::new(|v| v[0].conv1d(&v[1], Some(&v[2]), 2, 1, 2, 2)),
        ),
        (
            "conv1d_unbatched",
            vec![m(&[2, 4], 68), m(&[1, 2, 3], 69)],
            Box::new(|v| v[0].conv1d(&v[1], None, 1, 1, 1, 1)),
        ),
        (
            "conv_transpose2d",
            vec![m(&[1, 2, 3, 2], 70), m(&[2, 2, 2, 2], 71), m(&[4], 72)],
            Box::new(|v| v[0].conv_transpose2d(&v[1], Some(&v[2]), [2, 1], [1, 0], [1, 0], 2, [1, 2])),
        ),
        (
            "conv_transpose2d_op_dil",
            vec![m(&[1, 1, 2, 3], 73), m(&[1, 2, 2, 2], 74)],
            Box::new(|v| v[0].conv_transpose2d(&v[1], None, [1, 1], [0, 0], [1, 1], 1, [2, 2])),
        ),
    ]);
}

#[test]
fn pooling() {
    let x = || vec![x64(&[1, 2, 4, 5], 80, 0.0)];
    run(vec![
        ("max_pool2d", x(), Box::new(|v| v[0].max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false))),
        ("max_pool2d_pad_ceil_dil", x(), Box::new(|v| v[0].max_pool2d([2, 3], [2, 1], [1, 1], [2, 1], true))),
        ("max_pool2d_t", x(), Box::new(|v| v[0].transpose(2, 3).max_pool2d([3, 2], [1, 2], [1, 0], [1, 1], false))),
        (
            "max_pool2d_with_indices",
            x(),
            Box::new(|v| v[0].max_pool2d_with_indices([2, 2], [1, 1], [0, 0], [1, 1], false).0),
        ),
        ("avg_pool2d", x(), Box::new(|v| v[0].avg_pool2d([2, 2], [2, 2], [1, 1], true, false))),
        ("avg_pool2d_incl", x(), Box::new(|v| v[0].avg_pool2d([3, 2], [1, 2], [1, 1], false, true))),
        ("adaptive_avg_pool2d", x(), Box::new(|v| v[0].adaptive_avg_pool2d([3, 2]))),
        ("adaptive_unbatched", vec![x64(&[2, 3, 3], 81, 0.0)], Box::new(|v| v[0].adaptive_avg_pool2d([2, 4]))),
        ("max_pool1d", vec![x64(&[2, 2, 7], 82, 0.0)], Box::new(|v| v[0].max_pool1d(3, 2, 1))),
        ("avg_pool1d", vec![x64(&[2, 7], 83, 0.0)], Box::new(|v| v[0].avg_pool1d(2, 2, 1))),
    ]);
}
