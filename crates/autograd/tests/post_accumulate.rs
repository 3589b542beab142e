//! `register_post_accumulate_grad_hook` and the early delivery of leaf gradients that data-parallel
//! training overlaps communication with.

use std::sync::{Arc, Mutex};

use ember_autograd::Variable;
use ember_tensor::Tensor;

fn leaf(v: Vec<f64>) -> Variable {
    let n = v.len();
    Variable::new(Tensor::from_vec(v, &[n]), true)
}

#[test]
fn a_leaf_is_delivered_as_soon_as_its_last_consumer_ran() {
    // y = sum(w2 * (w1 * x)): backward reaches w2's op first, then w1's.
    let (x, w1, w2) = (leaf(vec![1.0, 2.0]), leaf(vec![3.0, 4.0]), leaf(vec![5.0, 6.0]));
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    for (name, w, other) in [("w2", &w2, &w1), ("w1", &w1, &w2)] {
        let (seen, other) = (seen.clone(), other.clone());
        w.register_post_accumulate_grad_hook(move |v| {
            let g = v.grad().expect("the hook runs after accumulation").to_vec::<f64>();
            seen.lock().unwrap().push(format!("{name} {g:?} other has grad: {}", other.grad().is_some()));
        });
    }
    (&w2 * &(&w1 * &x)).sum().backward();
    let seen = seen.lock().unwrap().clone();
    // w2's gradient (w1 * x) arrives while w1's is still to be computed
    assert_eq!(seen, ["w2 [3.0, 8.0] other has grad: false", "w1 [5.0, 12.0] other has grad: true"]);
}

#[test]
fn the_hook_sees_the_accumulated_gradient_and_grad_does_not_run_it() {
    let w = leaf(vec![2.0]);
    let seen: Arc<Mutex<Vec<f64>>> = Arc::default();
    let s = seen.clone();
    w.register_post_accumulate_grad_hook(move |v| s.lock().unwrap().push(v.grad().unwrap().to_vec::<f64>()[0]));
    (&w * 3.0).sum().backward();
    (&w * 3.0).sum().backward();
    let _ = ember_autograd::grad(&(&w * 5.0).sum(), &[&w], false);
    assert_eq!(*seen.lock().unwrap(), [3.0, 6.0]);
}
