//! The graph machinery: accumulation, leaves, no_grad, hooks, retain_grad, errors, DOT printouts
//! and dynamic control flow (anomaly mode: tests/anomaly.rs; more graph features: tests/graph.rs).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ember_autograd::{enable_grad, grad, no_grad, try_grad, Variable};
use ember_tensor::Tensor;

fn v(data: &[f64], shape: &[usize]) -> Variable {
    Variable::new(Tensor::from_vec(data.to_vec(), shape), true)
}

#[test]
fn gradients_accumulate_across_backward_calls() {
    let x = v(&[1.0, 2.0], &[2]);
    (&x * 3.0).sum().backward();
    (&x * &x).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![5.0, 7.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn shared_subexpression_sums_both_paths() {
    let x = v(&[2.0], &[1]);
    let y = x.exp();
    let z = (&y * &y + &y).sum(); // e^2x + e^x -> 2e^2x + e^x
    z.backward();
    let e = 2f64.exp();
    assert!((x.grad().unwrap().to_vec::<f64>()[0] - (2.0 * e * e + e)).abs() < 1e-9);
}

#[test]
fn leaves_and_non_leaves() {
    let x = v(&[1.0], &[1]);
    let y = &x * 2.0;
    assert!(x.is_leaf() && !y.is_leaf());
    assert_eq!(y.op_name(), "mul");
    let c = Variable::from(Tensor::ones(&[1]));
    assert!(!c.requires_grad());
    let d = y.detach();
    assert!(d.is_leaf() && !d.requires_grad());
    assert!(d.data().shares_storage(&y.data()));
}

#[test]
fn no_grad_and_enable_grad_nest() {
    let x = v(&[1.0], &[1]);
    let y = no_grad(|| {
        let inner = enable_grad(|| &x * 2.0);
        assert!(inner.requires_grad());
        &x * 2.0
    });
    assert!(!y.requires_grad());
    assert!(ember_autograd::is_grad_enabled());
    // grad mode is restored even when the closure panics
    let _ = std::panic::catch_unwind(|| no_grad(|| panic!("boom")));
    assert!(ember_autograd::is_grad_enabled());
}

#[test]
fn hooks_see_and_replace_gradients() {
    let x = v(&[1.0, 2.0], &[2]);
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    x.register_hook(move |g| {
        s.fetch_add(1, Ordering::SeqCst);
        Some(g * 10.0)
    });
    (&x * 2.0).sum().backward();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![20.0, 20.0]);
}

#[test]
fn retain_grad_keeps_non_leaf_gradient() {
    let x = v(&[1.0, 2.0], &[2]);
    let y = &x * 3.0;
    y.retain_grad();
    let z = (&y * &y).sum();
    z.backward();
    assert_eq!(y.grad().unwrap().to_vec::<f64>(), vec![6.0, 12.0]);
    let y2 = &x * 3.0;
    (&y2 * 1.0).sum().backward();
    assert!(y2.grad().is_none(), "non-leaves keep no grad unless asked");
}

#[test]
fn second_backward_through_freed_graph_is_an_error() {
    let x = v(&[1.0], &[1]);
    let y = (&x * &x).sum();
    y.backward();
    let e = y.try_backward().unwrap_err().to_string();
    assert!(e.contains("second time") && e.contains("retain_graph"), "{e}");
    // with retain_graph the second pass works and accumulates
    let x = v(&[1.0], &[1]);
    let y = (&x * &x).sum();
    y.backward_opts(None, true, false).unwrap();
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![4.0]);
}

#[test]
fn backward_errors_name_the_problem() {
    let x = v(&[1.0, 2.0], &[2]);
    let y = &x * 2.0;
    let e = y.try_backward().unwrap_err().to_string();
    assert!(e.contains("scalar outputs") && e.contains("[2]"), "{e}");
    let e = y.try_backward_with(&Tensor::ones_dtype(&[3], ember_tensor::DType::F64)).unwrap_err().to_string();
    assert!(e.contains("Mismatch in shape") && e.contains("[3]") && e.contains("[2]"), "{e}");
    let c = Variable::from(Tensor::ones(&[]));
    assert!(c.try_backward().unwrap_err().to_string().contains("does not require grad"));
    let nog = Variable::from(Tensor::ones(&[1]));
    let e = try_grad(&(&x * 2.0).sum(), &[&nog], false).unwrap_err().to_string();
    assert!(e.contains("does not require grad"), "{e}");
}

#[test]
#[should_panic(expected = "grad can be implicitly created only for scalar outputs")]
fn backward_on_non_scalar_panics() {
    (&v(&[1.0, 2.0], &[2]) * 1.0).backward();
}

#[test]
fn backward_with_explicit_gradient() {
    let x = v(&[1.0, 2.0], &[2]);
    let y = &x * &x;
    y.backward_with(&Tensor::from_vec(vec![1.0f64, 0.5], &[2]));
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![2.0, 2.0]);
}

#[test]
fn grad_of_unused_input_is_zero_and_grad_leaves_dot_grad_alone() {
    let x = v(&[1.0], &[1]);
    let unused = v(&[5.0], &[1]);
    let gs = grad(&(&x * 4.0).sum(), &[&x, &unused], false);
    assert_eq!(gs[0].data().to_vec::<f64>(), vec![4.0]);
    assert_eq!(gs[1].data().to_vec::<f64>(), vec![0.0]);
    assert!(x.grad().is_none());
}

#[test]
fn graph_dot_shows_ops_and_leaves() {
    let w = v(&[1.0, 2.0], &[2]);
    w.set_name("weight");
    let y = (&w.exp() * 2.0).sum();
    let dot = y.graph_dot();
    assert!(dot.starts_with("digraph"));
    for s in ["exp", "mul", "sum", "weight", "->"] {
        assert!(dot.contains(s), "missing {s} in {dot}");
    }
}

#[test]
fn data_dependent_loop_and_recursion() {
    // loop: multiply by x until the value exceeds 10; trip count depends on the data
    let x = v(&[1.5], &[1]);
    let mut y = x.clone();
    let mut n = 1;
    while y.data().to_vec::<f64>()[0] <= 10.0 {
        y = &y * &x;
        n += 1;
    }
    y.sum().backward();
    let want = n as f64 * 1.5f64.powi(n - 1);
    assert_eq!(n, 6);
    assert!((x.grad().unwrap().to_vec::<f64>()[0] - want).abs() < 1e-9);

    // recursion: f(x, k) = sin(f(x, k - 1)), f(x, 0) = x
    fn f(x: &Variable, k: usize) -> Variable {
        if k == 0 {
            x.clone()
        } else {
            f(x, k - 1).sin()
        }
    }
    let x = v(&[0.3], &[1]);
    f(&x, 3).sum().backward();
    let (a0, a1, a2) = (0.3f64, 0.3f64.sin(), 0.3f64.sin().sin());
    let want = a2.cos() * a1.cos() * a0.cos();
    assert!((x.grad().unwrap().to_vec::<f64>()[0] - want).abs() < 1e-12);
}

#[test]
fn variables_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Variable>();
    let x = v(&[2.0], &[1]);
    let y = std::thread::spawn(move || (&x * &x).sum()).join().unwrap();
    y.backward();
}
