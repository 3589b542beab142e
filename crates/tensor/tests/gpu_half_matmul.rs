//! The native 16-bit GPU matrix products with the adapter's defaults (on an adapter with
//! SHADER_F16, F16 runs on `array<f16>` storage): cases in `gpu_half_matmul_cases`.

#![cfg(feature = "gpu")]

mod gpu_half_matmul_cases;
mod gpu_util;

#[test]
fn half_products_match_the_cpu() {
    let Some(dev) = gpu_util::gpu() else { return };
    println!("F16 on f16 storage: {}", ember_tensor::wgpu::f16_storage(dev));
    gpu_half_matmul_cases::run_all(dev);
}
