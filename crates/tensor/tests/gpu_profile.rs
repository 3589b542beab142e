//! Kernel timing (`EMBER_GPU_PROFILE=1`): every dispatch is timed by GPU timestamps and summed per
//! kernel. One test per process, since the variable is read when the device is created.

mod gpu_util;

use ember_tensor::{gpu_kernel_times, reset_gpu_kernel_times, Tensor};

#[test]
fn profiled_dispatches_are_timed_per_kernel() {
    std::env::set_var("EMBER_GPU_PROFILE", "1");
    let Some(dev) = gpu_util::gpu() else { return };
    let a = Tensor::from_vec((0..64 * 48).map(|v| (v % 13) as f32 * 0.25).collect::<Vec<_>>(), &[64, 48]).to(&dev);
    let b = Tensor::from_vec((0..48 * 40).map(|v| (v % 7) as f32 - 3.0).collect::<Vec<_>>(), &[48, 40]).to(&dev);
    // More dispatches than one batch holds, so timestamps are collected over several submissions
    // (fusion off: each add is its own dispatch).
    let mut c = a.matmul(&b);
    ember_tensor::with_gpu_fusion(false, || {
        for _ in 0..40 {
            c = &c + &c;
        }
    });
    let want = a.to(&ember_tensor::Device::Cpu).matmul(&b.to(&ember_tensor::Device::Cpu)) * 2f64.powi(40);
    let (got, want) = (c.to_vec::<f32>(), want.to_vec::<f32>());
    assert!(got.iter().zip(&want).all(|(g, w)| (g - w).abs() <= 1e-5 * w.abs().max(1.0)), "results are unchanged");
    let times = gpu_kernel_times();
    if times.is_empty() {
        println!("skipping: the adapter has no timestamp queries");
        return;
    }
    let find = |name: &str| times.iter().find(|t| t.kernel.contains(name)).cloned();
    let mm = find("matmul").expect("the matmul dispatch is timed");
    assert_eq!(mm.calls, 1, "{times:?}");
    let add = find("binary").expect("the adds are timed");
    assert_eq!(add.calls, 40, "{times:?}");
    assert!(times.iter().all(|t| t.total_ms >= 0.0 && t.total_ms.is_finite()), "{times:?}");
    assert!(times.windows(2).all(|w| w[0].total_ms >= w[1].total_ms), "longest first: {times:?}");
    assert!(times.iter().map(|t| t.total_ms).sum::<f64>() > 0.0, "{times:?}");
    reset_gpu_kernel_times();
    assert!(gpu_kernel_times().is_empty());
}
