//! In-place ops on tensors (copy-on-write): values, errors, other handles untouched, GPU too.

mod gpu_util;

use ember_tensor::{DType, Device, Tensor};
use gpu_util::gpu;

/// A named in-place op and the out-of-place result it must give.
type Case<'a> = (&'static str, Box<dyn Fn(&mut Tensor) + 'a>, Tensor);

fn f64s(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

/// Runs every in-place op on `dev` and checks the values against the out-of-place ops.
fn check_values(dev: &Device, dtype: DType) {
    let base = f64s(&[1.0, -2.0, 3.0, -4.0, 5.0, 6.0], &[2, 3]).to_dtype(dtype).to(dev);
    let other = f64s(&[0.5, 1.0, -1.5], &[3]).to_dtype(dtype).to(dev);
    let mask = Tensor::from_vec(vec![true, false, true], &[3]).to(dev);
    let cases: Vec<Case<'_>> = vec![
        (
            "add_",
            Box::new(|t: &mut Tensor| {
                t.add_(&other);
            }),
            base.add(&other),
        ),
        (
            "sub_",
            Box::new(|t: &mut Tensor| {
                t.sub_(&other);
            }),
            base.sub(&other),
        ),
        (
            "mul_",
            Box::new(|t: &mut Tensor| {
                t.mul_(&other);
            }),
            base.mul(&other),
        ),
        (
            "div_",
            Box::new(|t: &mut Tensor| {
                t.div_(&other);
            }),
            base.div(&other),
        ),
        (
            "add_scalar_",
            Box::new(|t: &mut Tensor| {
                t.add_scalar_(2.5);
            }),
            base.add_scalar(2.5),
        ),
        (
            "sub_scalar_",
            Box::new(|t: &mut Tensor| {
                t.sub_scalar_(2.5);
            }),
            base.sub_scalar(2.5),
        ),
        (
            "mul_scalar_",
            Box::new(|t: &mut Tensor| {
                t.mul_scalar_(-2.0);
            }),
            base.mul_scalar(-2.0),
        ),
        (
            "div_scalar_",
            Box::new(|t: &mut Tensor| {
                t.div_scalar_(4.0);
            }),
            base.div_scalar(4.0),
        ),
        (
            "zero_",
            Box::new(|t: &mut Tensor| {
                t.zero_();
            }),
            base.zeros_like(),
        ),
        (
            "fill_",
            Box::new(|t: &mut Tensor| {
                t.fill_(7.0);
            }),
            base.full_like(7.0),
        ),
        (
            "copy_",
            Box::new(|t: &mut Tensor| {
                t.copy_(&other);
            }),
            other.expand(&[2, 3]).contiguous(),
        ),
        (
            "clamp_",
            Box::new(|t: &mut Tensor| {
                t.clamp_(Some(-1.0), Some(4.0));
            }),
            base.clamp(Some(-1.0), Some(4.0)),
        ),
        (
            "masked_fill_",
            Box::new(|t: &mut Tensor| {
                t.masked_fill_(&mask, -9.0);
            }),
            base.masked_fill(&mask, -9.0),
        ),
        (
            "neg_",
            Box::new(|t: &mut Tensor| {
                t.neg_();
            }),
            base.neg(),
        ),
        (
            "relu_",
            Box::new(|t: &mut Tensor| {
                t.relu_();
            }),
            base.relu(),
        ),
    ];
    for (name, f, want) in cases {
        // alone (written in place on the CPU), shared (copied first), and a transposed view
        let mut alone = base.contiguous().to_dtype(dtype);
        let alone_copy = Tensor::from_vec(alone.to_vec::<f64>(), alone.shape()).to_dtype(dtype).to(dev);
        let mut alone = if dev.is_cpu() { alone_copy } else { std::mem::replace(&mut alone, alone_copy) };
        f(&mut alone);
        assert_eq!(alone.to_vec::<f64>(), want.to_vec::<f64>(), "{name} {dtype} on {dev}");
        assert_eq!((alone.shape(), alone.dtype(), alone.device()), (want.shape(), dtype, *dev), "{name}");
        let mut shared = base.clone();
        f(&mut shared);
        assert_eq!(shared.to_vec::<f64>(), want.to_vec::<f64>(), "{name} shared");
        assert_eq!(base.to_vec::<f64>(), vec![1.0, -2.0, 3.0, -4.0, 5.0, 6.0], "{name} changed another handle");
    }
}

#[test]
fn in_place_ops_match_the_out_of_place_ones_on_the_cpu() {
    check_values(&Device::Cpu, DType::F32);
    check_values(&Device::Cpu, DType::F64);
}

#[test]
fn in_place_ops_on_the_gpu() {
    let Some(dev) = gpu() else { return };
    check_values(&dev, DType::F32);
    // views and clones on the GPU keep their values too
    let mut a = Tensor::ones(&[2, 2]).to(&dev);
    let v = a.transpose(0, 1);
    a.mul_scalar_(3.0).add_(&Tensor::eye(2).to(&dev));
    assert_eq!(a.to_vec::<f32>(), vec![4.0, 3.0, 3.0, 4.0]);
    assert_eq!(v.to_vec::<f32>(), vec![1.0; 4]);
    assert!(a.try_add_(&Tensor::ones(&[2, 2])).is_err(), "device mismatch");
    let mut c = Tensor::zeros(&[2]).to(&dev);
    c.copy_(&Tensor::from_vec(vec![1.0f64, 2.0], &[2])); // from the CPU, another dtype
    assert_eq!((c.to_vec::<f32>(), c.device()), (vec![1.0, 2.0], dev));
}

#[test]
fn integer_and_bool_tensors() {
    let mut i = Tensor::from_vec(vec![1i64, -2, 3], &[3]);
    i.add_scalar_(2.0).mul_(&Tensor::from_vec(vec![2i64], &[1])).neg_().clamp_(Some(-6.0), None).relu_();
    assert_eq!(i.to_vec::<i64>(), vec![0, 0, 0]);
    let e = i.try_div_(&Tensor::from_vec(vec![2i64, 2, 2], &[3])).unwrap_err().to_string();
    assert_eq!(e, "div_: result type F32 can't be cast to the desired output type I64");
    assert!(i.try_add_scalar_(0.5).unwrap_err().to_string().contains("can't be cast"));
    let mut b = Tensor::from_vec(vec![true, false], &[2]);
    b.fill_(1.0);
    assert_eq!(b.to_vec::<bool>(), vec![true, true]);
    assert!(b.try_add_(&Tensor::from_vec(vec![true, false], &[2])).is_err());
}

#[test]
fn bad_arguments_are_errors_and_change_nothing() {
    let mut a = f64s(&[1.0, 2.0], &[2]);
    let e = a.try_add_(&f64s(&[1.0; 6], &[3, 2])).unwrap_err().to_string();
    assert_eq!(e, "add_: output with shape [2] doesn't match the broadcast shape [3, 2]");
    let e = a.try_mul_(&f64s(&[1.0; 3], &[3])).unwrap_err().to_string();
    assert!(e.starts_with("mul_: shape mismatch: [2] vs [3]"), "{e}");
    let e = a.try_sub_(&Tensor::ones(&[2])).unwrap_err().to_string();
    assert!(e.starts_with("sub_: dtype mismatch"), "{e}");
    let e = a.try_copy_(&f64s(&[1.0; 3], &[3])).unwrap_err().to_string();
    assert!(e.starts_with("copy_:"), "{e}");
    assert!(a.try_clamp_(None, None).is_err());
    assert!(a.try_masked_fill_(&Tensor::from_vec(vec![true, false, true], &[3]), 0.0).is_err());
    assert_eq!(a.to_vec::<f64>(), vec![1.0, 2.0]);
    let r = std::panic::catch_unwind(|| {
        let mut a = f64s(&[1.0, 2.0], &[2]);
        a.add_(&f64s(&[1.0; 3], &[3]));
    });
    let e = r.unwrap_err();
    let m = e.downcast_ref::<String>().unwrap();
    assert!(m.starts_with("add_: shape mismatch"), "{m}");
}
