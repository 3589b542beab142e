//! Dispatch counts of fused elementwise chains (`gpu_dispatch_count`). One test in this binary, so
//! no other test records dispatches while it counts.

mod gpu_util;

use ember_tensor::{gpu_dispatch_count, gpu_realize, with_gpu_fusion, DType, Tensor};

/// Dispatches recorded while `f` runs.
fn dispatches<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = gpu_dispatch_count();
    let r = f();
    (gpu_dispatch_count() - before, r)
}

#[test]
fn fused_chains_cost_one_dispatch() {
    let Some(dev) = gpu_util::gpu() else { return };
    let x = Tensor::arange(0.0, 1000.0, 1.0).to(&dev);
    let y = Tensor::arange(1000.0, 0.0, -1.0).to(&dev);
    let chain = |x: &Tensor, y: &Tensor| {
        let mut z = x * 0.001;
        for k in 0..10 {
            z = (&z * 0.5 + y).tanh() - f64::from(k);
        }
        z.to_vec::<f32>()
    };
    // 41 elementwise ops (21 with a scalar): one dispatch, when the result is read.
    let (fused, a) = dispatches(|| chain(&x, &y));
    assert_eq!(fused, 1, "a chain of 41 ops");
    let (unfused, b) = dispatches(|| with_gpu_fusion(false, || chain(&x, &y)));
    assert_eq!(unfused, 41, "one dispatch per op without fusion");
    assert_eq!(a, b);

    // Nothing is dispatched until the result is needed, and a dropped result costs nothing.
    let (n, z) = dispatches(|| (&x + &y).exp() * 2.0);
    assert_eq!(n, 0);
    drop(z);
    let (n, ()) = dispatches(|| drop((&x - &y).relu()));
    assert_eq!(n, 0);

    // A pending result read by two consumers is computed once: the first consumer's kernel writes
    // it too, the second reads that buffer.
    let (n, ()) = dispatches(|| {
        let b = &x * 2.0 + &y;
        let c1 = b.exp();
        let c2 = &b * 3.0;
        gpu_realize(&c1).unwrap();
        gpu_realize(&c2).unwrap();
        gpu_realize(&b).unwrap(); // already written by c1's kernel
    });
    assert_eq!(n, 2, "two consumers of one pending result");

    // Broadcast operands (row, column, scalar) and strided views of computed tensors fuse.
    let m = Tensor::ones(&[30, 40]).to(&dev);
    let row = Tensor::ones(&[40]).to(&dev);
    let col = Tensor::ones(&[30, 1]).to(&dev);
    let (n, _) = dispatches(|| ((&m + &row) * &col - m.t().t() * 0.5 + col.expand(&[30, 40])).to_vec::<f32>());
    assert_eq!(n, 1, "broadcasts and views in one kernel");

    // A matmul reads its pending operands after computing them: linear + bias + relu is the
    // matmul's dispatch plus one fused kernel for its pending operand and one for the epilogue.
    let w = Tensor::ones(&[40, 8]).to(&dev);
    let b = Tensor::ones(&[8]).to(&dev);
    let (mm, _) = dispatches(|| {
        let p = m.matmul(&w);
        gpu_realize(&p).unwrap();
    });
    let (n, _) = dispatches(|| ((&m * 2.0).matmul(&w) + &b).relu().to_vec::<f32>());
    assert_eq!(n, mm + 2, "pending operand, matmul, fused bias+relu");

    // The node cap splits a long chain into bounded kernels: 200 ops cost a few dispatches.
    let (n, _) = dispatches(|| {
        let mut z = x.clone();
        for _ in 0..200 {
            z = &z * 0.999;
        }
        z.to_vec::<f32>()
    });
    assert!((2..=8).contains(&n), "200 ops in {n} dispatches");

    // Integer chains fuse too; a cast is not fused (it computes its operand first).
    let i = Tensor::from_vec((0..100i64).collect::<Vec<_>>(), &[100]).to(&dev);
    let (n, _) = dispatches(|| ((&i * 3.0 - 7.0).abs().maximum(&i) + 1.0).to_vec::<i64>());
    assert_eq!(n, 1);
    let (n, _) = dispatches(|| ((&i * 3.0).to_dtype(DType::F32) * 0.5).to_vec::<f32>());
    assert_eq!(n, 3, "pending chain, cast, pending chain");
}
