//! A training loop frees each step's graph: the count of live graph nodes stays flat.
//! (Its own test binary, so no other test's graphs are alive at the same time.)

use ember_autograd::{live_nodes, Variable};
use ember_tensor::Tensor;

#[test]
fn graph_is_freed_over_a_long_training_loop() {
    let w = Variable::new(Tensor::from_vec(vec![0.5f32; 8], &[8]), true);
    let x = Tensor::from_vec((0..8).map(|i| i as f32 / 8.0).collect(), &[8]);
    let before = live_nodes();
    for _ in 0..10_000 {
        let loss = (&(&w * &Variable::from(x.clone())).tanh() - 0.25).powf(2.0).sum();
        loss.backward();
        let g = w.grad().unwrap();
        w.set_data(&w.data() - &(&g * 0.01));
        w.zero_grad();
    }
    assert_eq!(live_nodes(), before, "nodes leaked: {} before, {} after", before, live_nodes());
}
