//! Every public op of the tensor crate on GPU tensors against the CPU, table-driven (part 1:
//! elementwise, comparisons, reductions, scans, softmax, sorting, views, creation). Results must
//! match in values, shapes, dtypes and device (the GPU), errors in their message. Cases marked
//! native must not take the host fallback. Part 2 (indexing, joining, products, convolutions,
//! pooling) is `gpu_ops_nn.rs`.

#[macro_use]
mod gpu_util;

use ember_tensor::{DType, Error, Result, Tensor};
use gpu_util::{gpu, run_table, Case, Rng};

/// Families with native kernels (their cases must not take the host fallback).
const CMP: bool = true;
const RED: bool = true;
const ARG: bool = true;
const SOFTMAX: bool = true;

fn ok<T>(v: T) -> Result<T> {
    Ok::<T, Error>(v)
}

fn rnd(shape: &[usize], seed: u64) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(Rng::new(seed).vec(n, -2.0, 2.0), shape).to_dtype(DType::F32)
}

fn rnd64(shape: &[usize], seed: u64) -> Tensor {
    rnd(shape, seed).to_dtype(DType::F64)
}

fn ints(shape: &[usize], seed: u64, lo: i64, hi: i64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    Tensor::from_vec((0..n).map(|_| r.uniform(lo as f64, hi as f64).floor() as i64).collect(), shape)
}

fn bools(shape: &[usize], seed: u64) -> Tensor {
    rnd(shape, seed).gt_scalar(0.0)
}

/// Values with repeats, NaN and infinities, for comparisons and extrema.
fn special() -> Tensor {
    let v = [1.0f32, f32::NAN, -0.0, 0.0, f32::INFINITY, 3.0, -f32::INFINITY, 3.0, 2.0, -1.0, 1.0, 7.0];
    Tensor::from_vec(v.to_vec(), &[3, 4])
}

fn elementwise() -> Vec<Case> {
    let mut v = vec![];
    type U = fn(&Tensor) -> Tensor;
    let unary: [(&str, U); 31] = [
        ("neg", |t| t.neg()),
        ("abs", |t| t.abs()),
        ("exp", |t| t.exp()),
        ("log", |t| t.abs().log()),
        ("log1p", |t| t.abs().log1p()),
        ("sqrt", |t| t.abs().sqrt()),
        ("rsqrt", |t| t.abs().add_scalar(0.5).rsqrt()),
        ("sin", |t| t.sin()),
        ("cos", |t| t.cos()),
        ("tanh", |t| t.tanh()),
        ("sigmoid", |t| t.sigmoid()),
        ("relu", |t| t.relu()),
        ("gelu", |t| t.gelu()),
        ("silu", |t| t.silu()),
        ("softplus", |t| t.softplus()),
        ("sign", |t| t.sign()),
        ("floor", |t| t.floor()),
        ("ceil", |t| t.ceil()),
        ("round", |t| t.round()),
        ("recip", |t| t.recip()),
        ("erf", |t| t.erf()),
        ("powf", |t| t.abs().powf(1.5)),
        ("clamp", |t| t.clamp(Some(-0.5), Some(1.0))),
        ("clamp_min", |t| t.clamp_min(0.1)),
        ("clamp_max", |t| t.clamp_max(0.1)),
        ("leaky_relu", |t| t.leaky_relu(0.1)),
        ("elu", |t| t.elu(1.5)),
        ("square", |t| t.square()),
        ("rsub_scalar", |t| t.rsub_scalar(2.0)),
        ("rdiv_scalar", |t| t.rdiv_scalar(2.0)),
        ("operators", |t| &(&(-t) * 2.0) + &(t / 3.0) - 1.0),
    ];
    for (name, f) in unary {
        v.push(case!(true, name, [rnd(&[5, 7], 1)], |t| ok(f(&t[0].t()))));
        v.push(case!(true, format!("{name} f64"), [rnd64(&[65], 2)], |t| ok(f(&t[0]))));
    }
    type B = fn(&Tensor, &Tensor) -> Result<Tensor>;
    let binary: [(&str, B); 7] = [
        ("add", |a, b| a.try_add(b)),
        ("sub", |a, b| a.try_sub(b)),
        ("mul", |a, b| a.try_mul(b)),
        ("div", |a, b| a.try_div(b)),
        ("pow", |a, b| a.abs().try_pow(b)),
        ("maximum", |a, b| a.try_maximum(b)),
        ("minimum", |a, b| a.try_minimum(b)),
    ];
    for (name, f) in binary {
        v.push(case!(true, name, [rnd(&[4, 1, 6], 3), rnd(&[5, 6], 4)], |t| f(&t[0], &t[1])));
        v.push(case!(true, format!("{name} i64"), [ints(&[7], 5, -5, 5), ints(&[1], 6, 1, 4)], |t| f(&t[0], &t[1])));
        v.push(case!(true, format!("{name} error"), [rnd(&[3], 3), rnd(&[4], 4)], |t| f(&t[0], &t[1])));
    }
    type S = fn(&Tensor, f64) -> Result<Tensor>;
    let scalar: [(&str, S); 7] = [
        ("add_scalar", |a, s| a.try_add_scalar(s)),
        ("sub_scalar", |a, s| a.try_sub_scalar(s)),
        ("mul_scalar", |a, s| a.try_mul_scalar(s)),
        ("div_scalar", |a, s| a.try_div_scalar(s)),
        ("pow_scalar", |a, s| a.abs().try_pow_scalar(s)),
        ("maximum_scalar", |a, s| a.try_maximum_scalar(s)),
        ("minimum_scalar", |a, s| a.try_minimum_scalar(s)),
    ];
    for (name, f) in scalar {
        v.push(case!(true, name, [rnd(&[9, 3], 7)], |t| f(&t[0], 0.5)));
        v.push(case!(true, format!("{name} i64"), [ints(&[9], 8, -9, 9)], |t| f(&t[0], 2.0)));
    }
    v.push(case!(true, "unary i64 promotes", [ints(&[6], 9, -3, 3)], |t| ok(t[0].exp())));
    v.push(case!(true, "to_dtype", [rnd(&[4, 4], 10)], |t| ok(vec![
        t[0].to_dtype(DType::I64),
        t[0].to_dtype(DType::Bool),
        t[0].to_dtype(DType::F64)
    ])));
    v.push(case!(true, "contiguous", [rnd(&[4, 6], 11)], |t| t[0].narrow(1, 1, 3).t().try_contiguous()));
    v.push(case!(true, "zeros/ones/full_like", [ints(&[2, 3], 12, 0, 9)], |t| ok(vec![
        t[0].zeros_like(),
        t[0].ones_like(),
        t[0].full_like(-4.0)
    ])));
    v
}

fn compare() -> Vec<Case> {
    let mut v = vec![];
    type C = fn(&Tensor, &Tensor) -> Result<Tensor>;
    let ops: [(&str, C); 6] = [
        ("eq", |a, b| a.try_eq(b)),
        ("ne", |a, b| a.try_ne(b)),
        ("lt", |a, b| a.try_lt(b)),
        ("le", |a, b| a.try_le(b)),
        ("gt", |a, b| a.try_gt(b)),
        ("ge", |a, b| a.try_ge(b)),
    ];
    for (name, f) in ops {
        v.push(case!(CMP, name, [special(), special().t().contiguous()], |t| f(&t[0], &t[1].t())));
        v.push(case!(CMP, format!("{name} broadcast f64"), [rnd64(&[3, 1, 70], 1), rnd64(&[5, 70], 2)], |t| f(
            &t[0], &t[1]
        )));
        v.push(case!(CMP, format!("{name} i64"), [ints(&[300], 3, -3, 3), ints(&[300], 4, -3, 3)], |t| f(
            &t[0], &t[1]
        )));
        v.push(case!(CMP, format!("{name} bool"), [bools(&[17], 5), bools(&[17], 6)], |t| f(&t[0], &t[1])));
        v.push(case!(CMP, format!("{name} dtype error"), [rnd(&[3], 5), ints(&[3], 6, 0, 2)], |t| f(&t[0], &t[1])));
    }
    type CS = fn(&Tensor, f64) -> Result<Tensor>;
    let scalar: [(&str, CS); 6] = [
        ("eq_scalar", |a, s| a.try_eq_scalar(s)),
        ("ne_scalar", |a, s| a.try_ne_scalar(s)),
        ("lt_scalar", |a, s| a.try_lt_scalar(s)),
        ("le_scalar", |a, s| a.try_le_scalar(s)),
        ("gt_scalar", |a, s| a.try_gt_scalar(s)),
        ("ge_scalar", |a, s| a.try_ge_scalar(s)),
    ];
    for (name, f) in scalar {
        v.push(case!(CMP, name, [special()], |t| f(&t[0], 3.0)));
        v.push(case!(CMP, format!("{name} i64 fractional"), [ints(&[20], 7, -3, 3)], |t| f(&t[0], 0.5)));
        v.push(case!(CMP, format!("{name} bool"), [bools(&[20], 8)], |t| f(&t[0], 2.0)));
    }
    v.push(
        case!(CMP, "where_", [bools(&[4, 1], 9), rnd(&[4, 5], 10), rnd(&[5], 11)], |t| t[1].try_where_(&t[0], &t[2]))
    );
    v.push(case!(
        CMP,
        "where_ i64 strided",
        [bools(&[6, 3], 9), ints(&[3, 6], 10, -9, 9), ints(&[1], 11, 0, 3)],
        |t| t[1].t().try_where_(&t[0], &t[2])
    ));
    v.push(case!(CMP, "where_ f64", [bools(&[70], 12), rnd64(&[70], 13), rnd64(&[70], 14)], |t| t[1]
        .try_where_(&t[0], &t[2])));
    v.push(case!(CMP, "where_ bool", [bools(&[9], 12), bools(&[9], 13), bools(&[9], 14)], |t| t[1]
        .try_where_(&t[0], &t[2])));
    v.push(case!(CMP, "where_ cond error", [rnd(&[3], 1), rnd(&[3], 2)], |t| t[0].try_where_(&t[1], &t[0])));
    v.push(case!(CMP, "where_ shape error", [bools(&[3], 1), rnd(&[4], 2)], |t| t[1].try_where_(&t[0], &t[1])));
    v.push(case!(CMP, "masked_fill", [rnd(&[3, 5], 15), bools(&[5], 16)], |t| t[0].try_masked_fill(&t[1], -1e9)));
    v.push(case!(CMP, "masked_fill i64 t", [ints(&[5, 3], 15, 0, 9), bools(&[3, 5], 16)], |t| t[0]
        .t()
        .try_masked_fill(&t[1], 7.0)));
    v.push(case!(CMP, "masked_fill f64", [rnd64(&[300], 15), bools(&[300], 16)], |t| t[0].try_masked_fill(&t[1], 0.25)));
    v.push(case!(CMP, "masked_fill error", [rnd(&[3], 15), rnd(&[3], 16)], |t| t[0].try_masked_fill(&t[1], 1.0)));
    v.push(case!(CMP, "logical_not", [special(), ints(&[5], 1, -1, 2)], |t| ok(vec![
        t[0].logical_not(),
        t[1].logical_not()
    ])));
    v.push(case!(CMP, "logical_and", [special(), ints(&[4], 1, -1, 2)], |t| t[0].try_logical_and(&t[1])));
    v.push(case!(CMP, "logical_or", [bools(&[3, 1], 2), rnd64(&[4], 3)], |t| t[0].try_logical_or(&t[1])));
    v.push(case!(CMP, "isnan isfinite", [special(), ints(&[4], 1, -1, 2)], |t| ok(vec![
        t[0].isnan(),
        t[0].isfinite(),
        t[1].isnan(),
        t[1].isfinite()
    ])));
    v
}

fn reductions() -> Vec<Case> {
    let mut v = vec![];
    let x = || rnd(&[4, 70, 3], 20);
    v.push(case!(RED, "sum", [x(), ints(&[5, 5], 21, -9, 9), bools(&[300], 22)], |t| ok(vec![
        t[0].sum(),
        t[1].sum(),
        t[2].sum()
    ])));
    for d in [0isize, 1, 2, -1] {
        for keep in [false, true] {
            v.push(case!(RED, format!("sum_dim {d} {keep}"), [x()], |t| t[0].try_sum_dim(d, keep)));
            v.push(case!(RED, format!("mean_dim {d} {keep}"), [x()], |t| t[0].try_mean_dim(d, keep)));
            v.push(case!(RED, format!("max_dim {d} {keep}"), [x()], |t| t[0].permute(&[2, 0, 1]).try_max_dim(d, keep)));
            v.push(case!(RED, format!("min_dim {d} {keep}"), [x()], |t| t[0].try_min_dim(d, keep)));
        }
    }
    v.push(case!(RED, "large", [rnd(&[3, 70001], 30), rnd64(&[257, 300], 31)], |t| ok(vec![
        t[0].sum_dim(1, false),
        t[0].mean_dim(0, true),
        t[0].t().max_dim(0, false),
        t[0].min(),
        t[1].sum(),
        t[1].t().mean_dim(1, false),
        t[1].max_dim(0, true),
        t[1].narrow(1, 3, 200).sum_dims(&[0, 1], true)
    ])));
    v.push(case!(RED, "sum_dim i64 bool", [ints(&[3, 5], 21, -9, 9), bools(&[3, 5], 22)], |t| ok(vec![
        t[0].sum_dim(1, false),
        t[1].sum_dim(0, true)
    ])));
    v.push(case!(RED, "sum_dims", [x()], |t| ok(vec![
        t[0].sum_dims(&[0, 2], false),
        t[0].sum_dims(&[2, 0], true),
        t[0].sum_dims::<i32>(&[], false)
    ])));
    v.push(case!(RED, "sum_dims error", [x()], |t| t[0].try_sum_dims(&[0, 0], false)));
    v.push(case!(RED, "sum_to_shape", [x()], |t| ok(vec![
        t[0].sum_to_shape(&[70, 1]),
        t[0].sum_to_shape(&[4, 70, 3])
    ])));
    v.push(case!(RED, "sum_to_shape error", [x()], |t| t[0].try_sum_to_shape(&[5])));
    v.push(case!(RED, "mean", [x(), rnd64(&[0], 1)], |t| ok(vec![t[0].mean(), t[1].mean()])));
    v.push(case!(RED, "mean_dims", [rnd64(&[3, 4, 5], 2)], |t| t[0].try_mean_dims(&[-1, 0], true)));
    v.push(case!(RED, "mean error", [ints(&[3], 1, 0, 3)], |t| t[0].try_mean()));
    v.push(case!(RED, "empty sum", [rnd(&[3, 0], 1)], |t| ok(vec![t[0].sum(), t[0].sum_dim(1, false)])));
    v.push(case!(true, "prod", [rnd(&[3, 4], 23), bools(&[5], 1)], |t| ok(vec![
        t[0].prod(),
        t[0].prod_dim(1, true),
        t[1].prod()
    ])));
    v.push(case!(RED, "all any", [special(), rnd(&[0], 1), bools(&[4, 5], 3)], |t| ok(vec![
        t[0].all(),
        t[0].any(),
        t[1].all(),
        t[1].any(),
        t[2].all_dim(1, false),
        t[2].any_dim(0, true)
    ])));
    v.push(case!(RED, "max min", [special(), ints(&[7], 1, -9, 9), bools(&[5], 2)], |t| ok(vec![
        t[0].max(),
        t[0].min(),
        t[1].max(),
        t[1].min(),
        t[2].max(),
        t[0].narrow(0, 2, 1).max()
    ])));
    v.push(case!(RED, "max error", [rnd(&[0, 3], 1)], |t| t[0].try_max()));
    v.push(case!(RED, "max_dim error", [rnd(&[2, 0], 1)], |t| t[0].try_max_dim(1, false)));
    v.push(case!(RED, "dim error", [rnd(&[2, 3], 1)], |t| t[0].try_sum_dim(2, false)));
    v.push(case!(ARG, "max_dim_with_indices", [special(), rnd(&[6, 300], 1)], |t| ok(vec![
        t[0].max_dim_with_indices(1, false).0,
        t[0].max_dim_with_indices(1, false).1,
        t[0].min_dim_with_indices(0, true).1,
        t[1].max_dim_with_indices(-1, true).1,
        t[1].t().min_dim_with_indices(0, false).1
    ])));
    v.push(case!(ARG, "argmax argmin", [special(), ints(&[4, 9], 1, -3, 3), bools(&[3, 4], 2)], |t| ok(vec![
        t[0].argmax(1, false),
        t[0].argmin(0, true),
        t[0].argmax_all(),
        t[0].argmin_all(),
        t[1].argmax(1, false),
        t[1].argmin_all(),
        t[2].argmax(0, false)
    ])));
    v.push(case!(ARG, "argmax error", [rnd(&[0], 1)], |t| t[0].try_argmax_all()));
    v.push(case!(true, "var std", [x(), rnd64(&[1], 1)], |t| ok(vec![
        t[0].var(true),
        t[0].var_dim(1, false, true),
        t[0].std(false),
        t[0].std_dim(0, true, false),
        t[1].var(true)
    ])));
    v.push(case!(true, "var error", [ints(&[3], 1, 0, 3)], |t| t[0].try_var(true)));
    v.push(case!(true, "logsumexp", [x(), ints(&[3, 3], 1, -3, 3)], |t| ok(vec![
        t[0].logsumexp(1, false),
        t[0].logsumexp(-1, true),
        t[1].logsumexp(0, false)
    ])));
    v.push(case!(true, "cumsum cumprod", [rnd(&[3, 5], 1), ints(&[6], 2, -3, 3), bools(&[4], 3)], |t| ok(vec![
        t[0].cumsum(1),
        t[0].t().cumprod(0),
        t[1].cumsum(0),
        t[2].cumprod(0)
    ])));
    v.push(case!(true, "cumsum error", [rnd(&[3], 1)], |t| t[0].try_cumsum(1)));
    v
}

fn softmax_sort_views() -> Vec<Case> {
    let mut v = vec![];
    for (shape, d) in [(vec![3, 5], 1isize), (vec![2, 300, 3], 1), (vec![7, 1000], -1), (vec![4, 3], 0), (vec![5], 0)] {
        v.push(case!(SOFTMAX, format!("softmax {shape:?} {d}"), [rnd(&shape, 1)], |t| t[0].try_softmax(d)));
        v.push(case!(SOFTMAX, format!("log_softmax {shape:?} {d}"), [rnd64(&shape, 2)], |t| t[0].try_log_softmax(d)));
    }
    v.push(case!(SOFTMAX, "softmax special", [special()], |t| ok(vec![t[0].softmax(1), t[0].log_softmax(0)])));
    v.push(case!(SOFTMAX, "softmax error", [ints(&[3], 1, 0, 3)], |t| t[0].try_softmax(0)));
    v.push(case!(true, "sort argsort", [special(), ints(&[4, 5], 1, 0, 3)], |t| ok(vec![
        t[0].sort(1, false).0,
        t[0].sort(1, false).1,
        t[0].sort(0, true).1,
        t[1].argsort(1, true),
        Tensor::scalar(2.0f32).to(&t[0].device()).sort(0, false).1
    ])));
    v.push(case!(true, "topk", [rnd(&[4, 9], 1)], |t| ok(vec![
        t[0].topk(3, 1, true, true).0,
        t[0].topk(3, 1, true, true).1,
        t[0].topk(2, 0, false, false).1
    ])));
    v.push(case!(true, "topk error", [rnd(&[4], 1)], |t| t[0].try_topk(5, 0, true, true)));
    let y = || rnd(&[2, 3, 4], 3);
    v.push(case!(true, "views", [y()], |t| ok(vec![
        t[0].reshape(&[6, -1]),
        t[0].view(&[4, 6]),
        t[0].transpose(0, 2),
        t[0].permute(&[1, 2, 0]),
        t[0].unsqueeze(1),
        t[0].unsqueeze(0).squeeze(0),
        t[0].narrow(1, 1, 1).squeeze_all(),
        t[0].flatten(1, 2),
        t[0].narrow(2, 1, 1).expand(&[2, 3, 5]),
        t[0].select(1, -1).broadcast_to(&[3, 2, 4]),
        t[0].transpose(0, 2).reshape(&[-1])
    ])));
    v.push(case!(true, "chunk split", [y()], |t| ok([
        t[0].chunk(2, 2),
        t[0].split(2, 1),
        t[0].split_sizes(&[1, 3], -1)
    ]
    .concat())));
    v.push(case!(true, "view error", [y()], |t| t[0].transpose(0, 1).try_view(&[24])));
    v.push(case!(true, "select error", [y()], |t| t[0].try_select(1, 3)));
    v
}

#[test]
fn every_op_matches_the_cpu_part1() {
    let Some(dev) = gpu() else { return };
    let mut cases = elementwise();
    cases.extend(compare());
    cases.extend(reductions());
    cases.extend(softmax_sort_views());
    let ran = run_table(dev, &cases);
    assert!(ran * 2 >= cases.len(), "only {ran} of {} cases ran", cases.len());
}

/// Random tensors made for a GPU tensor land on its device; I/O saves GPU tensors.
#[test]
fn random_like_and_io_on_the_gpu() {
    let Some(dev) = gpu() else { return };
    let x = rnd(&[3, 4], 1).to(&dev);
    for r in [x.rand_like(), x.randn_like()] {
        assert_eq!((r.device(), r.shape(), r.dtype()), (dev, x.shape(), DType::F32));
    }
    let cpu = ember_tensor::io::save_bytes(&[("x".into(), x.to(&ember_tensor::Device::Cpu))]).unwrap();
    let gpu_bytes = ember_tensor::io::save_bytes(&[("x".into(), x)]).unwrap();
    assert_eq!(cpu, gpu_bytes);
}
