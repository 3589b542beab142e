//! Convolution, pooling, sorting and indexing with sizes no machine can hold: the `try_*` forms
//! return an `Err` naming the op (an overflow naming the values, or `OutOfMemory` naming the
//! bytes), never a wrapped size, a giant allocation that aborts, or a panic inside a kernel; the
//! plain forms panic with the same message. Sizes are past a 47-bit address space (256 TiB and up),
//! so they fail the same way with or without Linux overcommit. CPU and, with an adapter, GPU.

mod gpu_util;

use ember_tensor::{DType, Device, Error, Result, Tensor};
use gpu_util::gpu;

/// An `Err` from `op` whose message holds every one of `words`.
fn err(r: Result<Tensor>, op: &str, words: &[&str]) -> Error {
    let e = match r {
        Err(e) => e,
        Ok(t) => panic!("{op}: expected an error, got a tensor of shape {:?}", t.shape()),
    };
    let m = e.to_string();
    assert!(m.contains(op), "{op}: the message does not name the op: {m}");
    for w in words {
        assert!(m.contains(w), "{op}: the message lacks {w:?}: {m}");
    }
    e
}

fn oom(r: Result<Tensor>, op: &str) {
    let e = err(r, op, &["bytes"]);
    assert!(matches!(e, Error::OutOfMemory(_)), "{op}: expected OutOfMemory, got {e}");
}

fn conv_cases(dev: &Device) {
    let x = Tensor::ones(&[1, 1, 4, 4]).to(dev);
    let w = Tensor::ones(&[1, 1, 3, 3]).to(dev);
    let big = usize::MAX / 2;
    // padding whose double overflows; a dilation whose span overflows
    err(x.try_conv2d(&w, None, [1, 1], [big, 0], [1, 1], 1), "conv2d", &["overflow", "padding"]);
    err(x.try_conv2d(&w, None, [1, 1], [0, 0], [1, big + 1], 1), "conv2d", &["overflow", "dilation"]);
    // a span that just fits in usize is no overflow: the kernel does not fit the input
    err(x.try_conv2d(&w, None, [1, 1], [0, 0], [1, big], 1), "conv2d", &["kernel size can't be greater"]);
    // padding that fits in usize but makes an output of 2^82 elements: the size check names it
    err(x.try_conv2d(&w, None, [1, 1], [1 << 40, 1 << 40], [1, 1], 1), "conv2d", &["overflowed"]);
    let x1 = Tensor::ones(&[1, 1, 4]).to(dev);
    let w1 = Tensor::ones(&[1, 1, 3]).to(dev);
    err(x1.try_conv1d(&w1, None, 1, big, 1, 1), "conv1d", &["overflow"]);
    // stride that wraps `(L - 1) * stride` in 64 bits; a stride making 2^82 output elements
    err(x.try_conv_transpose2d(&w, None, [big, 1], [0, 0], [0, 0], 1, [1, 1]), "conv_transpose2d", &["overflows"]);
    err(
        x.try_conv_transpose2d(&w, None, [1 << 40, 1 << 40], [0, 0], [0, 0], 1, [1, 1]),
        "conv_transpose2d",
        &["overflowed"],
    );
    // the backward kernels check the same arithmetic on the shapes they are given
    let dy = Tensor::ones(&[1, 1, 2, 2]).to(dev);
    err(
        Tensor::try_conv2d_backward_input(&dy, &w, &[1, 1, 4, 4], [1, 1], [big, big], [1, 1], 1),
        "conv2d_backward_input",
        &["overflow"],
    );
}

#[test]
fn convolution_sizes_are_checked() {
    conv_cases(&Device::Cpu);
    // an output that fits usize but not memory: 2^46 f32 through a padding of 2^22 and a
    // 1x1 kernel ([1, 1, 2^23, 2^23])
    let x = Tensor::ones(&[1, 1, 1, 1]);
    let w = Tensor::ones(&[1, 1, 1, 1]);
    oom(x.try_conv2d(&w, None, [1, 1], [1 << 22, 1 << 22], [1, 1], 1), "conv2d");
    let x2 = Tensor::ones(&[1, 1, 2, 2]); // (2 - 1) * 2^23 + 1 outputs per side
    oom(x2.try_conv_transpose2d(&w, None, [1 << 23, 1 << 23], [0, 0], [0, 0], 1, [1, 1]), "conv_transpose2d");
    // the plain form panics with the message, and the process goes on
    let m = std::panic::catch_unwind(|| x.conv2d(&w, None, [1, 1], [usize::MAX / 2, 0], [1, 1], 1))
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .expect("a panic with a message");
    assert!(m.contains("conv2d") && m.contains("overflow"), "{m}");
    assert_eq!(x.conv2d(&w, None, [1, 1], [1, 1], [1, 1], 1).shape(), &[1, 1, 3, 3]);
}

#[test]
fn convolution_sizes_are_checked_on_the_gpu() {
    if let Some(dev) = gpu() {
        conv_cases(&dev);
    }
}

#[test]
fn pooling_sizes_are_checked() {
    let x = Tensor::ones(&[1, 1, 4, 4]);
    // an adaptive output larger than memory (2^46 f32), and one whose element count overflows
    oom(x.try_adaptive_avg_pool2d([1 << 23, 1 << 23]), "adaptive_avg_pool2d");
    err(x.try_adaptive_avg_pool2d([1 << 40, 1 << 40]), "adaptive_avg_pool2d", &["overflowed"]);
    // a zero-sized batch with a huge plane: the windows it would size are refused, not allocated
    let r = Tensor::ones(&[0, 1, 1, 1]).try_adaptive_avg_pool2d([1 << 60, 1]);
    assert!(r.is_err() || r.as_ref().unwrap().numel() == 0, "{r:?}");
    // backward kernels sized by a caller's input shape
    let (g, i) = x.try_max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false).unwrap();
    err(Tensor::try_max_pool2d_backward(&g, &i, &[1, 1, 1 << 40, 1 << 40]), "max_pool2d_backward", &[]);
    err(
        Tensor::try_max_pool2d_backward(&g, &i, &[1 << 32, 1 << 32, 1 << 32, 2]),
        "max_pool2d_backward",
        &["overflowed"],
    );
    let go = Tensor::ones(&[1, 1, 2, 2]);
    err(Tensor::try_adaptive_avg_pool2d_backward(&go, &[1, 1, 1 << 62, 1 << 62]), "adaptive_avg_pool2d_backward", &[]);
    // kernel, stride, padding and dilation past 32 bits, and a dilation whose span overflows
    err(x.try_max_pool2d([1 << 40, 1], [1, 1], [0, 0], [1, 1], false), "max_pool2d", &["32 bits"]);
    err(x.try_max_pool2d([2, 2], [1, 1], [0, 0], [i32::MAX as usize, 1], false), "max_pool2d", &["too small"]);
    err(x.try_avg_pool2d([2, 2], [usize::MAX, 1], [0, 0], false, true), "avg_pool2d", &["32 bits"]);
    err(Tensor::ones(&[1, 1, 4]).try_max_pool1d(2, 1 << 40, 0), "max_pool1d", &["32 bits"]);
}

#[test]
fn sorting_and_indexing_refuse_impossible_outputs() {
    // a 2^44-element view of one value (no storage of its own): its sorted copy (2^46 bytes of
    // f32 plus 2^47 of I64 indices) cannot be allocated
    let huge = Tensor::zeros(&[1]).expand(&[1usize << 44]);
    oom(huge.try_sort(0, false).map(|(v, _)| v), "sort");
    oom(huge.try_argsort(0, true), "sort");
    oom(huge.try_topk(1 << 43, 0, true, true).map(|(v, _)| v), "topk");
    let idx = Tensor::from_vec(vec![0i64], &[1]).expand(&[1usize << 45]);
    let src = Tensor::ones(&[3, 2]);
    oom(src.try_index_select(0, &idx), "index_select");
    oom(Tensor::ones(&[3]).try_gather(0, &idx), "gather");
    oom(Tensor::try_embedding(&src, &idx), "embedding");
    let grad = Tensor::ones(&[1, 2]);
    let one = Tensor::from_vec(vec![0i64], &[1]);
    oom(Tensor::try_embedding_backward(&grad, &one, 1 << 46), "embedding_backward");
    // the process goes on: small cases still work
    assert_eq!(Tensor::from_vec(vec![3.0f32, 1.0, 2.0], &[3]).sort(0, false).0.to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
    assert_eq!(src.index_select(0, &Tensor::from_vec(vec![2i64, 0], &[2])).shape(), &[2, 2]);
    let _ = DType::F32;
}
