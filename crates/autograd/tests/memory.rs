//! Training loops free each step's graph: the count of live graph nodes stays flat.
//! (Its own test binary with one test, so no other test's graphs are alive at the same time.)

use ember_autograd::{grad, live_nodes, Variable};
use ember_tensor::Tensor;

#[test]
fn graphs_are_freed_over_long_training_loops() {
    let w = Variable::new(Tensor::from_vec(vec![0.5f32; 8], &[8]), true);
    let x = Tensor::from_vec((0..8).map(|i| i as f32 / 8.0).collect(), &[8]);
    let before = live_nodes();
    // 1. plain steps: forward, backward, update
    for _ in 0..10_000 {
        let loss = (&(&w * &Variable::from(x.clone())).tanh() - 0.25).powf(2.0).sum();
        loss.backward();
        let g = w.grad().unwrap();
        w.set_data(&w.data() - &(&g * 0.01));
        w.zero_grad();
    }
    assert_eq!(live_nodes(), before, "plain loop leaked: {} before, {} after", before, live_nodes());

    // 2. gradient penalty: grad with create_graph inside the step, then backward through it
    let xs = Variable::new(Tensor::from_vec(vec![0.1f32, -0.4, 0.7, 0.2], &[2, 2]), true);
    let m = Variable::new(Tensor::from_vec(vec![0.3f32, -0.2, 0.5, 0.1], &[2, 2]), true);
    for _ in 0..1_000 {
        let out = xs.matmul(&m).tanh().sum();
        let gx = grad(&out, &[&xs], true).remove(0);
        let pen = (&gx.square().sum_dim(1, false).sqrt() - 1.0).square().mean();
        pen.backward();
        m.set_data(&m.data() - &(&m.grad().unwrap() * 0.01));
        m.zero_grad();
        xs.zero_grad();
    }
    assert_eq!(live_nodes(), before, "gradient-penalty loop leaked: {} after", live_nodes());

    // 3. backward with create_graph keeps a differentiable .grad (a cycle through the leaf, as in
    // PyTorch); zero_grad breaks it and the graph goes
    for _ in 0..1_000 {
        let loss = w.powf(3.0).sum();
        loss.backward_opts(None, false, true).unwrap();
        let g = w.grad_variable().unwrap();
        assert!(g.requires_grad());
        w.zero_grad();
    }
    assert_eq!(live_nodes(), before, "create_graph loop leaked: {} after", live_nodes());
}
