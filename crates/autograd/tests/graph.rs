//! The graph machinery beyond single ops: hooks on leaves and non-leaves, `retain_grad`, `grad`
//! with non-leaf targets and pruning, custom ops through `Variable::record`, `graph_dot` of a small
//! MLP, and thread-local grad mode.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use ember_autograd::{grad, no_grad, Variable};
use ember_tensor::Tensor;

fn v(data: &[f64], shape: &[usize]) -> Variable {
    Variable::new(Tensor::from_vec(data.to_vec(), shape), true)
}

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_vec::<f64>()
}

#[test]
fn non_leaf_hook_runs_once_on_the_summed_gradient_and_replaces_it() {
    let x = v(&[1.0, 2.0], &[2]);
    let y = &x * 2.0; // [2, 4]
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    y.register_hook(move |g| {
        s.lock().unwrap().push(vals(g));
        Some(g.ones_like())
    });
    // two consumers of y: d/dy = 2y + 3 = [7, 11]
    let z = &(&y * &y).sum() + &(&y * 3.0).sum();
    z.backward();
    assert_eq!(*seen.lock().unwrap(), vec![vec![7.0, 11.0]], "one call, on the sum of both paths");
    // the replaced gradient (ones) is what flows on to x
    assert_eq!(vals(&x.grad().unwrap()), vec![2.0, 2.0]);
}

#[test]
fn leaf_hook_runs_once_per_backward_on_the_sum() {
    let x = v(&[3.0], &[1]);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    x.register_hook(move |g| {
        c.fetch_add(1, Ordering::SeqCst);
        assert_eq!(vals(g), vec![7.0]); // 2x + 1
        None
    });
    (&(&x * &x) + &x).sum().backward();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(vals(&x.grad().unwrap()), vec![7.0]);
}

#[test]
fn retain_grad_sums_paths_sees_hooks_and_accumulates() {
    let x = v(&[1.0, -1.0], &[2]);
    let y = x.exp();
    y.retain_grad();
    y.register_hook(|g| Some(g * 2.0));
    let z = (&y * 3.0 + &y.sin()).sum();
    z.backward_opts(None, true, false).unwrap();
    let want: Vec<f64> = vals(&y.data()).iter().map(|e| 2.0 * (3.0 + e.cos())).collect();
    let got = vals(&y.grad().unwrap());
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < 1e-12, "{got:?} vs {want:?}");
    }
    // a second backward accumulates into the retained gradient, as for leaves
    z.backward();
    for (a, b) in vals(&y.grad().unwrap()).iter().zip(&want) {
        assert!((a - 2.0 * b).abs() < 1e-12);
    }
    // grad() leaves every .grad alone
    let x2 = v(&[0.5], &[1]);
    let y2 = &x2 * 4.0;
    y2.retain_grad();
    let _ = grad(&y2.sum(), &[&x2], false);
    assert!(y2.grad().is_none() && x2.grad().is_none());
}

#[test]
fn grad_of_non_leaf_targets_and_of_several_outputs() {
    let x = v(&[0.3, 0.7], &[2]);
    let y = &x * 2.0;
    let z = y.sin().sum();
    let gs = grad(&z, &[&y, &x], false);
    let want_y: Vec<f64> = vals(&y.data()).iter().map(|a| a.cos()).collect();
    assert_eq!(vals(&gs[0].data()), want_y);
    assert_eq!(vals(&gs[1].data()), want_y.iter().map(|a| 2.0 * a).collect::<Vec<_>>());
    // several roots, each with its own upstream gradient
    let x = v(&[1.0, 2.0], &[2]);
    let (a, b) = (&x * 3.0, x.square());
    let w = Tensor::from_vec(vec![1.0f64, -1.0], &[2]);
    let g = ember_autograd::grad_with(&[&a, &b], &[Some(&w), Some(&w)], &[&x], false, false).unwrap();
    assert_eq!(vals(&g[0].data()), vec![3.0 + 2.0, -3.0 - 4.0]);
}

#[test]
fn grad_runs_only_the_ops_that_lead_to_its_inputs() {
    let x = v(&[0.5], &[1]);
    let w = v(&[1.5], &[1]);
    let branch_calls = Arc::new(AtomicUsize::new(0));
    let c = branch_calls.clone();
    let u = w.exp();
    u.register_hook(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        None
    });
    let z = (&x.sin() + &u).sum();
    let g = grad(&z, &[&x], false);
    assert!((g[0].data().to_vec::<f64>()[0] - 0.5f64.cos()).abs() < 1e-12);
    assert_eq!(branch_calls.load(Ordering::SeqCst), 0, "the w branch does not lead to x");
    // and a rule is told which inputs are wanted: a custom op through `Variable::record`
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a2 = asked.clone();
    let (p, q) = (v(&[2.0], &[1]), v(&[5.0], &[1]));
    let out = (&p.data() * &q.data()).sum();
    let prod = Variable::record("my_mul", &[&p, &q], out, move |ctx| {
        a2.lock().unwrap().push((ctx.needs(0), ctx.needs(1)));
        vec![ctx.needs(0).then(|| ctx.grad * &ctx.inputs[1]), ctx.needs(1).then(|| ctx.grad * &ctx.inputs[0])]
    });
    let gp = grad(&prod, &[&p], false);
    assert_eq!(vals(&gp[0].data()), vec![5.0]);
    assert_eq!(*asked.lock().unwrap(), vec![(true, false)]);
}

#[test]
fn graph_dot_of_a_small_mlp() {
    let x = Variable::from(Tensor::from_vec(vec![0.1f64; 12], &[4, 3]));
    let w1 = v(&[0.2; 15], &[5, 3]);
    let b1 = v(&[0.0; 5], &[5]);
    let w2 = v(&[0.3; 10], &[2, 5]);
    for (p, n) in [(&w1, "w1"), (&b1, "b1"), (&w2, "w2")] {
        p.set_name(n);
    }
    let out = x.linear(&w1, Some(&b1)).relu().linear(&w2, None).sum();
    let dot = out.graph_dot();
    assert!(dot.starts_with("digraph") && dot.trim_end().ends_with('}'), "{dot}");
    let count = |s: &str| dot.matches(s).count();
    assert_eq!(count("shape=box"), 4, "linear, relu, linear, sum: {dot}");
    assert_eq!(count("shape=ellipse"), 4, "x, w1, b1, w2: {dot}");
    assert_eq!(count(" -> "), 7, "3 + 1 + 2 + 1 edges: {dot}");
    assert_eq!(count("label=\"linear"), 2);
    for s in ["relu\\n[4, 5]", "sum\\n[]", "w1\\n[5, 3] grad", "b1\\n[5] grad", "w2\\n[2, 5] grad", "leaf\\n[4, 3]\""] {
        assert!(dot.contains(s), "missing {s} in {dot}");
    }
    // after backward the graph is freed: only the root is left to print
    out.backward();
    assert_eq!(out.graph_dot().matches(" -> ").count(), 0);
}

#[test]
fn grad_mode_is_thread_local() {
    let x = v(&[1.0], &[1]);
    // a thread started inside no_grad records its ops
    let y = no_grad(|| {
        let x2 = x.clone();
        std::thread::spawn(move || &x2 * 2.0).join().unwrap()
    });
    assert!(y.requires_grad());
    // no_grad held by another thread does not switch this one off
    let barrier = Arc::new(Barrier::new(2));
    let b2 = barrier.clone();
    let x3 = x.clone();
    let h = std::thread::spawn(move || {
        no_grad(|| {
            b2.wait(); // inside no_grad
            b2.wait(); // until the main thread has recorded
            (&x3 * 2.0).requires_grad()
        })
    });
    barrier.wait();
    let z = &x * 2.0;
    barrier.wait();
    assert!(z.requires_grad());
    assert!(!h.join().unwrap(), "the other thread's ops were not recorded");
}

#[test]
fn integer_results_and_leaves_are_constants() {
    let x = v(&[1.5, -0.5], &[2]);
    assert!(!x.argmax(0, false).requires_grad());
    assert!(!x.gt_scalar(0.0).requires_grad());
    assert!(!x.to_dtype(ember_tensor::DType::I64).requires_grad());
    let y = x.to_dtype(ember_tensor::DType::F32);
    assert!(y.requires_grad());
    y.sum().backward();
    assert_eq!(x.grad().unwrap().dtype(), ember_tensor::DType::F64);
}

#[test]
fn double_backward_through_a_non_differentiable_op_is_an_error() {
    let x = v(&[1.0, 2.0], &[2]);
    let out = Variable::record("opaque", &[&x], x.data().mul_scalar(3.0), |ctx| {
        let g = ctx.grad.data().mul_scalar(3.0);
        vec![Some(Variable::record_nondifferentiable("opaque_backward", &[ctx.grad], g))]
    });
    let g = grad(&(&out * &out).sum(), &[&x], true).remove(0);
    let e = ember_autograd::try_grad(&g.sum(), &[&x], false).unwrap_err().to_string();
    assert!(e.contains("opaque_backward") && e.contains("not implemented"), "{e}");
}
