//! Finite-difference checks (f64) of the backward rules recorded in nn's functional files: the
//! shared normalisation op behind batch/layer/group/RMS norm (first and second derivatives), the
//! transposed convolution, the pools and the embedding lookup.

mod layers_common;

use ember_autograd::{grad, gradcheck, Variable};
use ember_nn::functional as F;
use ember_tensor::{manual_seed, Tensor};
use layers_common::{rn, weighted};

/// First derivatives of `f`, and second ones: the gradient (with `create_graph`) of
/// `sum(f(v) * w)` with respect to every input, differentiated again.
fn check_twice(f: impl Fn(&[Variable]) -> Variable + Copy, inputs: &[Tensor]) {
    gradcheck(f, inputs).unwrap();
    gradcheck(
        move |v: &[Variable]| {
            let refs: Vec<&Variable> = v.iter().collect();
            let gs = grad(&weighted(&f(v)), &refs, true);
            gs.iter().map(weighted).reduce(|a, b| &a + &b).unwrap()
        },
        inputs,
    )
    .unwrap();
}

#[test]
fn layer_norm_twice() {
    manual_seed(1);
    check_twice(|v| F::layer_norm(&v[0], &[4], Some(&v[1]), Some(&v[2]), 1e-5), &[rn(&[3, 4]), rn(&[4]), rn(&[4])]);
    check_twice(|v| F::layer_norm(&v[0], &[2, 3], None, None, 1e-3), &[rn(&[2, 2, 3])]);
}

#[test]
fn batch_norm_training_twice() {
    manual_seed(2);
    check_twice(
        |v| F::batch_norm(&v[0], None, None, Some(&v[1]), Some(&v[2]), true, 0.1, 1e-5),
        &[rn(&[3, 2, 2, 2]), rn(&[2]), rn(&[2])],
    );
    check_twice(|v| F::batch_norm(&v[0], None, None, None, None, true, 0.1, 1e-5), &[rn(&[4, 3])]);
}

#[test]
fn batch_norm_eval() {
    manual_seed(3);
    let (rm, rv) = (Variable::from(rn(&[2])), Variable::from(rn(&[2]).abs() + 0.5));
    gradcheck(
        |v| F::batch_norm(&v[0], Some(&rm), Some(&rv), Some(&v[1]), Some(&v[2]), false, 0.1, 1e-5),
        &[rn(&[3, 2, 2]), rn(&[2]), rn(&[2])],
    )
    .unwrap();
}

#[test]
fn group_norm_twice() {
    manual_seed(4);
    check_twice(|v| F::group_norm(&v[0], 2, Some(&v[1]), Some(&v[2]), 1e-5), &[rn(&[2, 4, 3]), rn(&[4]), rn(&[4])]);
}

#[test]
fn rms_norm_twice() {
    manual_seed(5);
    check_twice(|v| F::rms_norm(&v[0], &[4], Some(&v[1]), None), &[rn(&[3, 4]), rn(&[4])]);
    check_twice(|v| F::rms_norm(&v[0], &[2, 2], None, Some(1e-3)), &[rn(&[2, 2, 2])]);
}

#[test]
fn conv_transpose2d_once() {
    manual_seed(6);
    gradcheck(
        |v| F::conv_transpose2d(&v[0], &v[1], Some(&v[2]), 2, 1, 1, 1, 1),
        &[rn(&[1, 2, 3, 3]), rn(&[2, 3, 3, 3]), rn(&[3])],
    )
    .unwrap();
    gradcheck(
        |v| F::conv_transpose2d(&v[0], &v[1], None, [1, 2], 0, 0, 2, [2, 1]),
        &[rn(&[4, 2, 2]), rn(&[4, 1, 2, 2])],
    )
    .unwrap();
}

#[test]
fn pools_once() {
    manual_seed(7);
    gradcheck(|v| F::max_pool2d(&v[0], 2, 1, 0, 1, false), &[rn(&[1, 2, 3, 3])]).unwrap();
    gradcheck(|v| F::avg_pool2d(&v[0], 3, 2, 1, true, false), &[rn(&[1, 1, 5, 4])]).unwrap();
    gradcheck(|v| F::adaptive_avg_pool2d(&v[0], [2, 3]), &[rn(&[2, 3, 5])]).unwrap();
}

#[test]
fn embedding_and_bilinear_twice() {
    manual_seed(8);
    let idx = Variable::from(Tensor::from_vec(vec![1i64, 3, 1, 0], &[2, 2]));
    check_twice(|v| F::embedding(&idx, &v[0]).powf(2.0), &[rn(&[4, 3])]);
    check_twice(
        |v| F::bilinear(&v[0], &v[1], &v[2], Some(&v[3])),
        &[rn(&[2, 2]), rn(&[2, 3]), rn(&[2, 2, 3]), rn(&[2])],
    );
}

#[test]
fn gelu_tanh_twice() {
    manual_seed(9);
    check_twice(|v| F::gelu_tanh(&v[0]), &[rn(&[5])]);
}
