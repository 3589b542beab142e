//! How `backward` accumulates into `.grad` in place (PyTorch's `AccumulateGrad`) without changing
//! what any earlier handle sees, and how a walk without `retain_graph` frees each node as it runs
//! while keeping the intermediate results alive until it ends.

use ember_autograd::{grad, Variable};
use ember_tensor::{DType, Tensor};

fn leaf(data: &[f32]) -> Variable {
    Variable::new(Tensor::from_vec(data.to_vec(), &[data.len()]), true)
}

#[test]
fn repeated_backwards_sum_exactly() {
    let w = leaf(&[0.5, -1.0, 2.0]);
    let x = Variable::from(Tensor::from_vec(vec![1.5f32, 0.25, -3.0], &[3]));
    for _ in 0..100 {
        (&w * &x).sum().backward();
    }
    // the same additions in the same order as `prev + new` would make, one per backward
    let mut want = [0.0f32; 3];
    for _ in 0..100 {
        for (s, v) in want.iter_mut().zip([1.5f32, 0.25, -3.0]) {
            *s += v;
        }
    }
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), want.to_vec());
}

#[test]
fn a_gradient_taken_earlier_keeps_its_value() {
    let w = leaf(&[1.0, 2.0]);
    (&w * 3.0).sum().backward();
    // a tensor sharing the storage of `.grad`: the stored Variable is unique, its data is not
    let first = w.grad().unwrap();
    (&w * 4.0).sum().backward();
    assert_eq!(first.to_vec::<f32>(), vec![3.0, 3.0]);
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![7.0, 7.0]);
    // another handle to the stored Variable itself
    let held = w.grad_variable().unwrap();
    (&w * 5.0).sum().backward();
    assert_eq!(held.to_vec::<f32>(), vec![7.0, 7.0]);
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![12.0, 12.0]);
    drop(held);
    // nothing else left: in place, and the earlier values still do not move
    (&w * 6.0).sum().backward();
    assert_eq!(first.to_vec::<f32>(), vec![3.0, 3.0]);
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![18.0, 18.0]);
}

#[test]
fn a_broadcast_gradient_is_stored_and_then_accumulated() {
    // sum's gradient arrives as an expanded (stride-0) view: not writable in place
    let w = leaf(&[1.0, 2.0, 3.0]);
    w.sum().backward();
    w.sum().backward();
    w.sum().backward();
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![3.0, 3.0, 3.0]);
}

#[test]
fn a_tensor_given_to_set_grad_is_not_written_through() {
    let w = leaf(&[1.0, 2.0]);
    let mine = Tensor::from_vec(vec![0.5f32, 0.5], &[2]);
    w.set_grad(Some(mine.clone())); // `.grad` shares `mine`'s storage
    (&w * 2.0).sum().backward();
    assert_eq!(mine.to_vec::<f32>(), vec![0.5, 0.5]);
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![2.5, 2.5]);
    // a transposed (non-contiguous) gradient is summed out of place
    let m = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]), true);
    let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).transpose(0, 1);
    m.set_grad(Some(t.clone()));
    m.sum().backward();
    assert_eq!(t.to_vec::<f32>(), vec![1.0, 3.0, 2.0, 4.0]);
    assert_eq!(m.grad().unwrap().to_vec::<f32>(), vec![2.0, 4.0, 3.0, 5.0]);
}

#[test]
fn create_graph_accumulation_stays_differentiable() {
    let x = leaf(&[2.0]);
    let y = x.powf(3.0).sum();
    y.backward_opts(None, true, true).unwrap(); // .grad = 3x^2 = 12, recorded
    y.backward_opts(None, true, true).unwrap(); // .grad = 24, recorded
    let g = x.grad_variable().unwrap();
    assert_eq!(g.to_vec::<f32>(), vec![24.0]);
    assert!(g.requires_grad());
    let d2 = grad(&g.sum(), &[&x], false).remove(0); // d/dx 2 * 3x^2 = 12x = 24
    assert_eq!(d2.to_vec::<f32>(), vec![24.0]);
}

#[test]
fn intermediates_without_handles_live_until_the_walk_ends() {
    // every intermediate is held only by the node that consumes it
    let x = leaf(&[0.5, 1.5]);
    let loss = (&(&(&x * 2.0).exp() * 3.0).tanh() + 1.0).sum();
    loss.backward();
    let got = x.grad().unwrap().to_vec::<f32>();
    for (g, x) in got.iter().zip([0.5f64, 1.5]) {
        let (e, t) = ((2.0 * x).exp(), (3.0 * (2.0 * x).exp()).tanh());
        let want = (1.0 - t * t) * 3.0 * e * 2.0;
        assert!((f64::from(*g) - want).abs() <= 1e-5 * want.abs().max(1.0), "{g} vs {want}");
    }
}

#[test]
fn a_freed_graph_fails_the_second_time_and_a_retained_one_does_not() {
    let x = leaf(&[1.0, 2.0]);
    let y = (&x * &x).sum();
    y.backward();
    let e = y.try_backward().unwrap_err().to_string();
    assert!(e.contains("second time"), "{e}");
    let z = (&x * &x).sum();
    z.backward_opts(None, true, false).unwrap();
    z.backward_opts(None, true, false).unwrap();
    z.backward();
    // 2x from y, then three more times 2x from z
    assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![8.0, 16.0]);
}

#[test]
fn a_grad_set_with_another_dtype_or_shape_fails_the_backward_and_stays() {
    // PyTorch refuses such an assignment; here it is accepted, and the backward that would add
    // to it fails with an error instead of panicking, leaving the gradient as it was
    let w = leaf(&[1.0, 2.0]);
    w.set_grad(Some(Tensor::from_vec(vec![0.5f64, 0.5], &[2])));
    let e = (&w * 2.0).sum().try_backward().unwrap_err().to_string();
    assert!(e.contains("backward") && e.contains("F64") && e.contains("F32"), "{e}");
    let g = w.grad().unwrap();
    assert_eq!((g.dtype(), g.to_vec::<f64>()), (DType::F64, vec![0.5, 0.5]));
    w.set_grad(Some(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])));
    let e = (&w * 2.0).sum().try_backward().unwrap_err().to_string();
    assert!(e.contains("[3]") && e.contains("[2]"), "{e}");
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
    // a matching gradient accumulates again
    w.set_grad(None);
    (&w * 2.0).sum().backward();
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![2.0, 2.0]);
}
