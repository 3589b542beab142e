//! Autograd on GPU tensors with lazy elementwise fusion: the forward `relu(x @ W + b)` and the
//! elementwise chains of the backward rules fuse without any change to the rules, and the values
//! and gradients equal those computed with fusion off and on the CPU.

use ember_autograd::Variable;
use ember_tensor::{gpu_dispatch_count, with_gpu_fusion, Device, Tensor};
use ember_testutil::assert_allclose;

fn gpu() -> Option<Device> {
    match Device::gpu() {
        Ok(d) => Some(d),
        Err(e) => {
            assert!(std::env::var("EMBER_REQUIRE_GPU").map_or(true, |v| v != "1"), "no GPU: {e}");
            println!("skipping GPU test: {e}");
            None
        }
    }
}

/// Loss and gradients of a small two-layer network with elementwise tails, on `dev`.
fn step(dev: &Device, data: &[Tensor; 5]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let [x, w1, b1, w2, t] = data.clone().map(|d| d.to(dev));
    let (w1, b1, w2) = (Variable::new(w1, true), Variable::new(b1, true), Variable::new(w2, true));
    let h = (Variable::from(x).matmul(&w1) + &b1).relu();
    let y = (h.matmul(&w2).tanh() * 2.0 + 0.5).sigmoid();
    let d = &y - &Variable::from(t);
    let loss = (&d * &d).mean();
    loss.backward();
    let grads = [&w1, &b1, &w2].map(|v| v.grad().expect("a gradient").to_vec::<f64>()).to_vec();
    (loss.data().to_vec::<f64>(), grads)
}

#[test]
fn gradients_match_unfused_and_cpu() {
    let Some(dev) = gpu() else { return };
    let r = |n: usize, k: u64| (0..n).map(|i| ((i as u64 * 7919 + k * 104729) % 1000) as f32 / 500.0 - 1.0).collect();
    let data = [
        Tensor::from_vec(r(37 * 29, 1), &[37, 29]),
        Tensor::from_vec(r(29 * 64, 2), &[29, 64]),
        Tensor::from_vec(r(64, 3), &[64]),
        Tensor::from_vec(r(64 * 7, 4), &[64, 7]),
        Tensor::from_vec(r(37 * 7, 5), &[37, 7]),
    ];
    let cpu = step(&Device::Cpu, &data);
    let before = gpu_dispatch_count();
    let fused = step(&dev, &data);
    let n_fused = gpu_dispatch_count() - before;
    let before = gpu_dispatch_count();
    let unfused = with_gpu_fusion(false, || step(&dev, &data));
    let n_unfused = gpu_dispatch_count() - before;
    for (what, got) in [("fused", &fused), ("unfused", &unfused)] {
        assert_allclose(&format!("{what}: loss"), &got.0, &cpu.0, 1e-5, 1e-5);
        for (k, (g, c)) in got.1.iter().zip(&cpu.1).enumerate() {
            assert_allclose(&format!("{what}: gradient {k}"), g, c, 1e-4, 1e-5);
        }
    }
    // Other tests of this binary may dispatch meanwhile, so only the direction is asserted here
    // (exact counts: ember-tensor's gpu_fusion_dispatch test and the bench example).
    println!("dispatches: fused {n_fused}, unfused {n_unfused}");
    assert!(n_fused < n_unfused, "fusion saves dispatches: {n_fused} vs {n_unfused}");
}
