//! A layer too large for memory panics with the allocator's message instead of aborting the
//! process (the issue's `Linear::new(1_000_000, 1_000_000)`, here with 2^48 weights so that it
//! fails the same way with or without Linux overcommit).

use ember_nn::{Linear, Module};

#[test]
fn an_impossible_linear_layer_panics_with_the_out_of_memory_message() {
    let r = std::panic::catch_unwind(|| Linear::new(1 << 24, 1 << 24));
    let e = r.err().expect("a 2^48-weight layer cannot be allocated");
    let m = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(m.starts_with("out of memory: rand: cannot allocate") && m.contains("on cpu"), "{m}");
    // the process is fine: a normal layer still works
    let l = Linear::new(3, 2);
    assert_eq!(l.parameters().len(), 2);
}

#[test]
fn a_20000_step_lstm_graph_drops_without_overflowing_the_stack() {
    use ember_autograd::Variable;
    use ember_tensor::Tensor;
    // evaluated with gradients on and never backpropagated: the graph is released when the output
    // drops, iteratively (this used to overflow the stack and abort), here on a 1 MiB thread
    let t = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            let lstm = ember_nn::Lstm::new(2, 3);
            let x = Variable::from(Tensor::ones(&[20_000, 1, 2]));
            let y = lstm.forward(&x);
            assert_eq!(y.shape(), vec![20_000, 1, 3]);
            assert!(y.requires_grad());
            drop(y);
            true
        })
        .unwrap();
    assert!(t.join().unwrap());
}
