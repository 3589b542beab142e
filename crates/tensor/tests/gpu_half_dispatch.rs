//! Dispatch counts of 16-bit GPU tensors (`gpu_dispatch_count`): a conversion is one dispatch, an
//! op widens each 16-bit operand once and rounds its result once, except the matrix products (one
//! native kernel). One test in this binary, so no other test records dispatches while it counts.

#![cfg(feature = "gpu")]

mod gpu_util;

use ember_tensor::{gpu_dispatch_count, gpu_realize, DType, Tensor};

/// Dispatches recorded while `f` runs.
fn dispatches<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = gpu_dispatch_count();
    let r = f();
    (gpu_dispatch_count() - before, r)
}

#[test]
fn conversions_are_one_dispatch_and_ops_widen_once() {
    let Some(dev) = gpu_util::gpu() else { return };
    for dt in [DType::F16, DType::BF16] {
        let x = Tensor::arange(0.0, 1001.0, 1.0).to(&dev);
        gpu_realize(&x).unwrap();
        let (n, h) = dispatches(|| x.to_dtype(dt));
        assert_eq!(n, 1, "{dt}: F32 -> {dt}");
        let (n, w) = dispatches(|| h.to_dtype(DType::F32));
        assert_eq!(n, 1, "{dt}: {dt} -> F32");
        // the CPU's rounding (BF16 holds integers exactly only up to 256)
        let cpu = x.to(&ember_tensor::Device::Cpu).to_dtype(dt).to_dtype(DType::F32);
        assert_eq!(w.to_vec::<f32>(), cpu.to_vec::<f32>());
        let (n, _) = dispatches(|| h.narrow(0, 1, 999).contiguous());
        assert_eq!(n, 1, "{dt}: contiguous copy of a view");
        // widen, the (fused) op, round
        let (n, _) = dispatches(|| gpu_realize(&h.exp()).unwrap());
        assert_eq!(n, 3, "{dt}: exp");
        let g = h.narrow(0, 0, 1000).contiguous();
        let h2 = h.narrow(0, 1, 1000);
        let (n, _) = dispatches(|| gpu_realize(&(&g + &h2)).unwrap());
        assert_eq!(n, 4, "{dt}: add (both operands widened)");
        let (n, _) = dispatches(|| gpu_realize(&(&h * &h)).unwrap());
        assert_eq!(n, 3, "{dt}: a square widens its operand once");
        let (n, _) = dispatches(|| gpu_realize(&h.sum()).unwrap());
        assert!(n >= 3, "{dt}: sum");
        // uploads and fills of small tensors dispatch nothing
        let (n, _) = dispatches(|| Tensor::ones(&[7]).to_dtype(dt).to(&dev));
        assert_eq!(n, 0, "{dt}: upload");
        products_are_one_kernel(dev, dt);
    }
}

/// A 16-bit matmul or linear (bias included) is one dispatch of the native kernel (two where the
/// output has an odd number of columns and is packed words: the product in F32, then one
/// rounding), where widening took four (five with a bias): widen, widen, the F32 product, round.
fn products_are_one_kernel(dev: ember_tensor::Device, dt: DType) {
    let r = |shape: &[usize], s: f64| {
        let n: usize = shape.iter().product();
        let t = Tensor::arange(0.0, n as f64, 1.0).mul_scalar(s).sin().reshape(shape).to(&dev).to_dtype(dt);
        gpu_realize(&t).unwrap();
        t
    };
    let f16_storage = dt == DType::F16 && ember_tensor::wgpu::f16_storage(dev);
    for (n_cols, packed_words) in [(48, true), (47, false)] {
        let (a, b) = (r(&[64, 96], 0.1), r(&[96, n_cols], 0.2));
        let (widened, _) =
            dispatches(|| gpu_realize(&a.to_dtype(DType::F32).matmul(&b.to_dtype(DType::F32)).to_dtype(dt)).unwrap());
        assert_eq!(widened, 4, "{dt}: widen, widen, matmul, round");
        let want = if packed_words || f16_storage { 1 } else { 2 };
        let (n, c) = dispatches(|| {
            let c = a.matmul(&b);
            gpu_realize(&c).unwrap();
            c
        });
        assert_eq!(n, want, "{dt}: [64, 96] @ [96, {n_cols}] (f16 storage: {f16_storage})");
        assert!(n < widened);
        assert_eq!(c.dtype(), dt);
        let (w, bias) = (r(&[n_cols, 96], 0.3), r(&[n_cols], 0.4));
        let (n, _) = dispatches(|| gpu_realize(&a.linear(&w, Some(&bias))).unwrap());
        assert_eq!(n, want, "{dt}: linear with bias, {n_cols} outputs");
    }
}
