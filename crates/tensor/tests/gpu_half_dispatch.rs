//! Dispatch counts of 16-bit GPU tensors (`gpu_dispatch_count`): a conversion is one dispatch, an
//! op widens each 16-bit operand once and rounds its result once. One test in this binary, so no
//! other test records dispatches while it counts.

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
    }
}
