//! Dropping a graph never recurses: chains of any length drop in constant stack, on the main
//! thread and on threads with small stacks, with or without a backward.

use ember_autograd::{live_nodes, Variable};
use ember_tensor::Tensor;

fn chain(n: usize) -> (Variable, Variable) {
    let x = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2]), true);
    let mut y = x.clone();
    for _ in 0..n {
        y = &y * 1.0;
    }
    (x, y)
}

#[test]
fn a_200k_op_chain_drops_on_the_main_thread() {
    let (x, y) = chain(200_000);
    drop(y); // used to overflow the stack and abort
    assert_eq!(x.to_vec::<f32>(), vec![1.0, 2.0]);
}

#[test]
fn a_200k_op_chain_drops_on_a_256_kib_thread() {
    let h = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            let (_x, y) = chain(200_000);
            let z = y.sum();
            drop(y);
            drop(z);
            true
        })
        .unwrap();
    assert!(h.join().unwrap());
}

#[test]
fn a_graph_shared_by_handles_is_kept_until_the_last_one_drops() {
    let (x, y) = chain(1000);
    let mid = {
        let mut m = x.clone();
        for _ in 0..10 {
            m = &m + 1.0;
        }
        m
    };
    let z = &y * &mid;
    drop(y);
    // z still needs the whole chain: backward works after the other handle dropped
    z.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![12.0, 14.0]); // d/dx x (x + 10) = 2x + 10
}

#[test]
fn a_long_lstm_like_recurrence_drops_and_still_differentiates() {
    // h_t = tanh(W h_{t-1} + U x_t), c_t = c_{t-1} * sigmoid(h_t): two interleaved chains of 20,000
    // steps each (as an LSTM evaluated with gradients on, never backpropagated)
    let w = Variable::new(Tensor::full(&[4, 4], 0.1), true);
    let u = Variable::new(Tensor::full(&[4, 4], 0.05), true);
    let x = Variable::from(Tensor::ones(&[1, 4]));
    let (mut h, mut c) = (Variable::from(Tensor::zeros(&[1, 4])), Variable::from(Tensor::ones(&[1, 4])));
    for _ in 0..20_000 {
        h = (&h.matmul(&w.t()) + &x.matmul(&u.t())).tanh();
        c = &c * &h.sigmoid();
    }
    let before = live_nodes();
    assert!(before >= 20_000 * 6, "{before}");
    let t = std::thread::Builder::new().stack_size(256 << 10).spawn(move || drop((h, c))).unwrap();
    t.join().unwrap();
    // and a short one still trains: backward through a recurrence of 50 steps
    let mut h = Variable::from(Tensor::zeros(&[1, 4]));
    for _ in 0..50 {
        h = (&h.matmul(&w.t()) + &x.matmul(&u.t())).tanh();
    }
    h.sum().backward();
    assert!(w.grad().is_some() && u.grad().unwrap().to_vec::<f32>().iter().all(|g| g.is_finite()));
}
