//! The native 16-bit GPU matrix products with SHADER_F16 left off (`EMBER_NO_SHADER_F16=1`, set
//! before the first GPU use: one test in this binary): F16 as packed words, as BF16.

#![cfg(feature = "gpu")]

mod gpu_half_matmul_cases;
mod gpu_util;

#[test]
fn packed_half_products_match_the_cpu() {
    std::env::set_var("EMBER_NO_SHADER_F16", "1");
    let Some(dev) = gpu_util::gpu() else { return };
    assert!(!ember_tensor::wgpu::f16_storage(dev), "EMBER_NO_SHADER_F16=1 must leave SHADER_F16 off");
    gpu_half_matmul_cases::run_all(dev);
}
