//! Every public op of the tensor crate on GPU tensors against the CPU, table-driven (part 2:
//! indexing, joining, matrix products, convolutions, pooling; part 1 is `gpu_ops.rs`). Errors,
//! index out of range included, must carry the CPU's message.

#[macro_use]
mod gpu_util;

use ember_tensor::{DType, Error, Result, Tensor};
use gpu_util::{gpu, run_table, Case, Rng};

/// Families with native kernels (their cases must not take the host fallback).
const INDEX: bool = true;
const SCATTER: bool = true;
const MATMUL: bool = true;
const CONV: bool = true;
const POOL: bool = true;

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

fn idx(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

fn indexing() -> Vec<Case> {
    let mut v = vec![];
    let x = || rnd(&[5, 7], 1);
    v.push(case!(INDEX, "index_select", [x(), idx(&[4, 0, 4, 2], &[4])], |t| ok(vec![
        t[0].index_select(0, &t[1]),
        t[0].t().index_select(1, &t[1]),
        t[0].index_select(-1, &t[1].select(0, 0))
    ])));
    v.push(case!(INDEX, "index_select i64 large", [ints(&[300, 9], 2, -99, 99), ints(&[1000], 3, 0, 300)], |t| t[0]
        .try_index_select(0, &t[1])));
    v.push(
        case!(INDEX, "index_select out of range", [x(), idx(&[1, 5, -1], &[3])], |t| t[0].try_index_select(0, &t[1]))
    );
    v.push(case!(INDEX, "index_select negative", [x(), idx(&[1, -1, 9], &[3])], |t| t[0].try_index_select(1, &t[1])));
    v.push(case!(INDEX, "index_select dtype error", [x(), rnd(&[3], 1)], |t| t[0].try_index_select(1, &t[1])));
    v.push(case!(INDEX, "gather", [x(), ints(&[5, 9], 4, 0, 7)], |t| ok(vec![
        t[0].gather(1, &t[1]),
        t[0].t().gather(0, &t[1].t().narrow(1, 0, 4)),
    ])));
    v.push(case!(INDEX, "gather f64 bool", [rnd64(&[3, 4], 1), idx(&[2, 0, 2], &[1, 3])], |t| ok(vec![
        t[0].gather(0, &t[1]),
        t[0].gt_scalar(0.0).gather(0, &t[1])
    ])));
    v.push(case!(INDEX, "gather out of range", [x(), idx(&[0, 1, 7, 2], &[2, 2])], |t| t[0].try_gather(1, &t[1])));
    v.push(case!(INDEX, "gather shape error", [x(), idx(&[0], &[1])], |t| t[0].try_gather(1, &t[1])));
    v.push(case!(INDEX, "embedding", [rnd(&[10, 4], 5), ints(&[3, 6], 6, 0, 10)], |t| Tensor::try_embedding(
        &t[0], &t[1]
    )));
    v.push(case!(INDEX, "embedding out of range", [rnd(&[10, 4], 5), idx(&[3, 10, 11], &[3])], |t| {
        Tensor::try_embedding(&t[0], &t[1])
    }));
    v.push(case!(SCATTER, "scatter_add", [x(), ints(&[4, 9], 7, 0, 7), rnd(&[4, 9], 8)], |t| t[0]
        .try_scatter_add(1, &t[1], &t[2])));
    v.push(case!(SCATTER, "scatter_add collisions", [rnd(&[3], 1), ints(&[20000], 9, 0, 3), rnd(&[20000], 10)], |t| t
        [0]
    .try_scatter_add(0, &t[1], &t[2])));
    v.push(case!(
        SCATTER,
        "scatter_add i64",
        [ints(&[4, 4], 1, -5, 5), ints(&[6, 4], 9, 0, 4), ints(&[6, 4], 10, -9, 9)],
        |t| t[0].try_scatter_add(0, &t[1], &t[2])
    ));
    v.push(case!(SCATTER, "scatter_add out of range", [x(), idx(&[0, 7], &[1, 2]), rnd(&[1, 2], 8)], |t| t[0]
        .try_scatter_add(1, &t[1], &t[2])));
    v.push(case!(SCATTER, "index_add", [x(), idx(&[1, 1, 0, 4, 1, 1], &[6]), rnd(&[5, 6], 11)], |t| t[0]
        .try_index_add(1, &t[1], &t[2])));
    v.push(case!(SCATTER, "index_add out of range", [x(), idx(&[5], &[1]), rnd(&[1, 7], 11)], |t| t[0]
        .try_index_add(0, &t[1], &t[2])));
    v.push(case!(SCATTER, "embedding_backward", [rnd(&[3, 6, 4], 12), ints(&[3, 6], 6, 0, 5)], |t| {
        Tensor::try_embedding_backward(&t[0], &t[1], 5)
    }));
    v.push(case!(SCATTER, "embedding_backward out of range", [rnd(&[2, 4], 12), idx(&[0, 5], &[2])], |t| {
        Tensor::try_embedding_backward(&t[0], &t[1], 5)
    }));
    v.push(case!(true, "scatter scatter_value", [x(), idx(&[3, 0, 1], &[1, 3]), rnd(&[2, 3], 13)], |t| ok(vec![
        t[0].scatter(0, &t[1], &t[2]),
        t[0].scatter_value(1, &t[1], 9.0),
        t[0].to_dtype(DType::F64).scatter_value(0, &t[1], -1.0)
    ])));
    v.push(case!(true, "scatter out of range", [x(), idx(&[3, 0, 9], &[1, 3]), rnd(&[2, 3], 13)], |t| t[0]
        .try_scatter(0, &t[1], &t[2])));
    v.push(case!(true, "one_hot", [idx(&[0, 3, 1], &[3])], |t| ok(vec![t[0].one_hot(5), t[0].one_hot(-1)])));
    v.push(case!(true, "one_hot out of range", [idx(&[0, 3, 1], &[3])], |t| t[0].try_one_hot(3)));
    v.push(case!(true, "masked_select", [x(), rnd(&[7], 14).gt_scalar(0.0)], |t| t[0].try_masked_select(&t[1])));
    v.push(case!(true, "flip repeat", [x()], |t| ok(vec![t[0].flip(&[0, -1]), t[0].t().repeat(&[2, 1, 3])])));
    v.push(case!(true, "flip error", [x()], |t| t[0].try_flip(&[1, 1])));
    v
}

fn join_and_products() -> Vec<Case> {
    let mut v = vec![];
    v.push(case!(true, "cat stack", [rnd(&[2, 3], 1), rnd(&[3, 2], 2), rnd(&[0], 3)], |t| ok(vec![
        Tensor::cat(&[t[0].clone(), t[1].t(), t[2].clone()], 0),
        Tensor::cat_refs(&[&t[0], &t[1].t()], 1),
        Tensor::stack(&[t[0].clone(), t[1].t()], 1),
        Tensor::stack_refs(&[&t[0], &t[0]], -1)
    ])));
    v.push(case!(true, "cat error", [rnd(&[2, 3], 1), rnd(&[3, 2], 2)], |t| Tensor::try_cat(
        &[t[0].clone(), t[1].clone()],
        0
    )));
    v.push(case!(true, "stack error", [rnd(&[2, 3], 1), rnd(&[3, 2], 2)], |t| Tensor::try_stack(
        &[t[0].clone(), t[1].clone()],
        0
    )));
    let shapes: [(&[usize], &[usize]); 7] = [
        (&[3, 4], &[4, 5]),
        (&[4], &[4, 6]),
        (&[2, 65, 17], &[17]),
        (&[2, 1, 3, 4], &[5, 4, 7]),
        (&[130, 70], &[70, 66]),
        (&[7], &[7]),
        (&[3, 0], &[0, 2]),
    ];
    for (a, b) in shapes {
        v.push(case!(MATMUL, format!("matmul {a:?} {b:?}"), [rnd(a, 1), rnd(b, 2)], |t| t[0].try_matmul(&t[1])));
    }
    v.push(case!(MATMUL, "matmul f64 transposed", [rnd64(&[9, 5], 1), rnd64(&[11, 9], 2)], |t| t[0]
        .t()
        .try_matmul(&t[1].t())));
    v.push(case!(false, "matmul i64", [ints(&[3, 4], 1, -5, 5), ints(&[4, 2], 2, -5, 5)], |t| t[0].try_matmul(&t[1])));
    v.push(case!(MATMUL, "matmul error", [rnd(&[3, 4], 1), rnd(&[5, 2], 2)], |t| t[0].try_matmul(&t[1])));
    v.push(case!(MATMUL, "mm bmm dot", [rnd(&[3, 4], 1), rnd(&[2, 4, 3], 2), rnd(&[4], 3)], |t| ok(vec![
        t[0].mm(&t[1].select(0, 1)),
        t[1].bmm(&t[1].transpose(1, 2)),
        t[2].dot(&t[0].select(0, 2)),
    ])));
    v.push(case!(MATMUL, "mm error", [rnd(&[3, 4], 1), rnd(&[2, 4, 3], 2)], |t| t[0].try_mm(&t[1])));
    v.push(case!(MATMUL, "bmm error", [rnd(&[3, 4, 2], 1), rnd(&[2, 2, 3], 2)], |t| t[0].try_bmm(&t[1])));
    v.push(case!(MATMUL, "linear", [rnd(&[2, 3, 5], 1), rnd(&[7, 5], 2), rnd(&[7], 3)], |t| ok(vec![
        t[0].linear(&t[1], Some(&t[2])),
        t[0].linear(&t[1], None),
        t[0].select(0, 1).linear(&t[1].narrow(0, 1, 3), Some(&t[2].narrow(0, 0, 3))),
    ])));
    v.push(case!(MATMUL, "linear error", [rnd(&[2, 4], 1), rnd(&[7, 5], 2)], |t| t[0].try_linear(&t[1], None)));
    v
}

fn conv_and_pool() -> Vec<Case> {
    let mut v = vec![];
    type P = ([usize; 2], [usize; 2], [usize; 2], usize);
    let params: [(&[usize], &[usize], P); 4] = [
        (&[2, 3, 9, 8], &[4, 3, 3, 3], ([1, 1], [0, 0], [1, 1], 1)),
        (&[1, 4, 11, 10], &[6, 2, 3, 2], ([2, 1], [1, 1], [1, 2], 2)),
        (&[3, 7, 7], &[5, 3, 1, 1], ([1, 1], [0, 0], [1, 1], 1)),
        (&[2, 2, 5, 6], &[2, 1, 3, 3], ([2, 2], [1, 0], [2, 1], 2)),
    ];
    for (i, (xs, ws, (s, p, d, g))) in params.into_iter().enumerate() {
        let o = ws[0];
        v.push(case!(CONV, format!("conv2d {i}"), [rnd(xs, 1), rnd(ws, 2), rnd(&[o], 3)], |t| {
            let y = t[0].try_conv2d(&t[1], Some(&t[2]), s, p, d, g)?;
            let dy = y.mul_scalar(0.5);
            ok(vec![
                Tensor::conv2d_backward_input(&dy, &t[1], t[0].shape(), s, p, d, g),
                Tensor::conv2d_backward_weight(&dy, &t[0], t[1].shape(), s, p, d, g),
                y,
            ])
        }));
    }
    v.push(case!(CONV, "conv2d f64", [rnd64(&[1, 2, 6, 6], 1), rnd64(&[3, 2, 3, 3], 2)], |t| t[0].try_conv2d(
        &t[1],
        None,
        [1, 1],
        [1, 1],
        [1, 1],
        1
    )));
    v.push(case!(CONV, "conv2d error", [rnd(&[1, 2, 6, 6], 1), rnd(&[3, 3, 3, 3], 2)], |t| t[0].try_conv2d(
        &t[1],
        None,
        [1, 1],
        [1, 1],
        [1, 1],
        1
    )));
    v.push(case!(CONV, "conv1d", [rnd(&[2, 4, 20], 1), rnd(&[6, 2, 5], 2), rnd(&[6], 3)], |t| {
        let y = t[0].try_conv1d(&t[1], Some(&t[2]), 2, 1, 1, 2)?;
        ok(vec![
            Tensor::conv1d_backward_input(&y, &t[1], t[0].shape(), 2, 1, 1, 2),
            Tensor::conv1d_backward_weight(&y, &t[0], t[1].shape(), 2, 1, 1, 2),
            y,
        ])
    }));
    v.push(case!(CONV, "conv_transpose2d", [rnd(&[2, 4, 5, 5], 1), rnd(&[4, 3, 3, 3], 2), rnd(&[6], 3)], |t| {
        let y = t[0].try_conv_transpose2d(&t[1], Some(&t[2]), [2, 2], [1, 1], [1, 1], 2, [1, 1])?;
        let (s, p, op, g, d) = ([2, 2], [1, 1], [1, 1], 2, [1, 1]);
        ok(vec![
            Tensor::conv_transpose2d_backward_input(&y, &t[1], t[0].shape(), s, p, op, g, d),
            Tensor::conv_transpose2d_backward_weight(&y, &t[0], t[1].shape(), s, p, op, g, d),
            y,
        ])
    }));
    let x = || rnd(&[2, 3, 9, 10], 4);
    v.push(case!(POOL, "max_pool2d", [x()], |t| {
        let (y, i) = t[0].try_max_pool2d_with_indices([3, 2], [2, 2], [1, 1], [1, 2], true)?;
        ok(vec![
            t[0].max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false),
            t[0].max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false),
            Tensor::max_pool2d_backward(&y, &i, t[0].shape()),
            y,
            i,
        ])
    }));
    // F64 scatter-adds (the max pool's backward) run on the host: WGSL has no 64-bit atomics.
    v.push(case!(false, "max_pool2d f64 unbatched", [rnd64(&[3, 7, 7], 4)], |t| {
        let (y, i) = t[0].try_max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false)?;
        ok(vec![Tensor::max_pool2d_backward(&y, &i, t[0].shape()), y, i])
    }));
    v.push(case!(POOL, "max_pool2d error", [x()], |t| t[0].try_max_pool2d([2, 2], [0, 2], [0, 0], [1, 1], false)));
    v.push(case!(
        POOL,
        "max_pool2d_backward out of range",
        [rnd(&[1, 1, 2, 2], 1), idx(&[0, 1, 2, 99], &[1, 1, 2, 2])],
        |t| { Tensor::try_max_pool2d_backward(&t[0], &t[1], &[1, 1, 4, 4]) }
    ));
    v.push(case!(POOL, "avg pools forward", [x(), rnd64(&[3, 7, 6], 5)], |t| ok(vec![
        t[0].avg_pool2d([3, 3], [2, 2], [1, 1], true, false),
        t[0].avg_pool2d([2, 3], [2, 1], [1, 0], false, true),
        t[0].avg_pool2d([2, 2], [2, 2], [0, 0], false, true),
        t[0].adaptive_avg_pool2d([4, 3]),
        t[1].adaptive_avg_pool2d([5, 5]),
        t[1].max_pool1d(3, 2, 1),
        t[1].avg_pool1d(3, 2, 1),
    ])));
    v.push(case!(true, "avg pools", [x()], |t| {
        let y = t[0].try_avg_pool2d([3, 3], [2, 2], [1, 1], true, false)?;
        let a = t[0].try_adaptive_avg_pool2d([4, 3])?;
        ok(vec![
            Tensor::avg_pool2d_backward(&y, t[0].shape(), [3, 3], [2, 2], [1, 1], true, false),
            Tensor::adaptive_avg_pool2d_backward(&a, t[0].shape()),
            t[0].select(0, 0).max_pool1d(3, 2, 1),
            t[0].select(0, 0).avg_pool1d(3, 2, 1),
            y,
            a,
        ])
    }));
    v.push(case!(false, "avg_pool2d error", [ints(&[1, 1, 4, 4], 1, 0, 3)], |t| t[0].try_avg_pool2d(
        [2, 2],
        [2, 2],
        [0, 0],
        false,
        false
    )));
    v
}

#[test]
fn every_op_matches_the_cpu_part2() {
    let Some(dev) = gpu() else { return };
    let mut cases = indexing();
    cases.extend(join_and_products());
    cases.extend(conv_and_pool());
    let ran = run_table(dev, &cases);
    assert!(ran * 2 >= cases.len(), "only {ran} of {} cases ran", cases.len());
}
