//! The native 16-bit GPU matrix products on the 128 x 128 tiling (`EMBER_MATMUL_TILE=128`, set
//! before the first GPU use: one test in this binary).

mod gpu_half_matmul_cases;
mod gpu_util;

#[test]
fn half_products_on_the_big_tiling_match_the_cpu() {
    std::env::set_var("EMBER_MATMUL_TILE", "128");
    let Some(dev) = gpu_util::gpu() else { return };
    gpu_half_matmul_cases::run_all(dev);
}
