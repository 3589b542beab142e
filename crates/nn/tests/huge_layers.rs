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

/// The message of an `Err` from a layer constructor, which must be `OutOfMemory` or the overflow
/// error naming the shape.
fn refused<T>(r: ember_tensor::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e @ ember_tensor::Error::OutOfMemory(_)) => e.to_string(),
        Err(e) => {
            let m = e.to_string();
            assert!(m.contains("overflowed"), "{m}");
            m
        }
    }
}

#[test]
fn layer_constructors_have_checked_forms() {
    use ember_nn::{Bilinear, Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, Embedding, EmbeddingBag};
    // 2^48 f32 weights (1 PiB): out of memory, named with the bytes
    let m = refused(Linear::try_new(1 << 24, 1 << 24));
    assert!(m.starts_with("out of memory: rand: cannot allocate") && m.contains("281474976710656 elements"), "{m}");
    // an element count past usize: the overflow error naming the shape
    let m = refused(Linear::try_new(1 << 40, 1 << 40));
    assert!(m.contains("[1099511627776, 1099511627776]"), "{m}");
    refused(Conv1d::try_new(1 << 20, 1 << 20, 1 << 8));
    refused(Conv2d::try_new(1 << 20, 1 << 20, 1 << 4));
    refused(Conv2d::try_new(1 << 32, 1 << 32, [1 << 32, 2]));
    refused(ConvTranspose1d::try_new(1 << 20, 1 << 20, 1 << 8));
    refused(ConvTranspose2d::try_new(1 << 20, 1 << 20, 1 << 4));
    refused(Conv3d::try_new(1 << 16, 1 << 16, 1 << 6));
    refused(Embedding::try_new(1 << 40, 1 << 10));
    refused(EmbeddingBag::try_new(1 << 40, 1 << 10));
    refused(Bilinear::try_new(1 << 16, 1 << 16, 1 << 16));
    // the plain forms panic with the same message, at the caller
    let e = std::panic::catch_unwind(|| Conv2d::new(1 << 20, 1 << 20, 1 << 4)).err().unwrap();
    let m = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(m.starts_with("out of memory"), "{m}");
    // small layers are as before
    let c = Conv2d::try_new(2, 4, 3).unwrap();
    assert_eq!(c.weight.shape(), vec![4, 2, 3, 3]);
    assert!(c.weight.data().to_vec::<f32>().iter().all(|v| v.abs() <= 1.0 / (18f32).sqrt()));
    assert_eq!(Embedding::try_new(5, 3).unwrap().weight.shape(), vec![5, 3]);
}

#[test]
fn conv3d_and_conv_transpose1d_sizes_are_checked() {
    use ember_autograd::Variable;
    use ember_nn::functional as F;
    use ember_tensor::Tensor;
    let x = Variable::from(Tensor::ones(&[1, 1, 2, 2, 2]));
    let w = Variable::from(Tensor::ones(&[1, 1, 1, 1, 1]));
    let e = F::try_conv3d(&x, &w, None, 1, [usize::MAX / 2, 0, 0], 1, 1).err().unwrap().to_string();
    assert!(e.contains("conv3d") && e.contains("overflow"), "{e}");
    let w2 = Variable::from(Tensor::ones(&[1, 1, 2, 2, 1]));
    let e = F::try_conv3d(&x, &w2, None, 1, [0, 0, 0], [usize::MAX, 1, 1], 1).err().unwrap().to_string();
    assert!(e.contains("conv3d") && e.contains("overflow"), "{e}");
    let e = F::try_conv3d(&x, &w2, None, 1, [0, 0, 0], [1, usize::MAX, 1], 1).err().unwrap().to_string();
    assert!(e.contains("conv3d") && e.contains("overflow"), "{e}");
    let x1 = Variable::from(Tensor::ones(&[1, 1, 3]));
    let w1 = Variable::from(Tensor::ones(&[1, 1, 2]));
    let e = F::try_conv_transpose1d(&x1, &w1, None, usize::MAX / 2, 0, 0, 1, 1).err().unwrap().to_string();
    assert!(e.contains("conv_transpose1d") && e.contains("overflow"), "{e}");
}
