//! Variable mirrors Tensor's op methods: the constant (non-differentiable) ones give the tensor
//! op's result without a gradient, the shape helpers agree with the data.

use ember_autograd::Variable;
use ember_tensor::{DType, Tensor};

#[track_caller]
fn same(v: &Variable, t: &Tensor) {
    assert!(!v.requires_grad(), "a constant result must not require grad");
    assert_eq!(v.shape(), t.shape());
    assert_eq!(v.dtype(), t.dtype());
    assert_eq!(v.to_vec::<f64>(), t.to_vec::<f64>());
}

#[test]
fn constant_ops_give_the_tensor_results() {
    let t = Tensor::from_vec(vec![1.5f64, f64::NAN, -2.0, 0.0, 3.0, 1.5], &[2, 3]);
    let x = Variable::new(t.clone(), true);
    same(&x.argmax(1, false), &t.argmax(1, false));
    same(&x.argmin(0, true), &t.argmin(0, true));
    same(&x.argsort(1, true), &t.argsort(1, true));
    same(&x.isnan(), &t.isnan());
    same(&x.isfinite(), &t.isfinite());
    same(&x.logical_not(), &t.logical_not());
    same(&x.logical_and(&x), &t.logical_and(&t));
    same(&x.logical_or(&x.zeros_like()), &t.logical_or(&t.zeros_like()));
    same(&x.all(), &t.all());
    same(&x.any_dim(1, true), &t.any_dim(1, true));
    same(&x.gt_scalar(1.0), &t.gt_scalar(1.0));
    same(&x.le(&x.ones_like()), &t.le(&t.ones_like()));
    same(&x.full_like(2.5), &t.full_like(2.5));
    let classes = Variable::from(Tensor::from_vec(vec![2i64, 0, 1], &[3]));
    same(&classes.one_hot(4), &Tensor::from_vec(vec![2i64, 0, 1], &[3]).one_hot(4));
    same(&x.argmax_all(), &t.argmax_all());
    same(&x.argmin_all(), &t.argmin_all());
}

#[test]
fn shape_helpers_agree_with_the_data() {
    let x = Variable::new(Tensor::zeros_dtype(&[2, 3, 4], DType::F32), true);
    assert_eq!((x.rank(), x.dim(), x.numel(), x.size(-1)), (3, 3, 24, 4));
    let t = x.transpose(0, 2);
    assert!(!t.is_contiguous() && t.strides() == vec![1, 4, 12]);
    assert!(t.contiguous().is_contiguous());
    assert_eq!(x.squeeze_all().shape(), vec![2, 3, 4]);
    assert_eq!(x.expand_as(&Variable::from(Tensor::zeros(&[5, 2, 3, 4]))).shape(), vec![5, 2, 3, 4]);
    // a no-op conversion returns the Variable itself (as PyTorch's `.to`)
    assert!(x.to_dtype(DType::F32).same(&x) && x.contiguous().same(&x));
    assert!(x.try_item::<f32>().unwrap_err().to_string().contains("item"));
}
