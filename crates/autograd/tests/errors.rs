//! Bad inputs to Variable ops: the checked `try_*` forms return an error naming the op and the
//! offending values, the plain forms panic with that message, and a failed op records nothing.

use ember_autograd::{Conv2dOpts, Variable};
use ember_tensor::{Result, Tensor};

fn v(shape: &[usize]) -> Variable {
    let n: usize = shape.iter().product();
    Variable::new(Tensor::from_vec((0..n).map(|i| i as f64 * 0.1).collect(), shape), true)
}

#[track_caller]
fn has<T: std::fmt::Debug>(r: Result<T>, parts: &[&str]) {
    let e = r.unwrap_err().to_string();
    for p in parts {
        assert!(e.contains(p), "'{e}' lacks '{p}'");
    }
}

fn idx(v: &[i64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()])
}

#[test]
fn checked_forms_name_the_problem() {
    let (a, b) = (v(&[2, 3]), v(&[4]));
    has(a.try_add(&b), &["[2, 3]", "[4]"]);
    has(a.try_mul(&Variable::from(Tensor::ones(&[2, 3]))), &["F64", "F32"]);
    has(a.try_matmul(&v(&[2, 3])), &["matmul", "[2, 3]"]);
    has(a.try_mm(&v(&[3])), &["mm"]);
    has(a.try_bmm(&v(&[3, 2])), &["bmm"]);
    has(b.try_dot(&v(&[5])), &["dot"]);
    has(a.try_linear(&v(&[5, 4]), None), &["linear"]);
    has(a.try_sum_dim(2, false), &["sum", "2"]);
    has(a.try_mean_dims(&[0, 5], false), &["mean", "5"]);
    has(a.try_softmax(-3), &["softmax", "-3"]);
    has(a.try_cumprod(4), &["cumprod", "4"]);
    has(a.try_var_dim(3, true, false), &["var", "3"]);
    has(a.try_reshape(&[4, 2]), &["reshape", "[4, 2]"]);
    has(a.try_view(&[5, -1]), &["view"]);
    has(a.try_permute(&[0]), &["permute"]);
    has(a.try_narrow(1, 2, 2), &["narrow"]);
    has(a.try_select(0, 5), &["select", "5"]);
    has(a.try_pad_dim(2, 1, 1), &["pad_dim", "2"]);
    has(a.try_expand(&[3, 3]), &["expand"]);
    has(Variable::try_cat(&[a.clone(), b.clone()], 0), &["cat"]);
    has(Variable::try_stack(&[a.clone(), v(&[3, 2])], 0), &["stack"]);
    has(a.try_index_select(1, &idx(&[0, 3])), &["index_select", "3"]);
    has(a.try_gather(1, &Tensor::from_vec(vec![0i64, 7], &[1, 2])), &["gather", "7"]);
    has(a.try_index_select(0, &Tensor::from_vec(vec![0.0f32], &[1])), &["index_select", "F32"]);
    has(Variable::try_embedding(&a, &idx(&[2])), &["embedding", "2"]);
    has(a.try_masked_fill(&Tensor::ones(&[2, 3]), 0.0), &["masked_fill", "Bool"]);
    has(a.try_where_(&Tensor::ones(&[4]).ne_scalar(0.0), &a), &["where"]);
    has(a.try_clamp(None, None), &["clamp"]);
    has(a.try_repeat(&[2]), &["repeat"]);
    has(a.try_flip(&[3]), &["flip", "3"]);
    has(a.try_sort(2, false), &["sort", "2"]);
    has(a.try_topk(4, 1, true, true), &["topk", "4"]);
    has(Variable::from(idx(&[1, -1])).try_one_hot(3), &["one_hot"]);
    let x4 = v(&[1, 2, 4, 4]);
    has(x4.try_conv2d(&v(&[3, 3, 2, 2]), None, Conv2dOpts::default()), &["conv2d", "[3, 3, 2, 2]"]);
    has(v(&[2, 8]).try_conv1d(&v(&[1, 3, 2]), None, 1, 0, 1, 1), &["conv1d"]);
    has(x4.try_conv_transpose2d(&v(&[3, 1, 2, 2]), None, [1, 1], [0, 0], [0, 0], 1, [1, 1]), &["conv_transpose2d"]);
    has(x4.try_max_pool2d([0, 2], [1, 1], [0, 0], [1, 1], false), &["max_pool2d", "kernel"]);
    has(x4.try_avg_pool2d([2, 2], [1, 1], [2, 0], false, true), &["avg_pool2d", "pad"]);
    has(v(&[4]).try_adaptive_avg_pool2d([2, 2]), &["adaptive_avg_pool2d", "[4]"]);
    has(v(&[4]).try_max_pool1d(2, 2, 0), &["max_pool1d", "[4]"]);
    has(v(&[2, 4]).try_avg_pool1d(5, 1, 0), &["avg_pool1d"]);
    has(v(&[0]).try_argmax_all(), &["argmax"]);
    has(a.try_all_dim(2, false), &["all", "2"]);
    has(a.try_item::<f64>(), &["item"]);
    has(Variable::try_cat_refs(&[&a, &b], 0), &["cat"]);
    has(Variable::try_stack_refs(&[], 0), &["stack"]);
}

#[test]
fn a_failed_op_records_nothing_and_backward_errors_are_clear() {
    let a = v(&[2, 3]);
    assert!(a.try_add(&v(&[4])).is_err());
    (&a * 2.0).sum().backward();
    assert_eq!(a.grad().unwrap().to_vec::<f64>(), vec![2.0; 6]);
    // an F32 upstream gradient for an F64 output
    let y = &a * 1.0;
    has(y.try_backward_with(&Tensor::ones(&[2, 3])), &["backward", "F64", "F32"]);
    // grad() with mismatched outputs and upstream gradients
    has(ember_autograd::grad_with(&[&y], &[None, None], &[&a], false, false), &["grad", "1 outputs", "2 grad_outputs"]);
}

#[test]
#[should_panic(expected = "matmul")]
fn plain_forms_panic_with_the_message() {
    let _ = v(&[2, 3]).matmul(&v(&[2, 3]));
}

#[test]
#[should_panic(expected = "set_requires_grad")]
fn requires_grad_of_a_non_leaf_cannot_change() {
    let y = &v(&[2]) * 2.0;
    y.set_requires_grad(false);
}
