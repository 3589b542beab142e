//! In-place ops on Variables and the version counter: a value saved for backward that changed
//! since makes `backward` fail naming the op and the versions; leaves that require grad cannot be
//! modified in grad mode; recorded in-place ops differentiate correctly.

use ember_autograd::{gradcheck, no_grad, Variable};
use ember_tensor::Tensor;
use ember_testutil::panic_message;

fn v(data: &[f64], rg: bool) -> Variable {
    Variable::new(Tensor::from_vec(data.to_vec(), &[data.len()]), rg)
}

#[test]
fn every_op_computes_its_value_and_bumps_the_version() {
    let a = v(&[1.0, -2.0, 3.0], false);
    assert_eq!(a.version(), 0);
    a.add_(&v(&[1.0, 1.0, 1.0], false)).mul_scalar_(2.0).sub_scalar_(1.0); // [3, -3, 7]
    assert_eq!(a.to_vec::<f64>(), vec![3.0, -3.0, 7.0]);
    a.div_(&v(&[3.0, 3.0, 7.0], false)).clamp_(Some(-0.5), None); // [1, -0.5, 1]
    assert_eq!(a.to_vec::<f64>(), vec![1.0, -0.5, 1.0]);
    a.neg_().relu_(); // [0, 0.5, 0]
    assert_eq!(a.to_vec::<f64>(), vec![0.0, 0.5, 0.0]);
    a.masked_fill_(&Tensor::from_vec(vec![true, false, false], &[3]), 9.0).add_scalar_(1.0).div_scalar_(2.0);
    assert_eq!(a.to_vec::<f64>(), vec![5.0, 0.75, 0.5]);
    a.sub_(&v(&[0.5], false)).mul_(&v(&[2.0], false)); // broadcast operands
    assert_eq!(a.to_vec::<f64>(), vec![9.0, 0.5, 0.0]);
    a.copy_(&Variable::from(Tensor::from_vec(vec![7i64], &[1]))); // broadcast + dtype conversion
    assert_eq!(a.to_vec::<f64>(), vec![7.0; 3]);
    a.fill_(2.0);
    assert_eq!(a.to_vec::<f64>(), vec![2.0; 3]);
    a.zero_();
    assert_eq!(a.to_vec::<f64>(), vec![0.0; 3]);
    assert_eq!(a.version(), 15);
    a.set_data(Tensor::ones(&[2]));
    assert_eq!(a.version(), 16);
    // every handle sees the change (a Variable is a shared handle)
    let b = a.clone();
    b.add_scalar_(1.0);
    assert_eq!(a.to_vec::<f32>(), vec![2.0, 2.0]);
}

#[test]
fn bad_in_place_arguments_are_errors() {
    let a = v(&[1.0, 2.0], false);
    let e = a.try_add_(&v(&[1.0, 2.0, 3.0], false)).unwrap_err().to_string();
    assert!(e.contains("add_") && e.contains("[2]") && e.contains("[3]"), "{e}");
    let e =
        a.try_add_(&Variable::from(Tensor::ones(&[3, 2]).to_dtype(ember_tensor::DType::F64))).unwrap_err().to_string();
    assert!(e.contains("add_") && e.contains("doesn't match the broadcast shape [3, 2]"), "{e}");
    let e = a.try_mul_(&Variable::from(Tensor::ones(&[2]))).unwrap_err().to_string(); // f32 into f64
    assert!(e.contains("mul_") && e.contains("dtype"), "{e}");
    let i = Variable::from(Tensor::from_vec(vec![1i64, 2], &[2]));
    let e = i.try_div_scalar_(2.0).unwrap_err().to_string();
    assert!(e.contains("div_") && e.contains("can't be cast to the desired output type I64"), "{e}");
    assert!(a.try_clamp_(None, None).is_err());
    assert!(a.try_masked_fill_(&Tensor::ones(&[2]), 0.0).is_err()); // not a Bool mask
    let m = panic_message(|| {
        a.add_(&v(&[1.0, 2.0, 3.0], false));
    });
    assert!(m.contains("add_"), "{m}");
    assert_eq!(a.to_vec::<f64>(), vec![1.0, 2.0], "a failed op changes nothing");
    assert_eq!(a.version(), 0);
}

#[test]
fn a_leaf_that_requires_grad_cannot_be_modified_in_grad_mode() {
    let w = v(&[1.0, 2.0], true);
    let e = w.try_add_scalar_(1.0).unwrap_err().to_string();
    assert!(e.contains("add_: a leaf Variable that requires grad is being used in an in-place operation"), "{e}");
    let m = panic_message(|| {
        w.zero_();
    });
    assert!(m.contains("zero") || m.contains("fill_"), "{m}");
    assert!(m.contains("a leaf Variable that requires grad"), "{m}");
    no_grad(|| {
        w.mul_scalar_(3.0).zero_();
    });
    assert_eq!(w.to_vec::<f64>(), vec![0.0, 0.0]);
    assert!(w.is_leaf() && w.requires_grad());
}

#[test]
fn modifying_a_saved_value_makes_backward_fail_naming_the_op_and_versions() {
    // a leaf saved by mul, changed by set_data between forward and backward (the stale-gradient case)
    let x = v(&[1.0, 2.0], true);
    let w = v(&[3.0, 4.0], true);
    let y = (&x * &w).sum();
    w.set_data(Tensor::from_vec(vec![30.0, 40.0], &[2]));
    let e = y.try_backward().unwrap_err().to_string();
    assert!(
        e.contains("one of the variables needed for gradient computation has been modified by an inplace operation")
            && e.contains("input 1 of mul")
            && e.contains("is at version 1; expected version 0"),
        "{e}"
    );
    assert!(x.grad().is_none(), "no stale gradient was written");
    (&x * &w).sum().backward(); // a graph recorded after the change is fine
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![30.0, 40.0]);
    // a non-leaf saved by exp's consumer, modified in place under no_grad
    let a = v(&[0.5], true);
    let h = a.exp();
    let out = (&h * &h).sum();
    no_grad(|| {
        h.mul_scalar_(2.0);
    });
    let e = out.try_backward().unwrap_err().to_string();
    assert!(
        e.contains("of mul") && e.contains("the output of exp") && e.contains("version 1; expected version 0"),
        "{e}"
    );
    // the output of an op, modified without recording (its rule would read it)
    let b = v(&[0.5], true);
    let s = b.sigmoid();
    no_grad(|| {
        s.fill_(0.0);
    });
    let e = s.sum().try_backward().unwrap_err().to_string();
    assert!(e.contains("output of sigmoid") && e.contains("version 1; expected version 0"), "{e}");
    // a consumer recorded before a recorded in-place op on its input
    let c = v(&[2.0], true);
    let d = &c * 2.0;
    let later = &d * &d;
    d.add_scalar_(1.0);
    assert!(later.sum().try_backward().unwrap_err().to_string().contains("input 0 of mul"));
}

#[test]
fn recorded_in_place_ops_differentiate_correctly() {
    // y = relu(3x + 1) computed in place on a non-leaf, then * x: d/dx = ...
    let x = v(&[1.0, -2.0, 0.5], true);
    let y = &x * 3.0;
    y.add_scalar_(1.0).relu_();
    let before = y.version();
    assert_eq!(before, 2);
    assert!(!y.is_leaf() && y.op_name() == "relu");
    (&y * &x).sum().backward();
    // f = relu(3x+1) x: f' = 3x * [3x+1>0] + relu(3x+1)
    let want: Vec<f64> =
        [1.0f64, -2.0, 0.5].iter().map(|&x| if 3.0 * x + 1.0 > 0.0 { 3.0 * x + 3.0 * x + 1.0 } else { 0.0 }).collect();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), want);
    // an in-place op whose operand requires grad turns a constant into a graph node
    let w = v(&[2.0, 5.0], true);
    let acc = Variable::from(Tensor::zeros_dtype(&[2], ember_tensor::DType::F64));
    acc.add_(&w).mul_(&w); // acc = w * w
    acc.sum().backward();
    assert_eq!(w.grad().unwrap().to_vec::<f64>(), vec![4.0, 10.0]);
    // copy_ sends the gradient to the source (summed over broadcast dims), none to the old value
    let src = v(&[3.0], true);
    let base = &v(&[1.0, 2.0], true) * 1.0;
    base.copy_(&src);
    (&base * 2.0).sum().backward();
    assert_eq!(src.grad().unwrap().to_vec::<f64>(), vec![4.0]);
    // fill_ cuts the gradient to the old value; the in-place result still feeds later ops
    let p = v(&[1.0, 2.0], true);
    let q = &p * 2.0;
    q.fill_(5.0);
    (&q * &p).sum().backward();
    assert_eq!(p.grad().unwrap().to_vec::<f64>(), vec![5.0, 5.0]);
    // finite differences through a chain of in-place ops
    let f = |xs: &[Variable]| {
        let t = &xs[0] * 1.0;
        t.mul_(&xs[1]).add_scalar_(0.5).div_(&xs[1].exp()).sub_(&xs[0]);
        t.clamp_(Some(-3.0), Some(3.0));
        t
    };
    let a = Tensor::from_vec(vec![0.3f64, -0.7, 1.1], &[3]);
    let b = Tensor::from_vec(vec![0.2f64, 0.4, -0.3], &[3]);
    gradcheck(f, &[a, b]).unwrap();
}

#[test]
fn a_training_loop_never_trips_the_check() {
    let w = v(&[0.5, -0.5], true);
    let x = Variable::from(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    for _ in 0..20 {
        let loss = (&w * &x).sum().powf(2.0);
        loss.try_backward().unwrap();
        let g = w.grad().unwrap();
        no_grad(|| {
            w.sub_(&Variable::from(&g * 0.01));
        });
        w.set_data(w.data()); // what optimizers do
        w.zero_grad();
    }
    assert!(w.version() >= 40);
}

#[test]
fn in_place_ops_on_gpu_variables() {
    let dev = match ember_tensor::Device::gpu() {
        Ok(d) => d,
        Err(e) => {
            assert!(std::env::var("EMBER_REQUIRE_GPU").map_or(true, |v| v != "1"), "no GPU: {e}");
            println!("skipping GPU test: {e}");
            return;
        }
    };
    let x = Variable::new(Tensor::from_vec(vec![1.0f32, -2.0, 3.0], &[3]).to(&dev), true);
    let h = &x * 2.0;
    h.add_scalar_(1.0).relu_().mul_(&x); // relu(2x + 1) * x, recorded
    assert_eq!(h.device(), dev);
    assert_eq!(h.to_vec::<f32>(), vec![3.0, 0.0, 21.0]);
    h.sum().backward();
    // d/dx relu(2x+1) x = 2x [2x+1>0] + relu(2x+1)
    assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![5.0, 0.0, 13.0]);
    no_grad(|| {
        x.sub_(&Variable::from(x.grad().unwrap())).clamp_(Some(-1.0), Some(1.0));
    });
    assert_eq!((x.to_vec::<f32>(), x.device(), x.version()), (vec![-1.0, -1.0, -1.0], dev, 2));
    let e = x.try_add_(&v(&[1.0, 2.0, 3.0], false)).unwrap_err().to_string();
    assert!(e.contains("add_"), "{e}");
}
